import CMyelinKernels
import Dispatch
import MyelinCore

/// Which recurrence a layer runs: the cell's equations and its gate count (PyTorch's gate order).
public enum RecurrentMode: String, Sendable, CaseIterable {
    /// h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    case rnnTanh
    /// h' = relu(W_ih x + b_ih + W_hh h + b_hh)
    case rnnReLU
    /// Gates i, f, g, o: c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
    case lstm
    /// Gates r, z, n: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
    case gru

    /// Rows of weight_ih / weight_hh per hidden unit.
    public var gateCount: Int {
        switch self {
        case .rnnTanh, .rnnReLU: 1
        case .lstm: 4
        case .gru: 3
        }
    }

    /// The carried state per unit: h, or h and c for the LSTM.
    var stateFactor: Int { self == .lstm ? 2 : 1 }
    /// Per-step activations kept for backward, per unit.
    var savedFactor: Int {
        switch self {
        case .rnnTanh, .rnnReLU: 0
        case .lstm, .gru: 4
        }
    }
}

@inline(__always) func recurrentSigmoid<T: FloatElement>(_ x: T) -> T {
    if T.self == Float.self {
        let f = unsafeBitCast(x, to: Float.self)
        return unsafeBitCast(FastMath.sigmoidCore(Swift.min(Swift.max(f, -80), 80)), to: T.self)
    }
    if x >= 0 { return 1 / (1 + T.exp(-x)) }
    let e = T.exp(x)
    return e / (1 + e)
}

@inline(__always) func recurrentTanh<T: FloatElement>(_ x: T) -> T {
    if T.self == Float.self { return unsafeBitCast(FastMath.tanhCore(unsafeBitCast(x, to: Float.self)), to: T.self) }
    return T.tanh(x)
}

/// Runs one direction of one recurrent layer over a sequence, as ONE recorded node.
///
/// - `input`: the layer's input at every step, [T, N, I]; its projection W_ih x + b_ih for all
///   steps is one GEMM here (or, for a mostly-zero input such as one-hot characters, a gather of
///   the rows of W_ihᵀ that its non-zeros select).
/// - `state0`: [N, S·H], h (and c for the LSTM, as [h | c]).
/// - `valid`: which steps are real, [T][N] (all when nil); a step that is not leaves that
///   sequence's state unchanged (Keras masking), so with a prefix mask (lengths) a forward scan
///   ends at each sequence's last valid step and a reverse scan starts there.
///
/// Each step is the hidden GEMM against W_hh, packed once for the whole sequence, plus one fused
/// gate kernel. The sequences of the batch are independent, so the rows are split between the
/// threads for the whole time loop (no hand-off per step). The backward (BPTT) runs the same
/// way in reverse, writing every step's gate gradients into one [T, N, G·H] buffer, which then
/// gives dX, dW_ih, dW_hh and the biases with one GEMM (or pass) each.
/// Returns the state after every step, [T, N, S·H] (indexed by time, not by processing order),
/// and the final state [N, S·H].
func recurrentScan(
    _ mode: RecurrentMode, input: Tensor, weightIH: Tensor, biasIH: Tensor?, state0: Tensor, weightHH: Tensor, biasHH: Tensor?,
    valid: [[Bool]]?, reverse: Bool
) -> (states: Tensor, last: Tensor) {
    let steps = input.shape[0], rows = input.shape[1]
    let width = weightHH.shape[0], hidden = weightHH.shape[1]
    let dt = input.dtype
    let scan = RecurrentScanShape(mode: mode, steps: steps, rows: rows, width: width, hidden: hidden, features: input.shape[2],
                                  reverse: reverse)
    let all: Tensor
    switch dt {
    case .float64:
        all = recurrentScan(Double.self, scan, input: input, weightIH: weightIH.to(dt), biasIH: biasIH?.to(dt), state0: state0.to(dt),
                            weightHH: weightHH.to(dt), biasHH: biasHH?.to(dt), valid: valid)
    default:
        all = recurrentScan(Float.self, scan, input: input, weightIH: weightIH.to(dt), biasIH: biasIH?.to(dt), state0: state0.to(dt),
                            weightHH: weightHH.to(dt), biasHH: biasHH?.to(dt), valid: valid)
    }
    return (all, all[reverse ? 0 : steps - 1])
}

