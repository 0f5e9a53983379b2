import Foundation
import Testing
import Myelin

/// RNN/LSTM/GRU cells and layers: gradient checks of the fused step kernels (float64) and
/// parity with PyTorch (scripts/fixtures_rnn.py), forward and backward.
@Suite struct RecurrentTests {
    static let file = CaseFixtures(file: "rnn.safetensors", script: "fixtures_rnn.py",
                                   flags: ["bidirectional", "batch_first", "bias", "has_state", "packed"])

    static func mode(_ s: String) -> RecurrentMode {
        switch s {
        case "rnn_tanh": .rnnTanh
        case "rnn_relu": .rnnReLU
        case "lstm": .lstm
        default: .gru
        }
    }

    // MARK: Parity with PyTorch

    @Test(arguments: ["rnncell_tanh", "rnncell_relu", "lstmcell", "grucell"])
    func cellMatchesPyTorch(_ name: String) throws {
        let f = Self.file, c = f.named(name)
        let x = f.tensor("\(name).x").requiringGrad(), h0 = f.tensor("\(name).h0").requiringGrad()
        let cell: RecurrentCellBase
        var grads: [(String, Tensor?)] = []
        switch Self.mode(c.strings["mode"] ?? "") {
        case .lstm:
            let lstm = LSTMCell(inputSize: 3, hiddenSize: 4)
            try lstm.loadStateDict(f.tensorsGroup("\(name).state."))
            let c0 = f.tensor("\(name).c0").requiringGrad()
            let (h, cc) = lstm(x, (h0, c0))
            ((h * f.tensor("\(name).r")).sum() + (cc * f.tensor("\(name).s")).sum()).backward()
            expectClose(h, f.tensor("\(name).h"), rtol: 1e-4, atol: 1e-5, "\(name) h")
            expectClose(cc, f.tensor("\(name).c"), rtol: 1e-4, atol: 1e-5, "\(name) c")
            grads.append(("c0", c0.grad))
            cell = lstm
        case .gru:
            let gru = GRUCell(inputSize: 3, hiddenSize: 4)
            try gru.loadStateDict(f.tensorsGroup("\(name).state."))
            let h = gru(x, h0)
            (h * f.tensor("\(name).r")).sum().backward()
            expectClose(h, f.tensor("\(name).h"), rtol: 1e-4, atol: 1e-5, "\(name) h")
            cell = gru
        case let m:
            let rnn = RNNCell(inputSize: 3, hiddenSize: 4, nonlinearity: m == .rnnTanh ? .tanh : .relu)
            try rnn.loadStateDict(f.tensorsGroup("\(name).state."))
            let h = rnn(x, h0)
            (h * f.tensor("\(name).r")).sum().backward()
            expectClose(h, f.tensor("\(name).h"), rtol: 1e-4, atol: 1e-5, "\(name) h")
            cell = rnn
        }
        grads += [("x", x.grad), ("h0", h0.grad)]
        grads += cell.namedParameters().map { ($0.0, $0.1.grad) }
        for (k, g) in grads { expectClose(g, f.tensor("\(name).grad.\(k)"), rtol: 1e-4, atol: 1e-5, "\(name) gradient of \(k)") }
    }

    static let layerCases = ["rnn_tanh", "rnn_relu_2layer_bi_state", "rnn_tanh_bi_packed", "lstm", "lstm_2layer_bi_batchfirst_state",
                             "lstm_2layer_bi_packed_state", "lstm_nobias", "gru", "gru_2layer_bi_batchfirst_packed"]

