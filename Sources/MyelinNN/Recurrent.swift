import MyelinCore

// MARK: - Functional

/// What a recurrent layer returns: the top layer's output at every step and the final
/// states of every layer and direction, as PyTorch's `(output, h_n)` / `(output, (h_n, c_n))`.
public struct RecurrentOutput: Sendable {
    /// [T, N, D·H] (or [N, T, D·H] batch-first); zero past each sequence's length.
    public let output: Tensor
    /// [layers·D, N, H]: each layer and direction's state after its last valid step.
    public let hN: Tensor
    /// The LSTM's final cell states, [layers·D, N, H]; nil for RNN and GRU.
    public let cN: Tensor?
}

/// The weights of one layer and direction, in PyTorch's layout: weight_ih [G·H, I],
/// weight_hh [G·H, H], bias_ih and bias_hh [G·H] (both optional).
public struct RecurrentWeights: Sendable {
    public var weightIH: Tensor, weightHH: Tensor, biasIH: Tensor?, biasHH: Tensor?
    public init(weightIH: Tensor, weightHH: Tensor, biasIH: Tensor?, biasHH: Tensor?) {
        self.weightIH = weightIH; self.weightHH = weightHH; self.biasIH = biasIH; self.biasHH = biasHH
    }
}

/// A multi-layer recurrent network over whole sequences, as `torch._VF.rnn/lstm/gru`.
///
/// `weights` holds layers × directions entries, layer-major (l0, l0_reverse, l1, ...).
/// `input` is [T, N, I] ([N, T, I] when `batchFirst`); `h0`/`c0` are [layers·D, N, H] (zero when
/// nil; `c0` only for the LSTM). `lengths` (one per sequence, 1...T) runs each sequence only over
/// its first lengths[b] steps, as PyTorch's packed sequences: outputs past it are zero and the
/// final state is taken at its last valid step; the reverse direction starts there.
/// `mask` ([N, T], bool or 0/1, true = a real step; whatever `batchFirst`) generalises it with
/// Keras semantics: at a masked step the state is carried over unchanged and the output is zero,
/// so each direction runs over the real steps only (the reverse one from the last real step back).
/// A prefix mask is the same as its lengths. Give lengths or a mask, not both.
/// Dropout with probability `dropout` is applied to every layer's output but the last when `training`.
///
/// Each layer and direction is one recorded node (see `recurrentScan`): its input projection for
/// all steps is one GEMM (a gather for a mostly-zero input such as one-hot characters), its time
/// loop runs W_hh packed once and a fused gate kernel per step, with the batch's rows split
/// between the threads, and its backward is BPTT in one pass followed by one GEMM per weight.
public func recurrent(
    _ mode: RecurrentMode, _ input: Tensor, weights: [RecurrentWeights], layers: Int = 1, bidirectional: Bool = false,
    h0: Tensor? = nil, c0: Tensor? = nil, lengths: [Int]? = nil, mask stepMask: Tensor? = nil, batchFirst: Bool = false,
    dropout p: Double = 0, training: Bool = false, generator: RandomGenerator = .default, name: String? = nil
) -> RecurrentOutput {
    let label = name ?? "recurrent(\(mode.rawValue))"
    let dirs = bidirectional ? 2 : 1
    require(layers >= 1, "\(label): layers must be at least 1, got \(layers)")
    require(weights.count == layers * dirs, "\(label): expected \(layers * dirs) weight sets (layers × directions), got \(weights.count)")
    require(input.rank == 3, "\(label): input of shape \(input.shape) must be \(batchFirst ? "[N, T, features]" : "[T, N, features]")")
    require(input.dtype.isFloatingPoint, "\(label): input must be a float tensor, not \(input.dtype)")
    let hidden = weights[0].weightHH.shape.count == 2 ? weights[0].weightHH.shape[1] : 0
    let g = mode.gateCount
    let inputSize = weights[0].weightIH.shape.last ?? 0
    for (k, w) in weights.enumerated() {
        let expectIn = k < dirs ? inputSize : hidden * dirs
        require(w.weightIH.shape == [g * hidden, expectIn] && w.weightHH.shape == [g * hidden, hidden],
                "\(label): weights \(k) have weight_ih \(w.weightIH.shape) and weight_hh \(w.weightHH.shape); expected [\(g * hidden), \(expectIn)] and [\(g * hidden), \(hidden)]")
        for b in [w.biasIH, w.biasHH] { if let b { require(b.shape == [g * hidden], "\(label): bias \(b.shape) of weights \(k) must be [\(g * hidden)]") } }
    }
    require(p >= 0 && p <= 1, "\(label): dropout must be in [0, 1], got \(p)")
    let x = batchFirst ? input.transposed(0, 1) : input
    let (steps, batch, features) = (x.shape[0], x.shape[1], x.shape[2])
    require(features == inputSize, "\(label): input of shape \(input.shape) has \(features) features, but the layer expects \(inputSize)")
    require(steps > 0 && batch > 0, "\(label): input of shape \(input.shape) has no steps or no sequences")
    let stateShape = [layers * dirs, batch, hidden]
    if let h0 { require(h0.shape == stateShape, "\(label): h0 of shape \(h0.shape) must be \(stateShape) (layers·directions, N, hidden)") }
    if let c0 {
        require(mode == .lstm, "\(label): only the LSTM takes a cell state c0")
        require(c0.shape == stateShape, "\(label): c0 of shape \(c0.shape) must be \(stateShape) (layers·directions, N, hidden)")
    }
    let realSteps = StepMask.resolve(label, lengths: lengths, mask: stepMask, batch: batch, steps: steps, input: input.shape)
    var dt = x.dtype
    if weights.contains(where: { $0.weightIH.dtype == .float64 }) { dt = .float64 }
    // Zeroes outputs at masked steps (past each sequence's end for lengths): [T, N, 1].
    let mask = realSteps?.tensor(batchFirst: false, dtype: dt)

    var layerInput = x.to(dt)
    var hN: [Tensor] = [], cN: [Tensor] = []
    for l in 0..<layers {
        if l > 0 && training && p > 0 { layerInput = dropout(layerInput, p: p, training: true, generator: generator) }
        var outs: [Tensor] = []
        for d in 0..<dirs {
            let k = l * dirs + d
            let w = weights[k]
            var s0 = h0.map { $0[k].to(dt) } ?? Tensor.zeros([batch, hidden], dtype: dt)
            if mode == .lstm { s0 = Tensor.concat([s0, c0.map { $0[k].to(dt) } ?? Tensor.zeros([batch, hidden], dtype: dt)], axis: 1) }
            let (states, last) = recurrentScan(mode, input: layerInput, weightIH: w.weightIH.to(dt), biasIH: w.biasIH?.to(dt), state0: s0,
                                               weightHH: w.weightHH.to(dt), biasHH: w.biasHH?.to(dt), valid: realSteps?.valid, reverse: d == 1)
            var out = states
            if mode == .lstm {
                out = out[.ellipsis, 0..<hidden]
                hN.append(last[.all, 0..<hidden])
                cN.append(last[.all, hidden..<(2 * hidden)])
            } else {
                hN.append(last)
            }
            if let mask { out = out * mask }
            outs.append(out)
        }
        layerInput = dirs == 1 ? outs[0] : Tensor.concat(outs, axis: 2)
    }
    return RecurrentOutput(output: batchFirst ? layerInput.transposed(0, 1) : layerInput,
                           hN: Tensor.stack(hN, axis: 0), cN: mode == .lstm ? Tensor.stack(cN, axis: 0) : nil)
}

