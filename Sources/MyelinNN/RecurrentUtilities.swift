import MyelinCore

// Training utilities for recurrent layers: carried state and truncated BPTT, many-to-one
// heads (last valid step, pooling over time), per-step losses over variable lengths.

/// The state a recurrent layer carries between calls: h [layers·D, N, H], and c for the LSTM.
public struct RecurrentState: Sendable {
    public var h: Tensor
    public var c: Tensor?
    public init(h: Tensor, c: Tensor? = nil) { self.h = h; self.c = c }

    /// The same values cut from the graph: gradients stop here (truncated BPTT).
    public func detached() -> RecurrentState { RecurrentState(h: h.detached(), c: c?.detached()) }
}

extension RecurrentOutput {
    /// The final states as one value, to feed the next call.
    public var state: RecurrentState { RecurrentState(h: hN, c: cN) }
}

extension RecurrentLayer {
    /// Runs the layer from a carried state (zero when nil), whichever the kind (RNN, LSTM, GRU).
    public func callAsFunction(_ input: Tensor, state: RecurrentState?, lengths: [Int]? = nil) -> RecurrentOutput {
        if mode != .lstm { require(state?.c == nil, "\(description): only the LSTM carries a cell state c") }
        if mode == .lstm, let state { require(state.c != nil, "\(description): the LSTM's state needs c as well as h") }
        return run(input, h0: state?.h, c0: state?.c, lengths: lengths)
    }

    /// The top layer's final state per sequence, [N, D·H] (forward then reverse direction), as
    /// `torch.cat([h_n[-2], h_n[-1]], 1)`: the usual many-to-one summary of a (bidirectional) encoder.
    public func topState(_ r: RecurrentOutput) -> Tensor {
        let dirs = bidirectional ? 2 : 1
        require(r.hN.rank >= 2 && r.hN.shape[0] == numLayers * dirs,
                "\(description).topState: h_n of shape \(r.hN.shape) does not come from this layer (expected \(numLayers * dirs) states)")
        let top = (numLayers - 1) * dirs
        let parts = (0..<dirs).map { r.hN[top + $0] }
        return dirs == 1 ? parts[0] : Tensor.concat(parts, axis: -1)
    }
}

/// Truncated backpropagation through time: cuts `sequence` into chunks of `chunkLength`
/// steps along `timeAxis` (the last may be shorter) and calls `body(chunk, state, index)` on
/// each in order, handing it the state `body` returned for the previous chunk, detached, so
/// each chunk's backward stops at its first step while the forward state flows on.
/// `body` typically runs the model, computes the loss, steps the optimizer and returns
/// `output.state`. Returns the last state (detached).
@discardableResult
public func truncatedBPTT(
    _ sequence: Tensor, chunkLength: Int, timeAxis: Int = 0, initialState: RecurrentState? = nil,
    _ body: (_ chunk: Tensor, _ state: RecurrentState?, _ index: Int) throws -> RecurrentState?
) rethrows -> RecurrentState? {
    require(chunkLength > 0, "truncatedBPTT: chunkLength must be positive, got \(chunkLength)")
    require(sequence.rank > 0, "truncatedBPTT: the sequence must have a time axis, got shape \(sequence.shape)")
    let axis = timeAxis < 0 ? timeAxis + sequence.rank : timeAxis
    require(axis >= 0 && axis < sequence.rank, "truncatedBPTT: time axis \(timeAxis) is out of range for shape \(sequence.shape)")
    let steps = sequence.shape[axis]
    var sizes = [Int](repeating: chunkLength, count: steps / chunkLength)
    if steps % chunkLength != 0 { sizes.append(steps % chunkLength) }
    var state = initialState?.detached()
    for (i, chunk) in sequence.detached().split(sizes: sizes, axis: axis).enumerated() {
        state = try body(chunk, state, i)?.detached()
    }
    return state
}

/// [T, N, 1] (or [N, T, 1] batch-first) ones at valid steps, zeros past each length.
func lengthMask(steps: Int, lengths: [Int], batchFirst: Bool, dtype: DType) -> Tensor {
    let n = lengths.count
    let values: [Double] = batchFirst
        ? lengths.flatMap { l in (0..<steps).map { $0 < l ? 1.0 : 0.0 } }
        : (0..<steps).flatMap { t in lengths.map { t < $0 ? 1.0 : 0.0 } }
    return Tensor(values, shape: batchFirst ? [n, steps, 1] : [steps, n, 1]).to(dtype)
}

func checkSequence(_ op: String, _ output: Tensor, _ lengths: [Int]?, batchFirst: Bool) -> (steps: Int, batch: Int) {
    require(output.rank == 3, "\(op): output of shape \(output.shape) must be \(batchFirst ? "[N, T, F]" : "[T, N, F]")")
    let steps = batchFirst ? output.shape[1] : output.shape[0], batch = batchFirst ? output.shape[0] : output.shape[1]
    if let lengths {
        require(lengths.count == batch, "\(op): \(lengths.count) lengths for a batch of \(batch) sequences (output \(output.shape))")
        require(lengths.allSatisfy { $0 >= 1 && $0 <= steps }, "\(op): lengths \(lengths) must lie in 1...\(steps) (output \(output.shape))")
    }
    return (steps, batch)
}