/// The sizes of one scan.
struct RecurrentScanShape {
    let mode: RecurrentMode
    let steps: Int, rows: Int, width: Int, hidden: Int, features: Int
    let reverse: Bool
    /// State row width (h, or [h | c]) and saved activations per row.
    var sw: Int { mode.stateFactor * hidden }
    var saved: Int { mode.savedFactor * hidden }
    /// The time index of the k-th step processed.
    func time(_ k: Int) -> Int { reverse ? steps - 1 - k : k }

    /// Row blocks for the threads: at least 8 rows each.
    func rowBlocks() -> [Range<Int>] {
        let parts = Swift.max(1, Swift.min(Threading.threadCount, rows / 8))
        return (0..<parts).map { p in rows * p / parts ..< rows * (p + 1) / parts }
    }
}

/// Runs `body` on each block, in parallel when there are several.
private func forEachBlock(_ blocks: [Range<Int>], _ body: (Range<Int>) -> Void) {
    if blocks.count == 1 { body(blocks[0]); return }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable((body, blocks))
        DispatchQueue.concurrentPerform(iterations: blocks.count) { i in box.value.0(box.value.1[i]) }
    }
}

private func recurrentScan<T: FloatElement>(
    _: T.Type, _ s: RecurrentScanShape, input: Tensor, weightIH: Tensor, biasIH: Tensor?, state0: Tensor, weightHH: Tensor,
    biasHH: Tensor?, valid validSteps: [[Bool]]?
) -> Tensor {
    let dt = input.dtype
    let (steps, rows, width, hidden, features, sw, saved) = (s.steps, s.rows, s.width, s.hidden, s.features, s.sw, s.saved)
    let total = steps * rows

    // The input projection of every step: xp = x·W_ihᵀ + b_ih, [T, N, G·H].
    let xp = Tensor(uninitializedShape: [steps, rows, width], dtype: dt)
    let sparse = RecurrentSparseInput<T>(input.storage.pointer(as: T.self), rows: total, columns: features)
    do {
        let out = xp.storage.pointer(as: T.self)
        if let biasIH {
            let b = biasIH.storage.pointer(as: T.self)
            for r in 0..<total { (out + r * width).update(from: b, count: width) }
        } else if sparse != nil {
            out.update(repeating: 0, count: total * width)
        }
        if let sparse {
            sparse.project(weight: weightIH.storage.pointer(as: T.self), width: width, into: out)
        } else {
            GEMM.gemm(transA: false, transB: true, m: total, n: width, k: features, alpha: 1,
                      a: UnsafePointer(input.storage.pointer(as: T.self)), lda: features,
                      b: UnsafePointer(weightIH.storage.pointer(as: T.self)), ldb: features,
                      beta: biasIH == nil ? 0 : 1, c: out, ldc: width)
        }
    }

    // Every step's state (by time), the gate activations kept for backward, and h before each step.
    let states = Tensor(uninitializedShape: [steps, rows, sw], dtype: dt)
    let acts = Tensor(uninitializedShape: [steps, rows, Swift.max(saved, 1)], dtype: dt)
    let hPrev = Tensor(uninitializedShape: [steps, rows, hidden], dtype: dt)
    let flags: [UInt8]? = validSteps.map { v in v.flatMap { $0.map { $0 ? 1 : 0 } } }
    let wP = UnsafePointer(weightHH.storage.pointer(as: T.self))
    let packedHH = GEMM.packB(transB: true, k: hidden, n: width, b: wP, ldb: hidden)
    let bP = biasHH.map { UnsafePointer($0.storage.pointer(as: T.self)) }
    let p = RecurrentScanPointers<T>(
        xp: UnsafePointer(xp.storage.pointer(as: T.self)), state0: UnsafePointer(state0.storage.pointer(as: T.self)),
        states: states.storage.pointer(as: T.self), acts: acts.storage.pointer(as: T.self), hPrev: hPrev.storage.pointer(as: T.self),
        biasHH: bP)
    let blocks = s.rowBlocks()
    withExtendedLifetime((xp, state0, states, acts, hPrev, biasHH, weightHH)) {
        flags.withOptionalBuffer { v in
            forEachBlock(blocks) { block in
                recurrentForward(T.self, s, p, packedHH: packedHH, valid: v, block: block)
            }
        }
    }

    // Inputs: x, W_ih, W_hh, the initial state, then b_ih and b_hh when present.
    var inputs = [input, weightIH, weightHH, state0]
    if let biasIH { inputs.append(biasIH) }
    if let biasHH { inputs.append(biasHH) }
    let (hasBiasIH, hasBiasHH) = (biasIH != nil, biasHH != nil)
    return Autograd.record(states, inputs: inputs, name: "\(s.mode.rawValue)Scan") { g, needs in
        let gc = g.to(dt)
        // Every step writes all its gate gradients; only a masked (frozen) row leaves zeros.
        let buffer = { flags == nil ? Tensor(uninitializedShape: [steps, rows, width], dtype: dt) : Tensor.zeros([steps, rows, width], dtype: dt) }
        let dGx = buffer()
        let dGh = s.mode == .gru ? buffer() : dGx
        let dState0 = Tensor(uninitializedShape: [rows, sw], dtype: dt)
        let packedBack = GEMM.packB(transB: false, k: width, n: hidden, b: wP, ldb: hidden)
        let d = RecurrentScanGradientPointers<T>(
            grad: UnsafePointer(gc.storage.pointer(as: T.self)), dGx: dGx.storage.pointer(as: T.self),
            dGh: dGh.storage.pointer(as: T.self), dState0: dState0.storage.pointer(as: T.self))
        withExtendedLifetime((gc, dGx, dGh, dState0, xp, state0, states, acts, hPrev, weightHH)) {
            flags.withOptionalBuffer { v in
                forEachBlock(blocks) { block in
                    recurrentBackward(T.self, s, p, d, packedHH: packedBack, valid: v, block: block)
                }
            }
        }
        let flatX = dGx.reshaped([total, width]), flatH = dGh.reshaped([total, width])
        var out = [Tensor?](repeating: nil, count: needs.count)
        if needs[0] { out[0] = matmul(flatX, weightIH).reshaped([steps, rows, features]) }
        if needs[1] {
            out[1] = sparse?.weightGradient(flatX, width: width) ?? matmul(flatX, input.reshaped([total, features]), transposeA: true)
        }
        if needs[2] { out[2] = matmul(flatH, hPrev.reshaped([total, hidden]), transposeA: true) }
        if needs[3] { out[3] = dState0 }
        // b_ih and b_hh get the column sums of the input- and hidden-side gate gradients (the same for RNN and LSTM).
        var i = 4
        var sumX: Tensor?
        if hasBiasIH {
            if needs[i] { sumX = recurrentColumnSums(T.self, flatX, rows: total, width: width); out[i] = sumX }
            i += 1
        }
        if hasBiasHH && needs[i] {
            out[i] = s.mode != .gru ? (sumX ?? recurrentColumnSums(T.self, flatX, rows: total, width: width))
                : recurrentColumnSums(T.self, flatH, rows: total, width: width)
        }
        return out
    }
}

