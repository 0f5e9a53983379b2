import Foundation
import Testing
import Myelin

/// Masks on recurrent layers ([N, T], true = a real step, Keras semantics): a prefix mask is the
/// lengths path (PyTorch's packed sequences), a non-prefix mask matches a hand-written cell loop
/// over the real steps, gradients flow through masked steps, misuse is named.
@Suite struct RecurrentMaskTests {
    /// Rows 0 and 2 are not prefixes; row 1 is.
    static let mask = Tensor([1.0, 0, 1, 1, 0,
                              1, 1, 1, 0, 0,
                              0, 1, 0, 0, 1], shape: [3, 5]) .> 0.5
    static let realSteps = [[0, 2, 3], [0, 1, 2], [1, 4]]

    @Test(arguments: ["rnn_tanh_bi_packed", "lstm_2layer_bi_packed_state", "gru_2layer_bi_batchfirst_packed"])
    func prefixMaskMatchesPyTorchPacked(_ name: String) throws {
        let f = RecurrentTests.file, c = f.named(name)
        let mode = RecurrentTests.mode(c.strings["mode"] ?? "")
        let layers = c.ints["layers"] ?? 1
        let bi = c.bools["bidirectional"] ?? false, bf = c.bools["batch_first"] ?? false
        let layer: RecurrentLayer
        switch mode {
        case .lstm: layer = LSTM(inputSize: 3, hiddenSize: 4, numLayers: layers, batchFirst: bf, bidirectional: bi)
        case .gru: layer = GRU(inputSize: 3, hiddenSize: 4, numLayers: layers, batchFirst: bf, bidirectional: bi)
        default: layer = RNN(inputSize: 3, hiddenSize: 4, numLayers: layers, batchFirst: bf, bidirectional: bi)
        }
        try layer.loadStateDict(f.tensorsGroup("\(name).state."), strict: true)
        let x = f.tensor("\(name).x")
        let hasState = c.bools["has_state"] ?? false
        let h0 = hasState ? f.tensor("\(name).h0") : nil
        let c0 = hasState && mode == .lstm ? f.tensor("\(name).c0") : nil
        let lengths = f.tensor("\(name).lengths").integers()
        let steps = x.shape[bf ? 1 : 0]
        let state = h0.map { RecurrentState(h: $0, c: c0) }
        let r = layer(x, state: state, mask: sequenceMask(lengths: lengths, steps: steps))
        expectClose(r.output, f.tensor("\(name).out"), rtol: 1e-4, atol: 1e-5, "\(name) output")
        expectClose(r.hN, f.tensor("\(name).h_n"), rtol: 1e-4, atol: 1e-5, "\(name) h_n")
        if mode == .lstm { expectClose(r.cN, f.tensor("\(name).c_n"), rtol: 1e-4, atol: 1e-5, "\(name) c_n") }
        // The same mask as 0/1 floats.
        let r2 = layer(x, state: state, mask: sequenceMask(lengths: lengths, steps: steps).to(.float32))
        expectClose(r2.output, r.output, rtol: 0, atol: 0, "\(name) float mask")
    }

