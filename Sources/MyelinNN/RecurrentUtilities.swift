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
    /// `lengths` or `mask` ([N, T], true = a real step) for variable-length batches.
    public func callAsFunction(_ input: Tensor, state: RecurrentState?, lengths: [Int]? = nil, mask: Tensor? = nil) -> RecurrentOutput {
        if mode != .lstm { require(state?.c == nil, "\(description): only the LSTM carries a cell state c") }
        if mode == .lstm, let state { require(state.c != nil, "\(description): the LSTM's state needs c as well as h") }
        return run(input, h0: state?.h, c0: state?.c, lengths: lengths, mask: mask)
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

/// Which steps of a batch are real, from per-sequence lengths or an [N, T] mask (see `recurrent`).
struct StepMask {
    /// [T][N]: whether step t of sequence b is real.
    let valid: [[Bool]]
    /// Each sequence's length when every row of the mask is a prefix (always for lengths): the
    /// pooling heads then take their lengths path.
    let lengths: [Int]?

    init(lengths: [Int], steps: Int) {
        self.lengths = lengths
        valid = (0..<steps).map { t in lengths.map { t < $0 } }
    }

    /// Checks lengths or a mask against a batch of `batch` sequences of `steps` steps; nil when neither is given.
    static func resolve(_ op: String, lengths: [Int]?, mask: Tensor?, batch: Int, steps: Int, input: [Int]) -> StepMask? {
        require(lengths == nil || mask == nil, "\(op): give lengths or a mask, not both")
        if let lengths {
            require(lengths.count == batch, "\(op): \(lengths.count) lengths for a batch of \(batch) sequences (input \(input))")
            require(lengths.allSatisfy { $0 >= 1 && $0 <= steps }, "\(op): lengths \(lengths) must lie in 1...\(steps) (the input has \(steps) steps)")
            return StepMask(lengths: lengths, steps: steps)
        }
        guard let mask else { return nil }
        require(mask.shape == [batch, steps],
                "\(op): mask of shape \(mask.shape) must be [\(batch), \(steps)] (batch, time) for input \(input)")
        let values = mask.scalars(as: Double.self)
        require(values.allSatisfy { $0 == 0 || $0 == 1 }, "\(op): mask must be bool or hold only 0 and 1 (true = a real step)")
        var rowLengths: [Int]? = []
        for b in 0..<batch {
            let row = values[(b * steps)..<((b + 1) * steps)]
            let real = row.reduce(0) { $0 + ($1 == 1 ? 1 : 0) }
            require(real > 0, "\(op): mask row \(b) has no real step (every sequence needs at least one)")
            // A prefix row (1…1 0…0) is a length.
            if rowLengths != nil, row.prefix(real).allSatisfy({ $0 == 1 }) { rowLengths?.append(real) } else { rowLengths = nil }
        }
        if let rowLengths { return StepMask(lengths: rowLengths, steps: steps) }
        return StepMask(valid: (0..<steps).map { t in (0..<batch).map { values[$0 * steps + t] == 1 } }, lengths: nil)
    }

    private init(valid: [[Bool]], lengths: [Int]?) { self.valid = valid; self.lengths = lengths }

    /// [T, N, 1] (or [N, T, 1] batch-first) ones at real steps, zeros elsewhere.
    func tensor(batchFirst: Bool, dtype: DType) -> Tensor {
        let steps = valid.count, n = valid.first?.count ?? 0
        let values: [Double] = batchFirst
            ? (0..<n).flatMap { b in (0..<steps).map { valid[$0][b] ? 1.0 : 0.0 } }
            : valid.flatMap { $0.map { $0 ? 1.0 : 0.0 } }
        return Tensor(values, shape: batchFirst ? [n, steps, 1] : [steps, n, 1]).to(dtype)
    }

    /// The index of each sequence's last real step.
    var lastReal: [Int] {
        let n = valid.first?.count ?? 0
        return (0..<n).map { b in valid.lastIndex { $0[b] } ?? 0 }
    }
    /// How many real steps each sequence has.
    var counts: [Int] {
        let n = valid.first?.count ?? 0
        return (0..<n).map { b in valid.reduce(0) { $0 + ($1[b] ? 1 : 0) } }
    }
}

/// The [N, T] bool mask of a batch with these lengths (true at the first lengths[b] steps).
public func sequenceMask(lengths: [Int], steps: Int) -> Tensor {
    require(lengths.allSatisfy { $0 >= 0 && $0 <= steps }, "sequenceMask: lengths \(lengths) must lie in 0...\(steps)")
    return Tensor(lengths.flatMap { l in (0..<steps).map { $0 < l ? 1.0 : 0.0 } }, shape: [lengths.count, steps]) .> 0.5
}

func checkSequence(_ op: String, _ output: Tensor, _ lengths: [Int]?, mask: Tensor? = nil, batchFirst: Bool) -> (steps: Int, batch: Int, real: StepMask?) {
    require(output.rank == 3, "\(op): output of shape \(output.shape) must be \(batchFirst ? "[N, T, F]" : "[T, N, F]")")
    let steps = batchFirst ? output.shape[1] : output.shape[0], batch = batchFirst ? output.shape[0] : output.shape[1]
    return (steps, batch, StepMask.resolve(op, lengths: lengths, mask: mask, batch: batch, steps: steps, input: output.shape))
}

/// Each sequence's output at its last valid step, [N, F]: the many-to-one summary of a
/// forward (unidirectional) layer. Without lengths or a mask, the last step; with a mask
/// ([N, T], true = a real step), the last real step.
public func lastValidStep(_ output: Tensor, lengths: [Int]? = nil, mask: Tensor? = nil, batchFirst: Bool = false) -> Tensor {
    let (steps, batch, real) = checkSequence("lastValidStep", output, lengths, mask: mask, batchFirst: batchFirst)
    let f = output.shape[2]
    let last = real?.lastReal ?? [Int](repeating: steps - 1, count: batch)
    let rows = last.enumerated().map { b, t in batchFirst ? b * steps + t : t * batch + b }
    return output.reshaped([steps * batch, f]).indexSelect(axis: 0, indices: Tensor(rows.map(Int64.init), shape: [batch], dtype: .int64))
}

/// The mean of each sequence's outputs over its valid steps (lengths, or the real steps of a mask), [N, F].
public func meanOverTime(_ output: Tensor, lengths: [Int]? = nil, mask: Tensor? = nil, batchFirst: Bool = false) -> Tensor {
    let (_, batch, real) = checkSequence("meanOverTime", output, lengths, mask: mask, batchFirst: batchFirst)
    let axis = batchFirst ? 1 : 0
    guard let real else { return output.mean(axes: [axis]) }
    let counts = Tensor(real.counts.map(Double.init), shape: [batch, 1]).to(output.dtype)
    return (output * real.tensor(batchFirst: batchFirst, dtype: output.dtype)).sum(axes: [axis]) / counts
}

/// The elementwise maximum of each sequence's outputs over its valid steps (lengths, or the real steps of a mask), [N, F].
public func maxOverTime(_ output: Tensor, lengths: [Int]? = nil, mask: Tensor? = nil, batchFirst: Bool = false) -> Tensor {
    let (_, _, real) = checkSequence("maxOverTime", output, lengths, mask: mask, batchFirst: batchFirst)
    let axis = batchFirst ? 1 : 0
    guard let real else { return output.max(axes: [axis]) }
    return select(real.tensor(batchFirst: batchFirst, dtype: output.dtype) .> 0.5, output, -Double.infinity).max(axes: [axis])
}

/// Cross-entropy over every time step: logits [T, N, C] ([N, T, C] batch-first), integer
/// targets [T, N] ([N, T]); steps past each sequence's length (or masked out by `mask`, [N, T]) are ignored. `.mean` averages
/// over the valid steps (nats per step, as a language model reports).
public func sequenceCrossEntropy(_ logits: Tensor, _ targets: Tensor, lengths: [Int]? = nil, mask: Tensor? = nil,
                                 batchFirst: Bool = false, reduction: LossReduction = .mean) -> Tensor {
    let (steps, batch, real) = checkSequence("sequenceCrossEntropy", logits, lengths, mask: mask, batchFirst: batchFirst)
    require(targets.shape == Array(logits.shape.prefix(2)),
            "sequenceCrossEntropy: targets of shape \(targets.shape) must be \(Array(logits.shape.prefix(2))) for logits \(logits.shape)")
    let classes = logits.shape[2]
    var t = targets.to(.int64)
    if let real {
        let ignore: Int64 = -100
        let valid = real.tensor(batchFirst: batchFirst, dtype: .float32).reshaped(targets.shape).scalars(as: Float.self)
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

    /// With `lengths` or a `mask` ([N, T], true = a real step), the recurrence, the pooling and
    /// the last state see each sequence's real steps only (the last state of the reverse
    /// direction is the one after its first real step).
    public func callAsFunction(_ input: Tensor, lengths: [Int]?, mask: Tensor? = nil) -> Tensor {
        let r = rnn(input, state: nil, lengths: lengths, mask: mask)
        switch pooling {
        case .lastState: return rnn.topState(r)
        case .mean: return meanOverTime(r.output, lengths: lengths, mask: mask, batchFirst: rnn.batchFirst)
        case .max: return maxOverTime(r.output, lengths: lengths, mask: mask, batchFirst: rnn.batchFirst)
        case .sequence: return r.output
        }
    }
}