/// The buffers of one scan (all [T, N, ·] by time index, rows contiguous).
struct RecurrentScanPointers<T: FloatElement>: @unchecked Sendable {
    let xp: UnsafePointer<T>, state0: UnsafePointer<T>
    let states: UnsafeMutablePointer<T>, acts: UnsafeMutablePointer<T>, hPrev: UnsafeMutablePointer<T>
    let biasHH: UnsafePointer<T>?
}

/// The gradient buffers of one scan's backward: the incoming d(states), the gate gradients, d(state0).
struct RecurrentScanGradientPointers<T: FloatElement>: @unchecked Sendable {
    let grad: UnsafePointer<T>
    let dGx: UnsafeMutablePointer<T>, dGh: UnsafeMutablePointer<T>, dState0: UnsafeMutablePointer<T>
}

/// The forward time loop over the rows `block` of the batch.
private func recurrentForward<T: FloatElement>(
    _: T.Type, _ s: RecurrentScanShape, _ p: RecurrentScanPointers<T>, packedHH: GEMM.PackedB<T>,
    valid: UnsafePointer<UInt8>?, block: Range<Int>
) {
    let (rows, width, H, sw, saved) = (s.rows, s.width, s.hidden, s.sw, s.saved)
    let r0 = block.lowerBound, n = block.count
    let gh = UnsafeMutablePointer<T>.allocate(capacity: n * width)
    defer { gh.deallocate() }
    for k in 0..<s.steps {
        let t = s.time(k)
        let prev = k == 0 ? p.state0 + r0 * sw : UnsafePointer(p.states + (s.time(k - 1) * rows + r0) * sw)
        let next = p.states + (t * rows + r0) * sw
        let a = p.acts + (t * rows + r0) * Swift.max(saved, 1)
        let x = p.xp + (t * rows + r0) * width
        let v = valid.map { $0 + t * rows + r0 }
        // gh = h·W_hhᵀ + b_hh
        if let b = p.biasHH { for r in 0..<n { (gh + r * width).update(from: b, count: width) } }
        GEMM.gemm(transA: false, m: n, alpha: 1, a: prev, lda: sw, packedB: packedHH, beta: p.biasHH == nil ? 0 : 1,
                  c: gh, ldc: width, threads: 1)
        let hp = p.hPrev + (t * rows + r0) * H
        for r in 0..<n { (hp + r * H).update(from: prev + r * sw, count: H) }
        if T.self == Float.self, s.mode == .lstm || s.mode == .gru {
            // The fused, vectorised C kernels (float32).
            let f = { (q: UnsafePointer<T>) in UnsafeRawPointer(q).assumingMemoryBound(to: Float.self) }
            let m = { (q: UnsafeMutablePointer<T>) in UnsafeMutableRawPointer(q).assumingMemoryBound(to: Float.self) }
            if s.mode == .lstm {
                myelin_lstm_step_forward_f32(Int64(n), Int64(H), f(x), Int64(width), f(UnsafePointer(gh)), f(prev), m(next), m(a), v)
            } else {
                myelin_gru_step_forward_f32(Int64(n), Int64(H), f(x), Int64(width), f(UnsafePointer(gh)), f(prev), m(next), m(a), v)
            }
            continue
        }
        for b in 0..<n {
            let st = prev + b * sw, o = next + b * sw
            if let v, v[b] == 0 { o.update(from: st, count: sw); continue }
            let xr = x + b * width, g = gh + b * width, ar = a + b * saved
            switch s.mode {
            case .rnnTanh: for j in 0..<H { o[j] = recurrentTanh(xr[j] + g[j]) }
            case .rnnReLU: for j in 0..<H { o[j] = Swift.max(xr[j] + g[j], 0) }
            case .lstm:
                for j in 0..<H {
                    let i = recurrentSigmoid(xr[j] + g[j]), f = recurrentSigmoid(xr[H + j] + g[H + j])
                    let gg = recurrentTanh(xr[2 * H + j] + g[2 * H + j]), og = recurrentSigmoid(xr[3 * H + j] + g[3 * H + j])
                    let c = f * st[H + j] + i * gg
                    o[j] = og * recurrentTanh(c)
                    o[H + j] = c
                    ar[j] = i; ar[H + j] = f; ar[2 * H + j] = gg; ar[3 * H + j] = og
                }
            case .gru:
                for j in 0..<H {
                    let r = recurrentSigmoid(xr[j] + g[j]), z = recurrentSigmoid(xr[H + j] + g[H + j])
                    let hn = g[2 * H + j]
                    let nn = recurrentTanh(xr[2 * H + j] + r * hn)
                    o[j] = (1 - z) * nn + z * st[j]
                    ar[j] = r; ar[H + j] = z; ar[2 * H + j] = nn; ar[3 * H + j] = hn
                }
            }
        }
    }
}