    /// A bidirectional layer with a non-prefix mask equals, per sequence, cells run forward and
    /// backward over that sequence's real steps, with zero outputs at the masked steps.
    @Test(arguments: [RecurrentMode.lstm, .gru])
    func nonPrefixMaskMatchesCellLoop(_ mode: RecurrentMode) {
        let (inF, h, t, n) = (2, 3, 5, 3)
        let layer: RecurrentLayer = mode == .lstm
            ? LSTM(inputSize: inF, hiddenSize: h, batchFirst: true, bidirectional: true, generator: RandomGenerator(seed: 31))
            : GRU(inputSize: inF, hiddenSize: h, batchFirst: true, bidirectional: true, generator: RandomGenerator(seed: 31))
        let x = Tensor.randn([n, t, inF], generator: RandomGenerator(seed: 32))
        let r = layer(x, state: nil, mask: Self.mask)
        #expect(r.output.shape == [n, t, 2 * h])
        let sd = layer.stateDict()
        func cellState(_ suffix: String) -> [String: Tensor] {
            ["weight_ih": sd["weight_ih_l0" + suffix]!, "weight_hh": sd["weight_hh_l0" + suffix]!,
             "bias_ih": sd["bias_ih_l0" + suffix]!, "bias_hh": sd["bias_hh_l0" + suffix]!]
        }
        // One direction over the given steps: h after each, and the final (h, c).
        func loop(_ suffix: String, _ b: Int, _ steps: [Int]) -> (hs: [Int: Tensor], h: Tensor, c: Tensor?) {
            var hs: [Int: Tensor] = [:]
            if mode == .lstm {
                let cell = LSTMCell(inputSize: inF, hiddenSize: h)
                try? cell.loadStateDict(cellState(suffix))
                var s: (h: Tensor, c: Tensor)? = nil
                for s_ in steps { s = cell(x[b, s_], s); hs[s_] = s?.h }
                return (hs, s?.h ?? Tensor.zeros([h]), s?.c)
            }
            let cell = GRUCell(inputSize: inF, hiddenSize: h)
            try? cell.loadStateDict(cellState(suffix))
            var s: Tensor? = nil
            for s_ in steps { s = cell(x[b, s_], s); hs[s_] = s }
            return (hs, s ?? Tensor.zeros([h]), nil)
        }
        for b in 0..<n {
            let real = Self.realSteps[b]
            let fwd = loop("", b, real), rev = loop("_reverse", b, real.reversed())
            for step in 0..<t {
                let got = r.output[b, step]
                if let hf = fwd.hs[step], let hr = rev.hs[step] {
                    expectClose(got, Tensor.concat([hf, hr], axis: 0), rtol: 1e-5, atol: 1e-6, "\(mode) output (\(b), \(step))")
                } else {
                    #expect(got.abs().sum().item() == 0, "\(mode): output at masked step (\(b), \(step)) is zero")
                }
            }
            expectClose(r.hN[0, b], fwd.h, rtol: 1e-5, atol: 1e-6, "\(mode) forward h_n of \(b): after its last real step")
            expectClose(r.hN[1, b], rev.h, rtol: 1e-5, atol: 1e-6, "\(mode) reverse h_n of \(b): after its first real step")
            if mode == .lstm, let cf = fwd.c, let cr = rev.c {
                expectClose(r.cN?[0, b], cf, rtol: 1e-5, atol: 1e-6, "forward c_n of \(b)")
                expectClose(r.cN?[1, b], cr, rtol: 1e-5, atol: 1e-6, "reverse c_n of \(b)")
            }
        }
    }

