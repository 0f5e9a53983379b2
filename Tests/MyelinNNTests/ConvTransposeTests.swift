import Foundation
import Testing
import Myelin

/// The PyTorch reference values written by scripts/fixtures_conv4.py and its case list.
enum Conv4Fixtures {
    typealias Case = CaseFixtures.Case
    static let file = CaseFixtures(file: "conv4.safetensors", script: "fixtures_conv4.py", flags: ["bias", "align_corners"])
    static func tensor(_ name: String) -> Tensor { file.tensor(name) }
    static func has(_ name: String) -> Bool { file.has(name) }
    static func named(_ name: String) -> Case { file.named(name) }
    static func names(op: String) -> [String] { file.names(op: op) }
}

private func data(_ shape: [Int], seed: UInt64) -> Tensor {
    Tensor.uniform(shape, low: -1, high: 1, dtype: .float64, generator: RandomGenerator(seed: seed))
}

@Suite struct ConvTransposeTests {
    static let cases = Conv4Fixtures.names(op: "convTranspose2d")

    @Test func fixturesCoverTheRequiredConfigurations() {
        for required in ["ct_stride2", "ct_stride2_pad1_outpad1", "ct_groups2", "ct_dilation2", "ct_dilation2_outpad1", "ct_all"] {
            #expect(Self.cases.contains(required), "missing fixture case \(required)")
        }
    }

    @Test(arguments: cases, [DType.float64, .float32])
    func convTranspose2dMatchesPyTorch(_ name: String, _ dtype: DType) {
        let c = Conv4Fixtures.named(name)
        let x = Conv4Fixtures.tensor("\(name).input").to(dtype).requiringGrad()
        let w = Conv4Fixtures.tensor("\(name).weight").to(dtype).requiringGrad()
        let b = Conv4Fixtures.has("\(name).bias") ? Conv4Fixtures.tensor("\(name).bias").to(dtype).requiringGrad() : nil
        let y = convTranspose2d(x, weight: w, bias: b, stride: c.pair("stride"), padding: c.pair("padding"),
                                outputPadding: c.pair("output_padding"), groups: Int(c.number("groups")),
                                dilation: c.pair("dilation"))
        #expect(y.dtype == dtype)
        y.backward(gradient: Conv4Fixtures.tensor("\(name).grad_output").to(dtype))
        let (rtol, atol) = dtype == .float64 ? (1e-11, 1e-11) : (2e-5, 2e-5)
        let what = "\(name) (\(dtype))"
        expectClose(y, Conv4Fixtures.tensor("\(name).output"), rtol: rtol, atol: atol, "\(what) output")
        expectClose(x.grad, Conv4Fixtures.tensor("\(name).grad_input"), rtol: rtol, atol: atol, "\(what) grad input")
        expectClose(w.grad, Conv4Fixtures.tensor("\(name).grad_weight"), rtol: rtol, atol: atol * 10, "\(what) grad weight")
        if let b {
            expectClose(b.grad, Conv4Fixtures.tensor("\(name).grad_bias"), rtol: rtol, atol: atol * 10, "\(what) grad bias")
        }
    }

    @Test func layerLoadsPyTorchStateAndMatches() throws {
        let layer = ConvTranspose2D(4, 6, 3, stride: 2, padding: 1, outputPadding: 1, groups: 2)
        #expect(Set(layer.namedParameters().map(\.0)) == ["weight", "bias"])
        try layer.loadStateDict(["weight": Conv4Fixtures.tensor("layer_ct.state.weight"),
                                 "bias": Conv4Fixtures.tensor("layer_ct.state.bias")])
        let x = Conv4Fixtures.tensor("layer_ct.input").requiringGrad()
        let y = layer(x)
        #expect(y.shape == [2, 6, 6, 6])
        (y * Conv4Fixtures.tensor("layer_ct.r")).sum().backward()
        expectClose(y, Conv4Fixtures.tensor("layer_ct.output"), rtol: 1e-5, atol: 1e-6, "layer output")
        expectClose(x.grad, Conv4Fixtures.tensor("layer_ct.grad_input"), rtol: 1e-5, atol: 1e-6, "layer grad input")
        expectClose(layer.weight.grad ?? Tensor.zeros([0]), Conv4Fixtures.tensor("layer_ct.grad.weight"), rtol: 1e-5, atol: 1e-5, "layer grad weight")
        expectClose(layer.bias?.value.grad ?? Tensor.zeros([0]), Conv4Fixtures.tensor("layer_ct.grad.bias"), rtol: 1e-5, atol: 1e-5, "layer grad bias")
    }