/// One step of a recurrent cell: x [N, I] (or [I]), state [N, S·H] packed as the scan keeps it.
func recurrentCellStep(_ mode: RecurrentMode, _ x: Tensor, state: Tensor, weights w: RecurrentWeights) -> Tensor {
    var dt = x.dtype
    if w.weightIH.dtype == .float64 { dt = .float64 }
    let rows = x.shape[0]
    return recurrentScan(mode, input: x.to(dt).reshaped([1, rows, x.shape[1]]), weightIH: w.weightIH.to(dt), biasIH: w.biasIH?.to(dt),
                         state0: state.to(dt), weightHH: w.weightHH.to(dt), biasHH: w.biasHH?.to(dt), valid: nil, reverse: false).last
}

// MARK: - Cells

/// The shared parameters of RNNCell, LSTMCell and GRUCell (PyTorch's `RNNCellBase`).
public class RecurrentCellBase: Module {
    @Parameter public var weightIh: Tensor
    @Parameter public var weightHh: Tensor
    public let biasIh: Parameter?
    public let biasHh: Parameter?
    public let inputSize: Int, hiddenSize: Int
    public let mode: RecurrentMode

    init(_ mode: RecurrentMode, inputSize: Int, hiddenSize: Int, bias: Bool, generator: RandomGenerator) {
        require(inputSize > 0 && hiddenSize > 0, "\(mode.cellName): sizes must be positive, got inputSize \(inputSize), hiddenSize \(hiddenSize)")
        self.mode = mode
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        let rows = mode.gateCount * hiddenSize
        let bound = 1 / Double(hiddenSize).squareRoot()
        func u(_ shape: [Int]) -> Tensor { Tensor.uniform(shape, low: -bound, high: bound, generator: generator) }
        _weightIh = Parameter(wrappedValue: u([rows, inputSize]))
        _weightHh = Parameter(wrappedValue: u([rows, hiddenSize]))
        biasIh = bias ? Parameter(wrappedValue: u([rows])) : nil
        biasHh = bias ? Parameter(wrappedValue: u([rows])) : nil
        super.init()
    }

