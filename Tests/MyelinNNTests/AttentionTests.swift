import Foundation
import Testing
import Myelin

/// The fused scaled dot-product attention and MultiHeadAttention: agreement with the same
/// computation written with plain ops, gradient checks (float64), and parity with PyTorch's
/// nn.MultiheadAttention (scripts/fixtures_attention.py).
@Suite struct AttentionTests {
    static let file = CaseFixtures(file: "attention.safetensors", script: "fixtures_attention.py", flags: [])

    static func randn(_ shape: [Int], seed: UInt64, dtype: DType = .float64) -> Tensor {
        Tensor.normal(shape, dtype: dtype, generator: RandomGenerator(seed: seed))
    }

    /// softmax(scale·Q·Kᵀ + additive mask)·V with plain ops; `mask` is additive (−inf excludes).
    static func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil) -> Tensor {
        var s = matmul(q, k, transposeB: true) * (1 / Double(q.shape.last ?? 1).squareRoot())
        if let mask { s = s + mask }
        return matmul(s.softmax(axis: -1), v)
    }

    static func additive(_ bool: Tensor) -> Tensor { select(bool, -Double.infinity, Tensor.zeros(bool.shape, dtype: .float64)) }

    static let boolMask = Tensor([false, true, false, false, false, false, true, false, false, false, true, true,
                                  false, false, false, true, false, false, false, false] as [Bool], shape: [4, 5])
    static let padding = Tensor([false, false, false, true, true, false, false, false, false, true] as [Bool], shape: [2, 5])
    static let causal: Tensor = {
        var m = [Bool]()
        for i in 0..<4 { for j in 0..<5 { m.append(j > i) } }
        return Tensor(m, shape: [4, 5])
    }()

    // MARK: Forward against plain ops

    @Test func matchesPlainOpsWithEveryMaskKind() {
        let q = Self.randn([2, 3, 4, 6], seed: 1), k = Self.randn([2, 3, 5, 6], seed: 2), v = Self.randn([2, 3, 5, 7], seed: 3)
        let floatMask = Self.randn([4, 5], seed: 4)
        expectClose(scaledDotProductAttention(query: q, key: k, value: v), Self.reference(q, k, v), rtol: 1e-10, atol: 1e-12, "no mask")
        expectClose(scaledDotProductAttention(query: q, key: k, value: v, attentionMask: Self.boolMask),
                    Self.reference(q, k, v, mask: Self.additive(Self.boolMask)), rtol: 1e-10, atol: 1e-12, "boolean mask")
        expectClose(scaledDotProductAttention(query: q, key: k, value: v, attentionMask: floatMask),
                    Self.reference(q, k, v, mask: floatMask), rtol: 1e-10, atol: 1e-12, "float mask")
        expectClose(scaledDotProductAttention(query: q, key: k, value: v, keyPaddingMask: Self.padding),
                    Self.reference(q, k, v, mask: Self.additive(Self.padding).reshaped([2, 1, 1, 5])), rtol: 1e-10, atol: 1e-12, "padding")
        expectClose(scaledDotProductAttention(query: q, key: k, value: v, isCausal: true),
                    Self.reference(q, k, v, mask: Self.additive(Self.causal)), rtol: 1e-10, atol: 1e-12, "causal")
        // A per-(batch, head) mask, and every mask at once.
        let full = Self.randn([2, 3, 4, 5], seed: 5)
        let all = full + Self.additive(Self.padding).reshaped([2, 1, 1, 5]) + Self.additive(Self.causal)
        expectClose(scaledDotProductAttention(query: q, key: k, value: v, attentionMask: full, keyPaddingMask: Self.padding, isCausal: true),
                    Self.reference(q, k, v, mask: all), rtol: 1e-10, atol: 1e-12, "combined")
        // Float32 agrees too.
        expectClose(scaledDotProductAttention(query: q.to(.float32), key: k.to(.float32), value: v.to(.float32), keyPaddingMask: Self.padding),
                    Self.reference(q, k, v, mask: Self.additive(Self.padding).reshaped([2, 1, 1, 5])), rtol: 1e-4, atol: 1e-5, "float32")
    }

    @Test func rankThreeInputsAreOneHead() {
        let q = Self.randn([2, 4, 6], seed: 6), k = Self.randn([2, 5, 6], seed: 7), v = Self.randn([2, 5, 3], seed: 8)
        let y = scaledDotProductAttention(query: q, key: k, value: v, keyPaddingMask: Self.padding, scale: 0.3)
        var s = matmul(q, k, transposeB: true) * 0.3 + Self.additive(Self.padding).reshaped([2, 1, 5])
        s = s.softmax(axis: -1)
        expectClose(y, matmul(s, v), rtol: 1e-10, atol: 1e-12, "rank 3 with a custom scale")
        // A per-batch [B, Lq, Lk] mask.
        let m = Self.randn([2, 4, 5], seed: 15)
        let z = scaledDotProductAttention(query: q, key: k, value: v, attentionMask: m)
        expectClose(z, matmul((matmul(q, k, transposeB: true) * (1 / 6.0.squareRoot()) + m).softmax(axis: -1), v),
                    rtol: 1e-10, atol: 1e-12, "rank 3 with a [B, Lq, Lk] mask")
    }

    @Test func packedHeadsMatchSplitHeads() {
        // [B, L, H·d] in, [B, L, H·dv] out: the same as splitting, attending and merging.
        let q = Self.randn([2, 4, 6], seed: 16), k = Self.randn([2, 5, 6], seed: 17), v = Self.randn([2, 5, 8], seed: 18)
        func split(_ t: Tensor) -> Tensor { t.reshaped([2, t.shape[1], 2, t.shape[2] / 2]).permuted([0, 2, 1, 3]) }
        let expected = scaledDotProductAttention(query: split(q), key: split(k), value: split(v), keyPaddingMask: Self.padding, isCausal: true)
            .permuted([0, 2, 1, 3]).reshaped([2, 4, 8])
        let y = scaledDotProductAttention(query: q, key: k, value: v, heads: 2, keyPaddingMask: Self.padding, isCausal: true)
        expectClose(y, expected, rtol: 1e-10, atol: 1e-12, "packed heads")
        let r = checkGradients([q, k, v]) { x in
            scaledDotProductAttention(query: x[0], key: x[1], value: x[2], heads: 2, attentionMask: Self.boolMask, keyPaddingMask: Self.padding)
        }
        #expect(r.passed, "\(r)")
    }

    @Test func fullyMaskedRowsGiveZerosNotNaN() {
        let q = Self.randn([1, 1, 2, 3], seed: 9), k = Self.randn([1, 1, 3, 3], seed: 10), v = Self.randn([1, 1, 3, 2], seed: 11)
        let mask = Tensor([true, true, true, false, true, false] as [Bool], shape: [2, 3])
        let x = q.requiringGrad()
        let y = scaledDotProductAttention(query: x, key: k, value: v, attentionMask: mask)
        let values = y.scalars(as: Double.self)
        #expect(values[0] == 0 && values[1] == 0, "the fully masked row is zero, got \(values)")
        #expect(values.allSatisfy { $0.isFinite })
        y.sum().backward()
        #expect(x.grad?.scalars(as: Double.self).allSatisfy { $0.isFinite } == true)
    }

    @Test func dropoutOnlyInTrainingAndDeterministicBySeed() {
        let q = Self.randn([2, 2, 4, 4], seed: 12), k = Self.randn([2, 2, 5, 4], seed: 13), v = Self.randn([2, 2, 5, 4], seed: 14)
        let a = scaledDotProductAttention(query: q, key: k, value: v, dropout: 0.5, generator: RandomGenerator(seed: 3))
        let b = scaledDotProductAttention(query: q, key: k, value: v, dropout: 0.5, generator: RandomGenerator(seed: 3))
        expectClose(a, b, rtol: 0, atol: 0, "same seed, same dropout")
        let plain = scaledDotProductAttention(query: q, key: k, value: v)
        let diff = (a - plain).abs().max().itemDouble()
        #expect(diff > 1e-3, "dropout changed the output")
    }

    // MARK: Gradient checks (float64)

    @Test(arguments: ["none", "bool", "float", "padding", "causal", "all", "dropout"])
    func gradientCheck(_ kind: String) {
        let q = Self.randn([2, 2, 4, 3], seed: 20), k = Self.randn([2, 2, 5, 3], seed: 21), v = Self.randn([2, 2, 5, 2], seed: 22)
        let floatMask = Self.randn([2, 1, 4, 5], seed: 23)
        let r = checkGradients([q, k, v]) { x in
            switch kind {
            case "bool": scaledDotProductAttention(query: x[0], key: x[1], value: x[2], attentionMask: Self.boolMask)
            case "float": scaledDotProductAttention(query: x[0], key: x[1], value: x[2], attentionMask: floatMask)
            case "padding": scaledDotProductAttention(query: x[0], key: x[1], value: x[2], keyPaddingMask: Self.padding)
            case "causal": scaledDotProductAttention(query: x[0], key: x[1], value: x[2], isCausal: true)
            case "all": scaledDotProductAttention(query: x[0], key: x[1], value: x[2], attentionMask: floatMask,
                                                  keyPaddingMask: Self.padding, isCausal: true)
            // A fresh generator with the same seed each call: the same dropout mask every time.
            case "dropout": scaledDotProductAttention(query: x[0], key: x[1], value: x[2], dropout: 0.3, generator: RandomGenerator(seed: 5))
            default: scaledDotProductAttention(query: x[0], key: x[1], value: x[2])
            }
        }
        #expect(r.passed, "\(kind): \(r)")
    }

    @Test func gradientCheckOfSharedInputs() {
        // Self-attention on one tensor: the node's one input receives all three gradients.
        let x = Self.randn([2, 1, 4, 3], seed: 24)
        let r = checkGradients([x]) { t in scaledDotProductAttention(query: t[0], key: t[0], value: t[0], isCausal: true) }
        #expect(r.passed, "\(r)")
    }

    @Test func gradientCheckOfMultiHeadAttention() {
        for (kdim, batchFirst) in [(nil, true), (5, false)] as [(Int?, Bool)] {
            let mha = MultiHeadAttention(embedDim: 6, heads: 2, keyDim: kdim, valueDim: kdim, batchFirst: batchFirst,
                                         generator: RandomGenerator(seed: 1))
            // Float32 parameters promote exactly to float64, so the check runs in float64; the parameter
            // gradients are checked against PyTorch's (a Parameter's value is always a fresh leaf).
            let kd = kdim ?? 6
            let x = Self.randn(batchFirst ? [2, 4, 6] : [4, 2, 6], seed: 31)
            let kv = Self.randn(batchFirst ? [2, 5, kd] : [5, 2, kd], seed: 32)
            let r = checkGradients([x, kv]) { t in
                let key = kdim == nil ? t[0] : t[1]
                let seqLen = kdim == nil ? 4 : 5
                let pad = Tensor((0..<(2 * seqLen)).map { $0 == seqLen + 1 }, shape: [2, seqLen])
                return mha(t[0], key, key, keyPaddingMask: pad, needWeights: false).output
            }
            #expect(r.passed, "kdim \(String(describing: kdim)): \(r)")
        }
    }

    // MARK: Parity with PyTorch's nn.MultiheadAttention

    @Test func packedSelfAttentionMatchesPyTorch() throws {
        let mha = MultiHeadAttention(embedDim: 8, heads: 2)
        try checkAttentionParity(Self.file, "mha_self", mha, inputs: ["x"], weights: true) { t in
            let r = mha(t["x"]!, t["x"]!, t["x"]!, keyPaddingMask: t["kpm"], attentionMask: t["mask"], needWeights: true)
            return (r.output, r.weights)
        }
    }

    @Test func packedCrossAttentionSequenceFirstMatchesPyTorch() throws {
        let mha = MultiHeadAttention(embedDim: 8, heads: 2, batchFirst: false)
        try checkAttentionParity(Self.file, "mha_cross_seqfirst", mha, inputs: ["q", "k", "v"], weights: true) { t in
            let r = mha(t["q"]!, t["k"]!, t["v"]!, keyPaddingMask: t["kpm"], attentionMask: t["mask"], averageWeights: false)
            return (r.output, r.weights)
        }
    }

    @Test func separateProjectionsMatchPyTorch() throws {
        let mha = MultiHeadAttention(embedDim: 8, heads: 4, keyDim: 5, valueDim: 7)
        #expect(Set(mha.stateDict().keys) == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        try checkAttentionParity(Self.file, "mha_kdim", mha, inputs: ["q", "k", "v"], weights: false) { t in
            let r = mha(t["q"]!, t["k"]!, t["v"]!, keyPaddingMask: t["kpm"], attentionMask: t["mask"], needWeights: false)
            #expect(r.weights == nil)
            return (r.output, nil)
        }
    }

    @Test func initialisationAsPyTorch() {
        let mha = MultiHeadAttention(embedDim: 16, heads: 4)
        #expect(Set(mha.stateDict().keys) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        #expect(mha.parameterCount == 3 * 16 * 16 + 3 * 16 + 16 * 16 + 16)
        let w = mha.inProjWeight?.value.scalars(as: Double.self) ?? []
        let bound = (6.0 / Double(16 + 48)).squareRoot()  // Xavier-uniform over [3E, E]
        #expect(w.allSatisfy { abs($0) <= bound } && (w.map { abs($0) }.max() ?? 0) > 0.8 * bound)
        #expect(mha.inProjBias?.value.scalars(as: Double.self).allSatisfy { $0 == 0 } == true)
        #expect(mha.outProj.bias?.value.scalars(as: Double.self).allSatisfy { $0 == 0 } == true)
    }

    // MARK: Errors

    @Test func errorsNameTheShapes() async {
        let heads = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = MultiHeadAttention(embedDim: 10, heads: 3)
        }
        let mask = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let q = Tensor.zeros([2, 2, 4, 3]), k = Tensor.zeros([2, 2, 5, 3])
            _ = scaledDotProductAttention(query: q, key: k, value: k, attentionMask: Tensor.zeros([4, 4]))
        }
        let padding = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let q = Tensor.zeros([2, 2, 4, 3]), k = Tensor.zeros([2, 2, 5, 3])
            _ = scaledDotProductAttention(query: q, key: k, value: k, keyPaddingMask: Tensor.zeros([2, 4]))
        }
        let mhaMask = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor.zeros([2, 4, 6])
            _ = MultiHeadAttention(embedDim: 6, heads: 2)(x, x, x, attentionMask: Tensor.zeros([4, 5]))
        }
        let width = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor.zeros([2, 4, 6])
            _ = MultiHeadAttention(embedDim: 6, heads: 2)(Tensor.zeros([2, 4, 5]), x, x)
        }
        for (result, needles) in [(heads, ["embedDim 10", "divisible by heads 3"]), (mask, ["[4, 4]", "[2, 2, 4, 5]"]),
                                  (padding, ["[2, 4]", "[2, 5]"]), (mhaMask, ["[4, 5]", "[4, 4]"]), (width, ["[2, 4, 5]", "6 features"])] {
            let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
            for needle in needles { #expect(text.contains(needle), "\(needle) missing from: \(text)") }
        }
    }
}