    /// Stacked and bidirectional: the real steps of a masked sequence equal that sequence
    /// compacted to its real steps and run alone.
    @Test func maskedEqualsCompactedSequenceThroughLayers() {
        let lstm = LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, generator: RandomGenerator(seed: 33))
        let x = Tensor.randn([5, 3, 2], generator: RandomGenerator(seed: 34))   // time-first
        let r = lstm(x, mask: Self.mask)
        for b in 0..<3 {
            let real = Self.realSteps[b]
            let compact = Tensor.stack(real.map { x[$0, b] }, axis: 0).unsqueezed(axis: 1)
            let alone = lstm(compact)
            let picked = Tensor.stack(real.map { r.output[$0, b] }, axis: 0)
            expectClose(picked, alone.output.squeezed(axes: [1]), rtol: 1e-5, atol: 1e-6, "sequence \(b) outputs")
            expectClose(r.hN[.all, b], alone.hN.squeezed(axes: [1]), rtol: 1e-5, atol: 1e-6, "sequence \(b) h_n")
        }
    }

    @Test(arguments: [(RecurrentMode.lstm, false), (.lstm, true), (.gru, false), (.gru, true)])
    func gradientsThroughMaskedSteps(_ mode: RecurrentMode, _ bidirectional: Bool) {
        let (inF, h) = (2, 3)
        let dirs = bidirectional ? 2 : 1, g = mode.gateCount * h
        var seed: UInt64 = 40
        func rand(_ shape: [Int], _ scale: Double = 0.6) -> Tensor { seed += 1; return randomDoubles(shape, seed: seed, scale: scale) }
        var inputs = [rand([3, 5, inF], 1)]
        for _ in 0..<dirs { inputs += [rand([g, inF]), rand([g, h]), rand([g]), rand([g])] }
        inputs.append(rand([dirs, 3, h]))
        if mode == .lstm { inputs.append(rand([dirs, 3, h])) }
        expectGradients(inputs, "\(mode)\(bidirectional ? " bidirectional" : "") with a mask") { xs in
            let ws = (0..<dirs).map { d in
                RecurrentWeights(weightIH: xs[1 + 4 * d], weightHH: xs[2 + 4 * d], biasIH: xs[3 + 4 * d], biasHH: xs[4 + 4 * d])
            }
            let h0 = xs[1 + 4 * dirs], c0 = mode == .lstm ? xs[2 + 4 * dirs] : nil
            let r = recurrent(mode, xs[0], weights: ws, bidirectional: bidirectional, h0: h0, c0: c0, mask: Self.mask, batchFirst: true)
            var parts = [r.output.reshaped([-1]), r.hN.reshaped([-1])]
            if let cN = r.cN { parts.append(cN.reshaped([-1])) }
            return Tensor.concat(parts, axis: 0)
        }
    }

    @Test func poolingHeadsWithAMask() {
        // [N = 2, T = 3, F = 2], batch-first; sequence 0 keeps steps 0 and 2, sequence 1 step 1.
        let out = Tensor([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], shape: [2, 3, 2])
        let mask = Tensor([1.0, 0, 1, 0, 1, 0], shape: [2, 3])
        expectClose(lastValidStep(out, mask: mask, batchFirst: true), Tensor([5.0, 6, 9, 10], shape: [2, 2]), "last real")
        expectClose(meanOverTime(out, mask: mask, batchFirst: true), Tensor([3.0, 4, 9, 10], shape: [2, 2]), "mean")
        expectClose(maxOverTime(out * -1, mask: mask, batchFirst: true), Tensor([-1.0, -2, -9, -10], shape: [2, 2]), "max")
        expectClose(meanOverTime(out.transposed(0, 1), mask: mask), Tensor([3.0, 4, 9, 10], shape: [2, 2]), "mean, time-first")
        // A prefix mask is its lengths.
        let prefix = sequenceMask(lengths: [3, 2], steps: 3)
        #expect(prefix.bools() == [true, true, true, true, true, false])
        expectClose(meanOverTime(out, mask: prefix, batchFirst: true), meanOverTime(out, lengths: [3, 2], batchFirst: true), "prefix")
        // Per-step cross-entropy over the real steps only; time-first rows (t·N + b) 0, 3 and 4 are real.
        let logits = Tensor.randn([3, 2, 4], dtype: .float64, generator: RandomGenerator(seed: 54))
        let targets = Tensor([1, 2, 0, 3, 2, 1], shape: [3, 2])
        let rows = Tensor([Int64(0), 3, 4], shape: [3], dtype: .int64)
        expectClose(sequenceCrossEntropy(logits, targets, mask: mask),
                    crossEntropy(logits.reshaped([6, 4]).indexSelect(axis: 0, indices: rows), targets.reshaped([6]).indexSelect(axis: 0, indices: rows)),
                    rtol: 1e-12, atol: 1e-12, "masked per-step loss")
        let x = randomDoubles([3, 2, 2], seed: 51)
        expectGradients([x], "masked mean") { meanOverTime($0[0], mask: mask) }
        expectGradients([x], "masked max") { maxOverTime($0[0], mask: mask) }
        // The encoder passes the mask to the layer and the pooling.
        let enc = SequenceEncoder(GRU(inputSize: 2, hiddenSize: 3, batchFirst: true, bidirectional: true,
                                      generator: RandomGenerator(seed: 52)), pooling: .max)
        let xs = Tensor.randn([3, 5, 2], generator: RandomGenerator(seed: 53))
        let pooled = enc(xs, lengths: nil, mask: Self.mask)
        #expect(pooled.shape == [3, 6])
        let r = enc.rnn(xs, state: nil, mask: Self.mask)
        expectClose(pooled, maxOverTime(r.output, mask: Self.mask, batchFirst: true), "encoder max pooling over real steps")
    }

    @Test func maskMisuseIsNamed() async {
        let r1 = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LSTM(inputSize: 3, hiddenSize: 4)(Tensor.zeros([5, 2, 3]), mask: Tensor.ones([5, 2]))
        }
        #expect(stopMessage(r1).contains("mask of shape [5, 2] must be [2, 5] (batch, time)"), "\(stopMessage(r1))")
        let r2 = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = GRU(inputSize: 3, hiddenSize: 4, batchFirst: true)(Tensor.zeros([2, 3, 3]), mask: Tensor([1.0, 1, 0, 0, 0, 0], shape: [2, 3]))
        }
        #expect(stopMessage(r2).contains("mask row 1 has no real step"), "\(stopMessage(r2))")
        let r3 = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = GRU(inputSize: 3, hiddenSize: 4)(Tensor.zeros([3, 1, 3]), lengths: [2], mask: Tensor.ones([1, 3]))
        }
        #expect(stopMessage(r3).contains("give lengths or a mask, not both"), "\(stopMessage(r3))")
        let r4 = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = meanOverTime(Tensor.zeros([3, 1, 2]), mask: Tensor([1.0, 2, 0], shape: [1, 3]))
        }
        #expect(stopMessage(r4).contains("meanOverTime: mask must be bool or hold only 0 and 1"), "\(stopMessage(r4))")
    }
}