    var cellWeights: RecurrentWeights {
        RecurrentWeights(weightIH: weightIh, weightHH: weightHh, biasIH: biasIh?.value, biasHH: biasHh?.value)
    }

    /// Checks x ([N, I] or [I]) and a state ([N, H] or [H]); returns x as [N, I] and whether it was unbatched.
    func batched(_ x: Tensor, _ states: [Tensor?]) -> (Tensor, Bool) {
        let name = "\(mode.cellName)(inputSize: \(inputSize), hiddenSize: \(hiddenSize))"
        require((x.rank == 2 || x.rank == 1) && x.shape.last == inputSize,
                "\(name): input of shape \(x.shape) must be [N, \(inputSize)] or [\(inputSize)]")
        let n = x.rank == 2 ? x.shape[0] : 1
        for s in states {
            guard let s else { continue }
            let expected = x.rank == 2 ? [n, hiddenSize] : [hiddenSize]
            require(s.shape == expected, "\(name): state of shape \(s.shape) must be \(expected) for input \(x.shape)")
        }
        return (x.rank == 2 ? x : x.reshaped([1, inputSize]), x.rank == 1)
    }

    func state(_ s: Tensor?, rows: Int, like x: Tensor) -> Tensor {
        s.map { $0.reshaped([rows, hiddenSize]) } ?? Tensor.zeros([rows, hiddenSize], dtype: x.dtype)
    }
}

extension RecurrentMode {
    var cellName: String {
        switch self {
        case .rnnTanh, .rnnReLU: "RNNCell"
        case .lstm: "LSTMCell"
        case .gru: "GRUCell"
        }
    }
    var layerName: String {
        switch self {
        case .rnnTanh, .rnnReLU: "RNN"
        case .lstm: "LSTM"
        case .gru: "GRU"
        }
    }
}

/// The activation of an Elman RNN.
public enum RNNNonlinearity: String, Sendable { case tanh, relu }

/// h' = act(W_ih x + b_ih + W_hh h + b_hh), as `nn.RNNCell` (weights uniform in ±1/√H).
public final class RNNCell: RecurrentCellBase {
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, nonlinearity: RNNNonlinearity = .tanh,
                generator: RandomGenerator = .default) {
        super.init(nonlinearity == .tanh ? .rnnTanh : .rnnReLU, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, generator: generator)
    }

    /// x [N, I] (or [I]) and h [N, H] (zero when nil) → the next h.
    public func callAsFunction(_ x: Tensor, _ h: Tensor? = nil) -> Tensor {
        let (xb, single) = batched(x, [h])
        let next = recurrentCellStep(mode, xb, state: state(h, rows: xb.shape[0], like: xb), weights: cellWeights)
        return single ? next.reshaped([hiddenSize]) : next
    }
}

/// The LSTM cell, as `nn.LSTMCell`: gates i, f, g, o in PyTorch's order.
public final class LSTMCell: RecurrentCellBase {
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, generator: RandomGenerator = .default) {
        super.init(.lstm, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, generator: generator)
    }

    /// x [N, I] (or [I]) and (h, c) [N, H] (zero when nil) → the next (h, c).
    public func callAsFunction(_ x: Tensor, _ state: (h: Tensor, c: Tensor)? = nil) -> (h: Tensor, c: Tensor) {
        let (xb, single) = batched(x, [state?.h, state?.c])
        let rows = xb.shape[0]
        let s = Tensor.concat([self.state(state?.h, rows: rows, like: xb), self.state(state?.c, rows: rows, like: xb)], axis: 1)
        let next = recurrentCellStep(mode, xb, state: s, weights: cellWeights)
        var h = next[.all, 0..<hiddenSize], c = next[.all, hiddenSize..<(2 * hiddenSize)]
        if single { h = h.reshaped([hiddenSize]); c = c.reshaped([hiddenSize]) }
        return (h, c)
    }
}