    @Test(arguments: layerCases)
    func layerMatchesPyTorch(_ name: String) throws {
        let f = Self.file, c = f.named(name)
        let mode = Self.mode(c.strings["mode"] ?? "")
        let layers = c.ints["layers"] ?? 1
        let bi = c.bools["bidirectional"] ?? false, bf = c.bools["batch_first"] ?? false, bias = c.bools["bias"] ?? true
        let layer: RecurrentLayer
        switch mode {
        case .lstm: layer = LSTM(inputSize: 3, hiddenSize: 4, numLayers: layers, bias: bias, batchFirst: bf, bidirectional: bi)
        case .gru: layer = GRU(inputSize: 3, hiddenSize: 4, numLayers: layers, bias: bias, batchFirst: bf, bidirectional: bi)
        default: layer = RNN(inputSize: 3, hiddenSize: 4, numLayers: layers, nonlinearity: mode == .rnnTanh ? .tanh : .relu,
                             bias: bias, batchFirst: bf, bidirectional: bi)
        }
        try layer.loadStateDict(f.tensorsGroup("\(name).state."), strict: true)
        let x = f.tensor("\(name).x").requiringGrad()
        let hasState = c.bools["has_state"] ?? false
        let h0 = hasState ? f.tensor("\(name).h0").requiringGrad() : nil
        let c0 = hasState && mode == .lstm ? f.tensor("\(name).c0").requiringGrad() : nil
        let lengths = f.has("\(name).lengths") ? f.tensor("\(name).lengths").integers() : nil
        let r: RecurrentOutput
        switch layer {
        case let l as LSTM: r = l(x, h0.map { ($0, c0!) }, lengths: lengths)
        case let l as GRU: r = l(x, h0, lengths: lengths)
        case let l as RNN: r = l(x, h0, lengths: lengths)
        default: Issue.record("unknown layer"); return
        }
        var objective = (r.output * f.tensor("\(name).r")).sum() + (r.hN * f.tensor("\(name).s")).sum()
        if let cN = r.cN { objective = objective + (cN * f.tensor("\(name).s2")).sum() }
        objective.backward()
        let tol = (rtol: 1e-4, atol: 1e-5)
        expectClose(r.output, f.tensor("\(name).out"), rtol: tol.rtol, atol: tol.atol, "\(name) output")
        expectClose(r.hN, f.tensor("\(name).h_n"), rtol: tol.rtol, atol: tol.atol, "\(name) h_n")
        if mode == .lstm { expectClose(r.cN, f.tensor("\(name).c_n"), rtol: tol.rtol, atol: tol.atol, "\(name) c_n") }
        #expect((mode == .lstm) == (r.cN != nil))
        expectClose(x.grad, f.tensor("\(name).grad.x"), rtol: tol.rtol, atol: tol.atol, "\(name) gradient of x")
        if let h0 { expectClose(h0.grad, f.tensor("\(name).grad.h0"), rtol: tol.rtol, atol: tol.atol, "\(name) gradient of h0") }
        if let c0 { expectClose(c0.grad, f.tensor("\(name).grad.c0"), rtol: tol.rtol, atol: tol.atol, "\(name) gradient of c0") }
        let expectedGrads = f.tensorsGroup("\(name).grad.").keys.filter { !["x", "h0", "c0"].contains($0) }
        #expect(Set(expectedGrads) == Set(layer.namedParameters().map(\.0)), "\(name): parameter names")
        for (k, p) in layer.namedParameters() {
            expectClose(p.grad, f.tensor("\(name).grad.\(k)"), rtol: tol.rtol, atol: tol.atol, "\(name) gradient of \(k)")
        }
        // The state dict round-trips under PyTorch's names.
        #expect(Set(layer.stateDict().keys) == Set(f.tensorsGroup("\(name).state.").keys))
    }

    // MARK: Gradient checks (float64) of the fused kernels through whole sequences

    struct Config: CustomStringConvertible, Sendable {
        let mode: RecurrentMode, layers: Int, bidirectional: Bool, batchFirst: Bool, bias: Bool, state: Bool, lengths: [Int]?
        var description: String {
            "\(mode) l\(layers)\(bidirectional ? " bi" : "")\(batchFirst ? " bf" : "")\(bias ? "" : " nobias")\(state ? " state" : "")"
                + (lengths.map { " lengths \($0)" } ?? "")
        }
    }

    static let configs: [Config] = RecurrentMode.allCases.flatMap { m in [
        Config(mode: m, layers: 1, bidirectional: false, batchFirst: false, bias: true, state: false, lengths: nil),
        Config(mode: m, layers: 2, bidirectional: true, batchFirst: false, bias: true, state: true, lengths: nil),
        Config(mode: m, layers: 1, bidirectional: true, batchFirst: true, bias: false, state: true, lengths: [3, 1]),
        Config(mode: m, layers: 2, bidirectional: false, batchFirst: false, bias: true, state: false, lengths: [2, 3]),
    ] }