/// Backpropagation through time over the rows `block`: the gate gradients of every step into
/// dGx (and dGh for the GRU), and d(state0).
private func recurrentBackward<T: FloatElement>(
    _: T.Type, _ s: RecurrentScanShape, _ p: RecurrentScanPointers<T>, _ d: RecurrentScanGradientPointers<T>,
    packedHH: GEMM.PackedB<T>, valid: UnsafePointer<UInt8>?, block: Range<Int>
) {
    let (rows, width, H, sw, saved) = (s.rows, s.width, s.hidden, s.sw, s.saved)
    let r0 = block.lowerBound, n = block.count
    // gs: the gradient reaching this step's output (from above plus from the next step); carry: d(previous state).
    let gs = UnsafeMutablePointer<T>.allocate(capacity: n * sw), carry = UnsafeMutablePointer<T>.allocate(capacity: n * sw)
    defer { gs.deallocate(); carry.deallocate() }
    carry.update(repeating: 0, count: n * sw)
    let fused = T.self == Float.self && (s.mode == .lstm || s.mode == .gru)
    for k in stride(from: s.steps - 1, through: 0, by: -1) {
        let t = s.time(k)
        let g = d.grad + (t * rows + r0) * sw
        for i in 0..<(n * sw) { gs[i] = g[i] + carry[i] }
        let prev = k == 0 ? p.state0 + r0 * sw : UnsafePointer(p.states + (s.time(k - 1) * rows + r0) * sw)
        let out = UnsafePointer(p.states + (t * rows + r0) * sw)
        let a = UnsafePointer(p.acts + (t * rows + r0) * Swift.max(saved, 1))
        let dx = d.dGx + (t * rows + r0) * width, dh = d.dGh + (t * rows + r0) * width
        let v = valid.map { $0 + t * rows + r0 }
        if fused {
            let f = { (q: UnsafePointer<T>) in UnsafeRawPointer(q).assumingMemoryBound(to: Float.self) }
            let m = { (q: UnsafeMutablePointer<T>) in UnsafeMutableRawPointer(q).assumingMemoryBound(to: Float.self) }
            if s.mode == .lstm {
                myelin_lstm_step_backward_f32(Int64(n), Int64(H), f(UnsafePointer(gs)), f(prev), f(out), f(a), m(dx), m(carry), v)
            } else {
                myelin_gru_step_backward_f32(Int64(n), Int64(H), f(UnsafePointer(gs)), f(prev), f(a), m(dx), m(dh), v)
            }
        } else {
            for b in 0..<n where v?[b] ?? 1 != 0 {
                let gr = gs + b * sw, dxr = dx + b * width, dhr = dh + b * width
                let st = prev + b * sw, o = out + b * sw, ar = a + b * saved
                switch s.mode {
                case .rnnTanh: for j in 0..<H { dxr[j] = gr[j] * (1 - o[j] * o[j]) }
                case .rnnReLU: for j in 0..<H { dxr[j] = o[j] > 0 ? gr[j] : 0 }
                case .lstm:
                    let dc = carry + b * sw + H
                    for j in 0..<H {
                        let i = ar[j], f = ar[H + j], gg = ar[2 * H + j], og = ar[3 * H + j]
                        let tc = recurrentTanh(o[H + j])
                        let dcv = gr[H + j] + gr[j] * og * (1 - tc * tc)
                        dxr[j] = dcv * gg * i * (1 - i)
                        dxr[H + j] = dcv * st[H + j] * f * (1 - f)
                        dxr[2 * H + j] = dcv * i * (1 - gg * gg)
                        dxr[3 * H + j] = gr[j] * tc * og * (1 - og)
                        dc[j] = dcv * f
                    }
                case .gru:
                    for j in 0..<H {
                        let r = ar[j], z = ar[H + j], nn = ar[2 * H + j], hn = ar[3 * H + j]
                        let dhv = gr[j]
                        let dn = dhv * (1 - z) * (1 - nn * nn)
                        let dr = dn * hn * r * (1 - r)
                        let dz = dhv * (st[j] - nn) * z * (1 - z)
                        dxr[j] = dr; dxr[H + j] = dz; dxr[2 * H + j] = dn
                        dhr[j] = dr; dhr[H + j] = dz; dhr[2 * H + j] = dn * r
                    }
                }
            }
        }
        // dh_{t−1} = dGh·W_hh (the LSTM's d c_{t−1} is already in carry), then the GRU's direct
        // path through z, and frozen rows pass their gradient through unchanged.
        GEMM.gemm(transA: false, m: n, alpha: 1, a: UnsafePointer(dh), lda: width, packedB: packedHH, beta: 0, c: carry, ldc: sw,
                  threads: 1)
        for b in 0..<n {
            let gr = gs + b * sw, c = carry + b * sw
            if let v, v[b] == 0 { c.update(from: gr, count: sw); continue }
            if s.mode == .gru {
                let ar = a + b * saved
                for j in 0..<H { c[j] += gr[j] * ar[H + j] }
            }
        }
    }
    (d.dState0 + r0 * sw).update(from: carry, count: n * sw)
}