/// The GRU cell, as `nn.GRUCell`: gates r, z, n with n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)).
public final class GRUCell: RecurrentCellBase {
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, generator: RandomGenerator = .default) {
        super.init(.gru, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, generator: generator)
    }

    /// x [N, I] (or [I]) and h [N, H] (zero when nil) → the next h.
    public func callAsFunction(_ x: Tensor, _ h: Tensor? = nil) -> Tensor {
        let (xb, single) = batched(x, [h])
        let next = recurrentCellStep(mode, xb, state: state(h, rows: xb.shape[0], like: xb), weights: cellWeights)
        return single ? next.reshaped([hiddenSize]) : next
    }
}

// MARK: - Layers

/// The shared machinery of RNN, LSTM and GRU (PyTorch's `RNNBase`): parameters named
/// weight_ih_l{k}[_reverse], weight_hh_l{k}[_reverse], bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse],
/// each uniform in ±1/√H, so PyTorch state dicts load by name.
public class RecurrentLayer: Module {
    public let mode: RecurrentMode
    public let inputSize: Int, hiddenSize: Int, numLayers: Int
    public let bidirectional: Bool, batchFirst: Bool, hasBias: Bool
    /// Dropout probability on the outputs of every layer but the last, in training.
    public let dropoutProbability: Double
    let generator: RandomGenerator
    /// (name, parameter) in PyTorch's order; registered through `ownParameters()`.
    let named: [(name: String, parameter: Parameter)]

    init(_ mode: RecurrentMode, inputSize: Int, hiddenSize: Int, numLayers: Int, bias: Bool, batchFirst: Bool,
         dropout: Double, bidirectional: Bool, generator: RandomGenerator) {
        let label = mode.layerName
        require(inputSize > 0 && hiddenSize > 0 && numLayers > 0,
                "\(label): inputSize, hiddenSize and numLayers must be positive, got \(inputSize), \(hiddenSize), \(numLayers)")
        require(dropout >= 0 && dropout <= 1 && !dropout.isNaN, "\(label): dropout must be in [0, 1], got \(dropout)")
        self.mode = mode
        self.inputSize = inputSize; self.hiddenSize = hiddenSize; self.numLayers = numLayers
        self.bidirectional = bidirectional; self.batchFirst = batchFirst; self.hasBias = bias
        self.dropoutProbability = dropout
        self.generator = generator
        let rows = mode.gateCount * hiddenSize
        let bound = 1 / Double(hiddenSize).squareRoot()
        var named: [(String, Parameter)] = []
        for l in 0..<numLayers {
            for d in 0..<(bidirectional ? 2 : 1) {
                let suffix = "_l\(l)" + (d == 1 ? "_reverse" : "")
                let inF = l == 0 ? inputSize : hiddenSize * (bidirectional ? 2 : 1)
                func p(_ shape: [Int]) -> Parameter {
                    Parameter(wrappedValue: Tensor.uniform(shape, low: -bound, high: bound, generator: generator))
                }
                named.append(("weight_ih" + suffix, p([rows, inF])))
                named.append(("weight_hh" + suffix, p([rows, hiddenSize])))
                if bias {
                    named.append(("bias_ih" + suffix, p([rows])))
                    named.append(("bias_hh" + suffix, p([rows])))
                }
            }
        }
        self.named = named
        super.init()
    }

    override public func ownParameters() -> [(String, Parameter)] { named.map { ($0.name, $0.parameter) } }

    var layerWeights: [RecurrentWeights] {
        let per = hasBias ? 4 : 2
        return stride(from: 0, to: named.count, by: per).map { i in
            RecurrentWeights(weightIH: named[i].parameter.value, weightHH: named[i + 1].parameter.value,
                             biasIH: hasBias ? named[i + 2].parameter.value : nil, biasHH: hasBias ? named[i + 3].parameter.value : nil)
        }
    }

    var description: String {
        "\(mode.layerName)(inputSize: \(inputSize), hiddenSize: \(hiddenSize)\(numLayers > 1 ? ", numLayers: \(numLayers)" : "")"
            + "\(bidirectional ? ", bidirectional" : "")\(batchFirst ? ", batchFirst" : ""))"
    }