    @Test(arguments: configs)
    func layerGradients(_ c: Config) {
        let (inF, h, t, n) = (2, 3, 3, 2)
        let dirs = c.bidirectional ? 2 : 1
        var seed: UInt64 = 10
        func rand(_ shape: [Int], _ scale: Double = 0.6) -> Tensor { seed += 1; return randomDoubles(shape, seed: seed, scale: scale) }
        var inputs = [c.batchFirst ? rand([n, t, inF], 1) : rand([t, n, inF], 1)]
        let g = c.mode.gateCount * h
        for l in 0..<c.layers {
            for _ in 0..<dirs {
                inputs += [rand([g, l == 0 ? inF : h * dirs]), rand([g, h])]
                if c.bias { inputs += [rand([g]), rand([g])] }
            }
        }
        let perSet = c.bias ? 4 : 2
        let weightCount = c.layers * dirs * perSet
        if c.state {
            inputs.append(rand([c.layers * dirs, n, h]))
            if c.mode == .lstm { inputs.append(rand([c.layers * dirs, n, h])) }
        }
        expectGradients(inputs, "\(c)") { xs in
            let ws = stride(from: 1, to: 1 + weightCount, by: perSet).map { i in
                RecurrentWeights(weightIH: xs[i], weightHH: xs[i + 1], biasIH: c.bias ? xs[i + 2] : nil, biasHH: c.bias ? xs[i + 3] : nil)
            }
            let h0 = c.state ? xs[1 + weightCount] : nil
            let c0 = c.state && c.mode == .lstm ? xs[2 + weightCount] : nil
            let r = recurrent(c.mode, xs[0], weights: ws, layers: c.layers, bidirectional: c.bidirectional, h0: h0, c0: c0,
                              lengths: c.lengths, batchFirst: c.batchFirst)
            var parts = [r.output.reshaped([-1]), r.hN.reshaped([-1])]
            if let cN = r.cN { parts.append(cN.reshaped([-1])) }
            return Tensor.concat(parts, axis: 0)
        }
    }

    @Test(arguments: RecurrentMode.allCases)
    func cellGradients(_ mode: RecurrentMode) {
        // One step of the cell (T = 1): the fused kernel's forward and backward alone.
        let g = mode.gateCount * 3
        var inputs = [randomDoubles([1, 2, 2], seed: 1), randomDoubles([g, 2], seed: 2), randomDoubles([g, 3], seed: 3),
                      randomDoubles([g], seed: 4), randomDoubles([g], seed: 5), randomDoubles([1, 2, 3], seed: 6)]
        if mode == .lstm { inputs.append(randomDoubles([1, 2, 3], seed: 7)) }
        expectGradients(inputs, "\(mode) single step") { xs in
            let r = recurrent(mode, xs[0], weights: [RecurrentWeights(weightIH: xs[1], weightHH: xs[2], biasIH: xs[3], biasHH: xs[4])],
                              h0: xs[5], c0: mode == .lstm ? xs[6] : nil)
            return Tensor.concat([r.output.reshaped([-1])] + (r.cN.map { [$0.reshaped([-1])] } ?? []), axis: 0)
        }
    }

    // MARK: Behaviour

    @Test func parameterNamesFollowPyTorch() {
        let lstm = LSTM(inputSize: 5, hiddenSize: 7, numLayers: 2, bidirectional: true)
        var expected: [String] = []
        for l in 0..<2 {
            for suffix in ["", "_reverse"] {
                expected += ["weight_ih", "weight_hh", "bias_ih", "bias_hh"].map { "\($0)_l\(l)\(suffix)" }
            }
        }
        #expect(lstm.namedParameters().map(\.0) == expected)
        // PyTorch: 4H(I + H + 2) per direction of layer 0, 4H(2H + H + 2) above.
        #expect(lstm.parameterCount == 2 * 28 * (5 + 7 + 2) + 2 * 28 * (14 + 7 + 2))
        #expect(lstm.namedParameters()[0].1.shape == [28, 5])
        let gru = GRU(inputSize: 4, hiddenSize: 3, bias: false)
        #expect(gru.namedParameters().map(\.0) == ["weight_ih_l0", "weight_hh_l0"])
        let cell = LSTMCell(inputSize: 2, hiddenSize: 3)
        #expect(cell.namedParameters().map(\.0) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
        // PyTorch's init: uniform in ±1/√H.
        let bound = 1 / Double(7).squareRoot()
        #expect(lstm.parameters().allSatisfy { p in p.value.scalars(as: Double.self).allSatisfy { abs($0) <= bound } })
    }