/// Σ over rows of a [rows, width] gradient, row by row (contiguous, vectorised): a bias gradient.
func recurrentColumnSums<T: FloatElement>(_: T.Type, _ g: Tensor, rows: Int, width: Int) -> Tensor {
    let out = Tensor.zeros([width], dtype: g.dtype)
    let o = out.storage.pointer(as: T.self), p = UnsafePointer(g.storage.pointer(as: T.self))
    for r in 0..<rows {
        let row = p + r * width
        for j in 0..<width { o[j] += row[j] }
    }
    withExtendedLifetime(g) {}
    return out
}

/// A layer input that is mostly zeros (one-hot characters or tokens), in compressed rows: its
/// projection x·W_ihᵀ adds, per non-zero x[r, c], x[r, c] times row c of W_ihᵀ, and dW_ih adds
/// the gate gradients the same way, instead of two dense GEMMs over the zeros. Used when at most
/// an eighth of the values are non-zero and rows have at least 16 columns. (Exact in real
/// arithmetic; a non-finite weight only reaches the rows that select it.)
struct RecurrentSparseInput<T: FloatElement> {
    let rows: Int, columns: Int
    /// Row r's non-zeros are entries rowStart[r]..<rowStart[r + 1] of `column`/`value`.
    let rowStart: [Int], column: [Int], value: [T]