    func run(_ input: Tensor, h0: Tensor?, c0: Tensor?, lengths: [Int]?, mask: Tensor? = nil) -> RecurrentOutput {
        let name = description
        require(input.rank == 3 || input.rank == 2,
                "\(name): input of shape \(input.shape) must be \(batchFirst ? "[N, T, \(inputSize)]" : "[T, N, \(inputSize)]") or unbatched [T, \(inputSize)]")
        require(input.shape.last == inputSize, "\(name): input of shape \(input.shape) must have \(inputSize) features in its last axis")
        // Unbatched [T, I] (PyTorch accepts it): states are then [layers·D, H].
        if input.rank == 2 {
            require(lengths == nil || lengths?.count == 1, "\(name): an unbatched input takes at most one length")
            if let mask { require(mask.rank == 1, "\(name): the mask of an unbatched input \(input.shape) must be [T], got \(mask.shape)") }
            let r = run(batchFirst ? input.unsqueezed(axis: 0) : input.unsqueezed(axis: 1),
                        h0: h0.map { $0.unsqueezed(axis: 1) }, c0: c0.map { $0.unsqueezed(axis: 1) }, lengths: lengths,
                        mask: mask?.unsqueezed(axis: 0))
            let out = batchFirst ? r.output.squeezed(axes: [0]) : r.output.squeezed(axes: [1])
            return RecurrentOutput(output: out, hN: r.hN.squeezed(axes: [1]), cN: r.cN?.squeezed(axes: [1]))
        }
        return recurrent(mode, input, weights: layerWeights, layers: numLayers, bidirectional: bidirectional, h0: h0, c0: c0,
                         lengths: lengths, mask: mask, batchFirst: batchFirst, dropout: dropoutProbability, training: training,
                         generator: generator, name: name)
    }

    /// The output sequence only, for use inside `Sequential` (see `SequenceOutput`).
    public func outputSequence(_ input: Tensor) -> Tensor { run(input, h0: nil, c0: nil, lengths: nil).output }
}

/// A multi-layer Elman RNN (tanh or ReLU), as `nn.RNN`.
public final class RNN: RecurrentLayer {
    public let nonlinearity: RNNNonlinearity
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, nonlinearity: RNNNonlinearity = .tanh, bias: Bool = true,
                batchFirst: Bool = false, dropout: Double = 0, bidirectional: Bool = false, generator: RandomGenerator = .default) {
        self.nonlinearity = nonlinearity
        super.init(nonlinearity == .tanh ? .rnnTanh : .rnnReLU, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                   bias: bias, batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, generator: generator)
    }

    /// input [T, N, I] ([N, T, I] batch-first, or unbatched [T, I]); h0 [layers·D, N, H] (zero when nil);
    /// `lengths` or `mask` ([N, T], true = a real step) for variable-length batches. Returns the output sequence and h_n.
    public func callAsFunction(_ input: Tensor, _ h0: Tensor? = nil, lengths: [Int]? = nil, mask: Tensor? = nil) -> RecurrentOutput {
        run(input, h0: h0, c0: nil, lengths: lengths, mask: mask)
    }
}

/// A multi-layer LSTM, as `nn.LSTM` (gates i, f, g, o).
public final class LSTM: RecurrentLayer {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, generator: RandomGenerator = .default) {
        super.init(.lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                   batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, generator: generator)
    }

    /// input [T, N, I] ([N, T, I] batch-first, or unbatched [T, I]); (h0, c0) [layers·D, N, H] (zero when nil);
    /// `lengths` or `mask` ([N, T], true = a real step) for variable-length batches. Returns the output sequence, h_n and c_n.
    public func callAsFunction(_ input: Tensor, _ state: (h: Tensor, c: Tensor)? = nil, lengths: [Int]? = nil,
                               mask: Tensor? = nil) -> RecurrentOutput {
        run(input, h0: state?.h, c0: state?.c, lengths: lengths, mask: mask)
    }
}

/// A multi-layer GRU, as `nn.GRU` (gates r, z, n).
public final class GRU: RecurrentLayer {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, generator: RandomGenerator = .default) {
        super.init(.gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                   batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, generator: generator)
    }

    /// input [T, N, I] ([N, T, I] batch-first, or unbatched [T, I]); h0 [layers·D, N, H] (zero when nil);
    /// `lengths` or `mask` ([N, T], true = a real step) for variable-length batches. Returns the output sequence and h_n.
    public func callAsFunction(_ input: Tensor, _ h0: Tensor? = nil, lengths: [Int]? = nil, mask: Tensor? = nil) -> RecurrentOutput {
        run(input, h0: h0, c0: nil, lengths: lengths, mask: mask)
    }
}