    @Test func dropoutActsBetweenLayersOnlyInTraining() {
        let lstm = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, dropout: 0.5, generator: RandomGenerator(seed: 3))
        let x = Tensor.randn([4, 2, 3], generator: RandomGenerator(seed: 4))
        lstm.eval()
        let a = lstm(x).output, b = lstm(x).output
        expectClose(a, b, "eval is deterministic")
        let plain = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2)
        try? plain.loadStateDict(lstm.stateDict())
        expectClose(plain(x).output, a, "eval output equals the dropout-free network's")
        lstm.train()
        let t = lstm(x).output
        let diff = (t - a).abs().max().item()
        #expect(diff > 1e-4, "training with dropout 0.5 changes the output")
    }

    @Test func lengthsZeroPaddingAndTakeLastValidState() {
        let gru = GRU(inputSize: 2, hiddenSize: 3, batchFirst: true, generator: RandomGenerator(seed: 5))
        let x = Tensor.randn([2, 4, 2], generator: RandomGenerator(seed: 6))
        let r = gru(x, lengths: [4, 2])
        let out = r.output
        #expect(out[1, 2..<4].abs().sum().item() == 0, "outputs past the length are zero")
        // The short sequence alone gives the same result as its first two steps.
        let alone = gru(x[1..<2, 0..<2])
        expectClose(out[1..<2, 0..<2], alone.output, rtol: 1e-5, atol: 1e-6, "packed vs alone")
        expectClose(r.hN[.all, 1..<2], alone.hN, rtol: 1e-5, atol: 1e-6, "h_n at the last valid step")
    }

    @Test func unbatchedInputAndCells() {
        let lstm = LSTM(inputSize: 2, hiddenSize: 3, generator: RandomGenerator(seed: 7))
        let x = Tensor.randn([5, 2], generator: RandomGenerator(seed: 8))
        let r = lstm(x)
        #expect(r.output.shape == [5, 3] && r.hN.shape == [1, 3] && r.cN?.shape == [1, 3])
        let batched = lstm(x.reshaped([5, 1, 2]))
        expectClose(r.output, batched.output.reshaped([5, 3]), "unbatched = batch of one")
        // A cell stepped by hand equals the layer with the same weights.
        let cell = LSTMCell(inputSize: 2, hiddenSize: 3)
        try? cell.loadStateDict(["weight_ih": lstm.stateDict()["weight_ih_l0"]!, "weight_hh": lstm.stateDict()["weight_hh_l0"]!,
                                 "bias_ih": lstm.stateDict()["bias_ih_l0"]!, "bias_hh": lstm.stateDict()["bias_hh_l0"]!])
        var state: (h: Tensor, c: Tensor)? = nil
        for t in 0..<5 { state = cell(x[t], state) }
        expectClose(state?.h ?? Tensor.zeros([3]), r.hN.reshaped([3]), rtol: 1e-5, atol: 1e-6, "cell loop vs layer")
    }

    @Test func wrongShapesNameTheLayer() async {
        let r1 = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LSTM(inputSize: 3, hiddenSize: 4)(Tensor.zeros([5, 2, 6]))
        }
        #expect(stopMessage(r1).contains("LSTM(inputSize: 3, hiddenSize: 4): input of shape [5, 2, 6] must have 3 features"), "\(stopMessage(r1))")
        let r2 = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = GRU(inputSize: 3, hiddenSize: 4, numLayers: 2)(Tensor.zeros([5, 2, 3]), Tensor.zeros([1, 2, 4]))
        }
        #expect(stopMessage(r2).contains("h0 of shape [1, 2, 4] must be [2, 2, 4]"), "\(stopMessage(r2))")
        let r3 = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = RNN(inputSize: 3, hiddenSize: 4)(Tensor.zeros([5, 2, 3]), lengths: [5, 6])
        }
        #expect(stopMessage(r3).contains("lengths [5, 6] must lie in 1...5"), "\(stopMessage(r3))")
    }
}