    @Test func defaultInitialisationFollowsPyTorch() {
        // fanIn = outChannels/groups · kh · kw = 3 · 2 · 2 = 12 for the [4, 3, 2, 2] weight.
        let layer = ConvTranspose2D(4, 6, 2, groups: 2, generator: RandomGenerator(seed: 3))
        #expect(layer.weight.shape == [4, 3, 2, 2])
        #expect(layer.bias?.value.shape == [6])
        let bound = 1 / 12.0.squareRoot()
        let w = layer.weight.scalars(as: Double.self) + (layer.bias?.value.scalars(as: Double.self) ?? [])
        #expect(w.allSatisfy { abs($0) <= bound })
        #expect(w.contains { abs($0) > bound / 2 }, "values should spread over ±\(bound)")
        #expect(ConvTranspose2D(2, 2, 3, bias: false).bias == nil)
    }

    struct GradCase: CustomTestStringConvertible, Sendable {
        var n = 2, cin = 2, h = 3, w = 3, cout = 3, k = IntPair(3)
        var stride: IntPair = 1, padding: IntPair = 0, outputPadding: IntPair = 0, groups = 1, dilation: IntPair = 1, bias = true
        let label: String
        var testDescription: String { label }
    }

    static let gradCases: [GradCase] = [
        GradCase(label: "3×3 plain"),
        GradCase(stride: 2, padding: 1, outputPadding: 1, label: "stride 2, padding 1, output padding 1"),
        GradCase(cin: 4, cout: 2, stride: 2, groups: 2, label: "groups 2"),
        GradCase(dilation: 2, bias: false, label: "dilation 2, no bias"),
        GradCase(h: 2, w: 3, k: [2, 3], stride: [2, 1], padding: [0, 1], outputPadding: [1, 0], label: "rectangular"),
        GradCase(cin: 3, cout: 2, k: 1, label: "1×1"),
        GradCase(n: 1, h: 2, w: 2, k: 1, outputPadding: 1, dilation: 2, label: "1×1, dilation 2, output padding 1"),
    ]

    @Test(arguments: gradCases)
    func convTranspose2dGradients(_ t: GradCase) {
        var inputs = [data([t.n, t.cin, t.h, t.w], seed: 1), data([t.cin, t.cout / t.groups, t.k.height, t.k.width], seed: 2)]
        if t.bias { inputs.append(data([t.cout], seed: 3)) }
        expectGradients(inputs, t.label) { v in
            convTranspose2d(v[0], weight: v[1], bias: v.count > 2 ? v[2] : nil, stride: t.stride, padding: t.padding,
                            outputPadding: t.outputPadding, groups: t.groups, dilation: t.dilation)
        }
    }

    @Test func isTheAdjointOfConv2d() {
        // ⟨convT(x), y⟩ = ⟨x, conv2d(y)⟩ for the same weight and arguments.
        let w = data([4, 3, 3, 3], seed: 7)  // conv2d: 4 ← 3·2 channels with groups 2; convT: 4 → 6
        let x = data([2, 4, 4, 4], seed: 8)
        let y = data([2, 6, 8, 8], seed: 9)
        let t = convTranspose2d(x, weight: w, stride: 2, padding: 1, outputPadding: 1, groups: 2)
        #expect(t.shape == [2, 6, 8, 8])
        let c = conv2d(y, weight: w, stride: 2, padding: 1, groups: 2)
        #expect(c.shape == x.shape)
        let lhs = (t * y).sum().itemDouble(), rhs = (x * c).sum().itemDouble()
        #expect(abs(lhs - rhs) < 1e-10 * Swift.max(1, abs(lhs)))
    }