/// Each sequence's output at its last valid step, [N, F]: the many-to-one summary of a
/// forward (unidirectional) layer. Without lengths, the last step.
public func lastValidStep(_ output: Tensor, lengths: [Int]? = nil, batchFirst: Bool = false) -> Tensor {
    let (steps, batch) = checkSequence("lastValidStep", output, lengths, batchFirst: batchFirst)
    let f = output.shape[2]
    let ls = lengths ?? [Int](repeating: steps, count: batch)
    let rows = ls.enumerated().map { b, l in batchFirst ? b * steps + (l - 1) : (l - 1) * batch + b }
    return output.reshaped([steps * batch, f]).indexSelect(axis: 0, indices: Tensor(rows.map(Int64.init), shape: [batch], dtype: .int64))
}

/// The mean of each sequence's outputs over its valid steps, [N, F].
public func meanOverTime(_ output: Tensor, lengths: [Int]? = nil, batchFirst: Bool = false) -> Tensor {
    let (steps, batch) = checkSequence("meanOverTime", output, lengths, batchFirst: batchFirst)
    let axis = batchFirst ? 1 : 0
    guard let lengths else { return output.mean(axes: [axis]) }
    let mask = lengthMask(steps: steps, lengths: lengths, batchFirst: batchFirst, dtype: output.dtype)
    let counts = Tensor(lengths.map(Double.init), shape: [batch, 1]).to(output.dtype)
    return (output * mask).sum(axes: [axis]) / counts
}

/// The elementwise maximum of each sequence's outputs over its valid steps, [N, F].
public func maxOverTime(_ output: Tensor, lengths: [Int]? = nil, batchFirst: Bool = false) -> Tensor {
    let (steps, _) = checkSequence("maxOverTime", output, lengths, batchFirst: batchFirst)
    let axis = batchFirst ? 1 : 0
    guard let lengths else { return output.max(axes: [axis]) }
    let mask = lengthMask(steps: steps, lengths: lengths, batchFirst: batchFirst, dtype: output.dtype)
    return select(mask .> 0.5, output, -Double.infinity).max(axes: [axis])
}

/// Cross-entropy over every time step: logits [T, N, C] ([N, T, C] batch-first), integer
/// targets [T, N] ([N, T]); steps past each sequence's length are ignored. `.mean` averages
/// over the valid steps (nats per step, as a language model reports).
public func sequenceCrossEntropy(_ logits: Tensor, _ targets: Tensor, lengths: [Int]? = nil, batchFirst: Bool = false,
                                 reduction: LossReduction = .mean) -> Tensor {
    let (steps, batch) = checkSequence("sequenceCrossEntropy", logits, lengths, batchFirst: batchFirst)
    require(targets.shape == Array(logits.shape.prefix(2)),
            "sequenceCrossEntropy: targets of shape \(targets.shape) must be \(Array(logits.shape.prefix(2))) for logits \(logits.shape)")
    let classes = logits.shape[2]
    var t = targets.to(.int64)
    if let lengths {
        let ignore: Int64 = -100
        let valid = lengthMask(steps: steps, lengths: lengths, batchFirst: batchFirst, dtype: .float32).reshaped(targets.shape).scalars(as: Float.self)
        let raw = t.integers()
        t = Tensor(zip(raw, valid).map { $1 > 0 ? Int64($0) : ignore }, shape: targets.shape, dtype: .int64)
    }
    let loss = crossEntropy(logits.reshaped([steps * batch, classes]), t.reshaped([steps * batch]), ignoreIndex: -100,
                            reduction: reduction)
    return reduction == .none ? loss.reshaped(targets.shape) : loss
}

/// How `SequenceEncoder` turns a recurrent layer's outputs into one vector per sequence.
public enum SequencePooling: String, Sendable {
    /// The top layer's final state(s), [N, D·H] (see `RecurrentLayer.topState`).
    case lastState
    /// The mean over time of the output, [N, D·H].
    case mean
    /// The maximum over time of the output, [N, D·H].
    case max
    /// The whole output sequence, unchanged.
    case sequence
}

/// A recurrent layer as a `UnaryLayer` (for `Sequential`): runs it from a zero state and
/// pools its result. Parameters appear under "rnn." ("rnn.weight_ih_l0").
public final class SequenceEncoder: Module, UnaryLayer {
    public let rnn: RecurrentLayer
    public let pooling: SequencePooling

    public init(_ rnn: RecurrentLayer, pooling: SequencePooling = .lastState) {
        self.rnn = rnn
        self.pooling = pooling
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { callAsFunction(input, lengths: nil) }

    /// With `lengths`, pooling and the last state respect each sequence's length.
    public func callAsFunction(_ input: Tensor, lengths: [Int]?) -> Tensor {
        let r = rnn(input, state: nil, lengths: lengths)
        switch pooling {
        case .lastState: return rnn.topState(r)
        case .mean: return meanOverTime(r.output, lengths: lengths, batchFirst: rnn.batchFirst)
        case .max: return maxOverTime(r.output, lengths: lengths, batchFirst: rnn.batchFirst)
        case .sequence: return r.output
        }
    }
}