/// Truncated BPTT, many-to-one heads and per-step losses (RecurrentUtilities.swift).
@Suite struct RecurrentUtilityTests {
    @Test func truncatedBPTTCarriesDetachedState() {
        let lstm = LSTM(inputSize: 2, hiddenSize: 3, generator: RandomGenerator(seed: 11))
        let x = Tensor.randn([7, 2, 2], generator: RandomGenerator(seed: 12))
        let full = lstm(x, state: nil)
        var sizes: [Int] = [], outs: [Tensor] = []
        let last = truncatedBPTT(x, chunkLength: 2) { chunk, state, i in
            #expect(state.map { !$0.h.requiresGrad && !($0.c?.requiresGrad ?? true) } ?? (i == 0), "chunk \(i) gets a detached state")
            sizes.append(chunk.shape[0])
            let r = lstm(chunk, state: state)
            (r.output * r.output).sum().backward()   // each chunk's backward stops at its first step
            outs.append(r.output)
            return r.state
        }
        #expect(sizes == [2, 2, 2, 1])
        expectClose(Tensor.concat(outs, axis: 0), full.output, rtol: 1e-5, atol: 1e-6, "chunked forward = full forward")
        expectClose(last?.h ?? Tensor.zeros([1]), full.hN, rtol: 1e-5, atol: 1e-6, "final state")
        #expect(last?.h.requiresGrad == false)
    }

    @Test func manyToOneHeads() {
        // [N = 2, T = 3, F = 2], batch-first; sequence 1 has 2 valid steps.
        let out = Tensor([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], shape: [2, 3, 2])
        expectClose(lastValidStep(out, lengths: [3, 2], batchFirst: true), Tensor([5.0, 6, 9, 10], shape: [2, 2]), "last valid")
        expectClose(lastValidStep(out.transposed(0, 1), lengths: [3, 2]), Tensor([5.0, 6, 9, 10], shape: [2, 2]), "last valid, time-first")
        expectClose(meanOverTime(out, lengths: [3, 2], batchFirst: true), Tensor([3.0, 4, 8, 9], shape: [2, 2]), "mean")
        expectClose(maxOverTime(out * -1, lengths: [3, 2], batchFirst: true), Tensor([-1.0, -2, -7, -8], shape: [2, 2]), "max")
        expectClose(meanOverTime(out, batchFirst: true), Tensor([3.0, 4, 9, 10], shape: [2, 2]), "mean, full length")
        let x = randomDoubles([3, 2, 2], seed: 21)
        expectGradients([x], "mean over time") { meanOverTime($0[0], lengths: [1, 3]) }
        expectGradients([x], "max over time") { maxOverTime($0[0], lengths: [2, 3]) }
        expectGradients([x], "last valid step") { lastValidStep($0[0], lengths: [2, 1]) }
    }

    @Test func sequenceCrossEntropyIgnoresPadding() {
        let logits = Tensor.randn([3, 2, 4], dtype: .float64, generator: RandomGenerator(seed: 22))
        let targets = Tensor([1, 2, 0, 3, 2, 1], shape: [3, 2])
        let loss = sequenceCrossEntropy(logits, targets, lengths: [3, 1])
        // Valid (t, b): (0,0) (0,1) (1,0) (2,0) → rows 0, 1, 2, 4 of the flattened [T·N] steps.
        let rows = Tensor([Int64(0), 1, 2, 4], shape: [4], dtype: .int64)
        let expected = crossEntropy(logits.reshaped([6, 4]).indexSelect(axis: 0, indices: rows),
                                    targets.reshaped([6]).indexSelect(axis: 0, indices: rows))
        expectClose(loss, expected, rtol: 1e-12, atol: 1e-12, "masked mean")
        #expect(sequenceCrossEntropy(logits, targets, reduction: .none).shape == [3, 2])
    }

    @Test func sequenceEncoderInsideSequential() {
        let model = Sequential {
            SequenceEncoder(GRU(inputSize: 3, hiddenSize: 4, batchFirst: true, bidirectional: true, generator: RandomGenerator(seed: 23)))
            Linear(8, 2)
        }
        let y = model(Tensor.randn([5, 6, 3], generator: RandomGenerator(seed: 24)))
        #expect(y.shape == [5, 2])
        #expect(model.namedParameters().map(\.0).prefix(2) == ["0.rnn.weight_ih_l0", "0.rnn.weight_hh_l0"])
        let enc = SequenceEncoder(LSTM(inputSize: 3, hiddenSize: 4), pooling: .mean)
        #expect(enc(Tensor.zeros([6, 5, 3]), lengths: [1, 2, 3, 4, 6]).shape == [5, 4])
    }
}

extension CaseFixtures {
    /// Every tensor under `prefix`, keyed by the rest of its name.
    func tensorsGroup(_ prefix: String) -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (k, v) in tensors where k.hasPrefix(prefix) { d[String(k.dropFirst(prefix.count))] = v }
        return d
    }
}