    @Test func batchSpreadOverCoresMatchesImageByImage() {
        // Large enough for several workers (each with its own partial weight gradient).
        let x = data([4, 8, 8, 8], seed: 11), w = data([8, 4, 3, 3], seed: 12), b = data([8], seed: 13)
        let gy = data([4, 8, 16, 16], seed: 14)
        func run(_ x: Tensor, _ gy: Tensor) -> (Tensor, Tensor, Tensor, Tensor) {
            let (xv, wv, bv) = (x.requiringGrad(), w.requiringGrad(), b.requiringGrad())
            let y = convTranspose2d(xv, weight: wv, bias: bv, stride: 2, padding: 1, outputPadding: 1, groups: 2)
            y.backward(gradient: gy)
            return (y, xv.grad ?? Tensor.zeros([0]), wv.grad ?? Tensor.zeros([0]), bv.grad ?? Tensor.zeros([0]))
        }
        let (y, dx, dw, db) = run(x, gy)
        var dwSum = Tensor.zeros(w.shape, dtype: .float64), dbSum = Tensor.zeros([8], dtype: .float64)
        for n in 0..<4 {
            let (yn, dxn, dwn, dbn) = run(x[n..<(n + 1)], gy[n..<(n + 1)])
            expectClose(y[n..<(n + 1)], yn, rtol: 1e-12, atol: 1e-12, "image \(n) output")
            expectClose(dx[n..<(n + 1)], dxn, rtol: 1e-12, atol: 1e-12, "image \(n) grad input")
            dwSum = dwSum + dwn
            dbSum = dbSum + dbn
        }
        expectClose(dw, dwSum, rtol: 1e-12, atol: 1e-11, "grad weight")
        expectClose(db, dbSum, rtol: 1e-12, atol: 1e-11, "grad bias")
    }

    @Test func outputShapes() {
        let x = Tensor.zeros([2, 8, 5, 7])
        #expect(ConvTranspose2D(8, 4, 2, stride: 2)(x).shape == [2, 4, 10, 14])
        #expect(ConvTranspose2D(8, 4, 3, stride: 2, padding: 1)(x).shape == [2, 4, 9, 13])
        #expect(ConvTranspose2D(8, 4, 3, stride: 2, padding: 1, outputPadding: 1)(x).shape == [2, 4, 10, 14])
        #expect(ConvTranspose2D(8, 4, 3, dilation: 2)(x).shape == [2, 4, 9, 11])
        #expect(ConvTranspose2D(8, 4, [1, 3], stride: [1, 2])(x[0]).shape == [4, 5, 15])
        #expect(ConvTranspose2D(8, 4, 3).outputSize(height: 5, width: 7) == IntPair(7, 9))
        #expect(ConvTranspose2D(8, 4, 3, stride: 2, padding: 1, outputPadding: 1, groups: 2).layerDescription
                == "ConvTranspose2D(8 → 4, 3×3, stride 2, padding 1, output padding 1, groups 2)")
    }

    @Test func wrongChannelsStopNamingLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ConvTranspose2D(4, 2, 3, stride: 2)(Tensor.zeros([1, 3, 5, 5]))
        }
        let err = stopMessage(result)
        #expect(err.contains("ConvTranspose2D(4 → 2, 3×3, stride 2): input has 3 channels, expected 4 (input shape [1, 3, 5, 5])"), "stderr: \(err)")
    }

    @Test func outputPaddingTooLargeStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ConvTranspose2D(4, 2, 3, stride: 2, outputPadding: 2)
        }
        let err = stopMessage(result)
        #expect(err.contains("ConvTranspose2D(4 → 2, 3×3): output padding 2 must be non-negative and smaller than either the stride 2 or the dilation 1"), "stderr: \(err)")
    }

    @Test func functionalMisuseStopsNamingOpAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = convTranspose2d(Tensor.zeros([1, 4, 5, 5]), weight: Tensor.zeros([3, 2, 3, 3]))
        }
        let err = stopMessage(result)
        #expect(err.contains("convTranspose2d: input [1, 4, 5, 5] has 4 channels but weight [3, 2, 3, 3] expects 3"), "stderr: \(err)")
    }
}