/// Loads PyTorch's state into `module`, runs `run` on the case's inputs (those in `inputs` require
/// gradients; masks do not), backpropagates sum(out·r), and compares the output, the weights, and
/// the input and parameter gradients with PyTorch's.
func checkAttentionParity(_ f: CaseFixtures, _ name: String, _ module: Module, inputs: [String], weights: Bool,
                          rtol: Double = 1e-4, atol: Double = 1e-5, sourceLocation: SourceLocation = #_sourceLocation,
                          _ run: ([String: Tensor]) -> (Tensor, Tensor?)) throws {
    try module.loadStateDict(f.tensorsGroup("\(name).state."))
    var t: [String: Tensor] = [:]
    for key in ["x", "q", "k", "v", "tgt", "memory", "kpm", "mkpm", "mask"] where f.has("\(name).\(key)") {
        t[key] = inputs.contains(key) ? f.tensor("\(name).\(key)").requiringGrad() : f.tensor("\(name).\(key)")
    }
    let (y, w) = run(t)
    (y * f.tensor("\(name).r")).sum().backward()
    expectClose(y, f.tensor("\(name).out"), rtol: rtol, atol: atol, "\(name) output", sourceLocation: sourceLocation)
    if weights { expectClose(w, f.tensor("\(name).weights"), rtol: rtol, atol: atol, "\(name) weights", sourceLocation: sourceLocation) }
    for key in inputs {
        expectClose(t[key]?.grad, f.tensor("\(name).grad.\(key)"), rtol: rtol, atol: atol, "\(name) gradient of \(key)", sourceLocation: sourceLocation)
    }
    let params = module.namedParameters()
    #expect(params.count == f.tensorsGroup("\(name).grad.").count - inputs.count, "\(name): parameter count", sourceLocation: sourceLocation)
    for (k, p) in params {
        expectClose(p.grad, f.tensor("\(name).grad.\(k)"), rtol: rtol, atol: atol, "\(name) gradient of \(k)", sourceLocation: sourceLocation)
    }
}