    init?(_ x: UnsafePointer<T>, rows: Int, columns: Int) {
        guard columns >= 16, rows > 0 else { return nil }
        let total = rows * columns, limit = total / 8
        var count = 0
        for i in 0..<total where x[i] != 0 {
            count += 1
            if count > limit { return nil }
        }
        var rowStart = [Int](), column = [Int](), value = [T]()
        rowStart.reserveCapacity(rows + 1); column.reserveCapacity(count); value.reserveCapacity(count)
        for r in 0..<rows {
            rowStart.append(column.count)
            let row = x + r * columns
            for c in 0..<columns where row[c] != 0 { column.append(c); value.append(row[c]) }
        }
        rowStart.append(column.count)
        self.rows = rows; self.columns = columns; self.rowStart = rowStart; self.column = column; self.value = value
    }

    /// out[r, :] += Σ x[r, c]·W[:, c] for W [width, columns] (row-major), out [rows, width].
    func project(weight: UnsafePointer<T>, width: Int, into out: UnsafeMutablePointer<T>) {
        // W_ihᵀ, so that each non-zero adds one contiguous row.
        let wt = UnsafeMutablePointer<T>.allocate(capacity: columns * width)
        defer { wt.deallocate() }
        for g in 0..<width { for c in 0..<columns { wt[c * width + g] = weight[g * columns + c] } }
        for r in 0..<rows {
            let o = out + r * width
            for e in rowStart[r]..<rowStart[r + 1] {
                let v = value[e], src = UnsafePointer(wt + column[e] * width)
                for j in 0..<width { o[j] += v * src[j] }
            }
        }
    }

    /// dW [width, columns] = gᵀ·x for the gate gradients g [rows, width].
    func weightGradient(_ g: Tensor, width: Int) -> Tensor {
        let gp = UnsafePointer(g.storage.pointer(as: T.self))
        let acc = UnsafeMutablePointer<T>.allocate(capacity: columns * width)  // (gᵀx)ᵀ, [columns, width]
        defer { acc.deallocate() }
        acc.update(repeating: 0, count: columns * width)
        for r in 0..<rows {
            let src = gp + r * width
            for e in rowStart[r]..<rowStart[r + 1] {
                let v = value[e], d = acc + column[e] * width
                for j in 0..<width { d[j] += v * src[j] }
            }
        }
        var out = Tensor(uninitializedShape: [width, columns], dtype: g.dtype)
        out.withUnsafeMutablePointer(as: T.self) { o in
            for c in 0..<columns { for j in 0..<width { o[j * columns + c] = acc[c * width + j] } }
        }
        withExtendedLifetime(g) {}
        return out
    }
}

extension Optional where Wrapped == [UInt8] {
    /// The array's base address for a C call, or NULL when there is no array.
    func withOptionalBuffer<R>(_ body: (UnsafePointer<UInt8>?) -> R) -> R {
        switch self {
        case .some(let array): array.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: body(nil)
        }
    }
}
