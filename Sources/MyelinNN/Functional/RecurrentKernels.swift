import CMyelinKernels
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

/// Gradients the per-step nodes of one scan hand to its weight node.
///
/// Every step's backward writes its gate gradients into slot t of `dXp` (and `dGh` for the
/// GRU, whose hidden-side n-gate gradient differs from the input side's); the weight node,
/// which is a parent of every step and therefore runs after all of them, turns the whole
/// buffer into the gradients of the input projection, W_hh and b_hh with one GEMM each,
/// instead of every step returning a full-sequence gradient (quadratic in T).
final class RecurrentScanGradients {
    let steps: Int, rows: Int, width: Int
    let dtype: DType
    let separateHidden: Bool
    var dXp: Tensor?
    var dGh: Tensor?

    init(steps: Int, rows: Int, width: Int, dtype: DType, separateHidden: Bool) {
        self.steps = steps; self.rows = rows; self.width = width; self.dtype = dtype
        self.separateHidden = separateHidden
    }

    /// Adds one step's [rows, width] gradients into slot t.
    func add<T: FloatElement>(_: T.Type, step t: Int, dx: UnsafePointer<T>, dh: UnsafePointer<T>?) {
        if dXp == nil { dXp = Tensor.zeros([steps, rows, width], dtype: dtype) }
        if separateHidden && dGh == nil { dGh = Tensor.zeros([steps, rows, width], dtype: dtype) }
        let n = rows * width
        let px = dXp!.storage.pointer(as: T.self) + t * n
        for i in 0..<n { px[i] += dx[i] }
        if separateHidden, let dh {
            let ph = dGh!.storage.pointer(as: T.self) + t * n
            for i in 0..<n { ph[i] += dh[i] }
        }
    }

    /// Hands over the accumulated buffers and starts afresh (for `retainGraph` passes).
    func take() -> (dXp: Tensor, dGh: Tensor)? {
        guard let x = dXp else { return nil }
        let h = separateHidden ? (dGh ?? Tensor.zeros(like: x)) : x
        dXp = nil
        dGh = nil
        return (x, h)
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

/// Runs one direction of one recurrent layer over a sequence.
///
/// - `xp`: the input projection of every step, [T, N, G·H] (W_ih x + b_ih, one GEMM by the caller).
/// - `state0`: [N, S·H], h (and c for the LSTM, as [h | c]).
/// - `valid`: which steps are real, [T][N] (all when nil); a step that is not leaves that
///   sequence's state unchanged (Keras masking), so with a prefix mask (lengths) a forward scan
///   ends at each sequence's last valid step and a reverse scan starts there.
///
/// Each step is ONE recorded node (inputs: the weight node and the previous state), whose
/// forward is the hidden GEMM plus one fused gate kernel and whose backward is the fused gate
/// derivative plus one GEMM for the previous state's gradient: autograd over these nodes is
/// backpropagation through time. Returns the state after every step (indexed by time, not by
/// processing order) and the final state.
func recurrentScan(
    _ mode: RecurrentMode, xp: Tensor, state0: Tensor, weightHH: Tensor, biasHH: Tensor?,
    valid: [[Bool]]?, reverse: Bool
) -> (states: [Tensor], last: Tensor) {
    let steps = xp.shape[0], rows = xp.shape[1], width = xp.shape[2]
    let hidden = weightHH.shape[1]
    let dt = xp.dtype
    switch dt {
    case .float64:
        return recurrentScan(Double.self, mode, xp: xp, state0: state0.to(dt), weightHH: weightHH.to(dt), biasHH: biasHH?.to(dt),
                             valid: valid, reverse: reverse, steps: steps, rows: rows, width: width, hidden: hidden)
    default:
        return recurrentScan(Float.self, mode, xp: xp, state0: state0.to(dt), weightHH: weightHH.to(dt), biasHH: biasHH?.to(dt),
                             valid: valid, reverse: reverse, steps: steps, rows: rows, width: width, hidden: hidden)
    }
}

private func recurrentScan<T: FloatElement>(
    _: T.Type, _ mode: RecurrentMode, xp: Tensor, state0: Tensor, weightHH: Tensor, biasHH: Tensor?,
    valid validSteps: [[Bool]]?, reverse: Bool, steps: Int, rows: Int, width: Int, hidden: Int
) -> (states: [Tensor], last: Tensor) {
    let dt = xp.dtype
    let sw = mode.stateFactor * hidden            // state row width
    let saved = mode.savedFactor * hidden         // saved activations per row
    let grads = RecurrentScanGradients(steps: steps, rows: rows, width: width, dtype: dt, separateHidden: mode == .gru)
    // h before every step, for dW_hh = Σ_t dGh_tᵀ h_{t−1} as one GEMM in the weight node.
    let hPrev = Tensor(uninitializedShape: [steps, rows, hidden], dtype: dt)
    let hPrevStorage = hPrev.storage

    var weightInputs = [xp, weightHH]
    if let biasHH { weightInputs.append(biasHH) }
    let hasBias = biasHH != nil
    let weightNode = Autograd.record(Tensor.zeros([1], dtype: dt), inputs: weightInputs, name: "recurrentWeights") { _, needs in
        guard let (dXp, dGh) = grads.take() else { return needs.map { _ in nil } }
        let flat = dGh.reshaped([steps * rows, width])
        var out: [Tensor?] = [needs[0] ? dXp : nil, nil]
        if needs[1] { out[1] = matmul(flat, hPrev.reshaped([steps * rows, hidden]), transposeA: true) }
        if hasBias { out.append(needs[2] ? flat.sum(axes: [0]) : nil) }
        return out
    }
    let trackWeights = weightNode.requiresGrad
    let zeroGrad = Tensor.zeros([1], dtype: dt)

    let xpP = UnsafePointer(xp.storage.pointer(as: T.self))
    let wP = UnsafePointer(weightHH.storage.pointer(as: T.self))
    let bP = biasHH.map { UnsafePointer($0.storage.pointer(as: T.self)) }
    let hPrevP = hPrevStorage.pointer(as: T.self)

    var states = [Tensor?](repeating: nil, count: steps)
    var state = state0
    for k in 0..<steps {
        let t = reverse ? steps - 1 - k : k
        let valid = validSteps?[t] ?? [Bool](repeating: true, count: rows)
        let prev = state
        let sP = UnsafePointer(prev.storage.pointer(as: T.self))
        // gh = h·W_hhᵀ + b_hh
        var gh = Tensor(uninitializedShape: [rows, width], dtype: dt)
        let ghP = gh.withUnsafeMutablePointer(as: T.self) { $0 }
        if let bP { for b in 0..<rows { (ghP + b * width).update(from: bP, count: width) } }
        GEMM.gemm(transA: false, transB: true, m: rows, n: width, k: hidden, alpha: 1, a: sP, lda: sw,
                  b: wP, ldb: hidden, beta: bP == nil ? 0 : 1, c: ghP, ldc: width)
        if trackWeights {
            let hp = hPrevP + t * rows * hidden
            for b in 0..<rows { (hp + b * hidden).update(from: sP + b * sw, count: hidden) }
        }

        let next = Tensor(uninitializedShape: [rows, sw], dtype: dt)
        let acts = Tensor(uninitializedShape: [rows, saved], dtype: dt)
        let nP = next.storage.pointer(as: T.self), aP = acts.storage.pointer(as: T.self)
        let H = hidden
        let validFlags: [UInt8]? = validSteps == nil ? nil : valid.map { $0 ? 1 : 0 }
        if T.self == Float.self, mode == .lstm || mode == .gru {
            // The fused, vectorised C kernels (float32): one call per step.
            let f = { (p: UnsafePointer<T>) in UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            let m = { (p: UnsafeMutablePointer<T>) in UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
            validFlags.withOptionalBuffer { v in
                if mode == .lstm {
                    myelin_lstm_step_forward_f32(Int64(rows), Int64(H), f(xpP + t * rows * width), Int64(width), f(UnsafePointer(ghP)),
                                                 f(sP), m(nP), m(aP), v)
                } else {
                    myelin_gru_step_forward_f32(Int64(rows), Int64(H), f(xpP + t * rows * width), Int64(width), f(UnsafePointer(ghP)),
                                                f(sP), m(nP), m(aP), v)
                }
            }
        } else {
        for b in 0..<rows {
            let s = sP + b * sw, o = nP + b * sw
            guard valid[b] else { o.update(from: s, count: sw); continue }
            let x = xpP + (t * rows + b) * width, g = ghP + b * width, a = aP + b * saved
            switch mode {
            case .rnnTanh: for j in 0..<H { o[j] = recurrentTanh(x[j] + g[j]) }
            case .rnnReLU: for j in 0..<H { o[j] = Swift.max(x[j] + g[j], 0) }
            case .lstm:
                for j in 0..<H {
                    let i = recurrentSigmoid(x[j] + g[j]), f = recurrentSigmoid(x[H + j] + g[H + j])
                    let gg = recurrentTanh(x[2 * H + j] + g[2 * H + j]), og = recurrentSigmoid(x[3 * H + j] + g[3 * H + j])
                    let c = f * s[H + j] + i * gg
                    o[j] = og * recurrentTanh(c)
                    o[H + j] = c
                    a[j] = i; a[H + j] = f; a[2 * H + j] = gg; a[3 * H + j] = og
                }
            case .gru:
                for j in 0..<H {
                    let r = recurrentSigmoid(x[j] + g[j]), z = recurrentSigmoid(x[H + j] + g[H + j])
                    let hn = g[2 * H + j]
                    let n = recurrentTanh(x[2 * H + j] + r * hn)
                    o[j] = (1 - z) * n + z * s[j]
                    a[j] = r; a[H + j] = z; a[2 * H + j] = n; a[3 * H + j] = hn
                }
            }
        }
        }
        withExtendedLifetime(gh) {}
        let result = next
        state = Autograd.record(next, inputs: [weightNode, prev], name: "\(mode.rawValue)Step") { g, needs in
            let gc = g.to(dt)
            let dgx = Tensor.zeros([rows, width], dtype: dt)
            let dgh = mode == .gru ? Tensor.zeros([rows, width], dtype: dt) : dgx
            var dPrev = Tensor(uninitializedShape: [rows, sw], dtype: dt)
            let gP = gc.storage.pointer(as: T.self), dxP = dgx.storage.pointer(as: T.self), dhP = dgh.storage.pointer(as: T.self)
            let sP = prev.storage.pointer(as: T.self), oP = result.storage.pointer(as: T.self), aP = acts.storage.pointer(as: T.self)
            let dpP = dPrev.withUnsafeMutablePointer(as: T.self) { $0 }
            withExtendedLifetime((gc, dgx, dgh, prev, result, acts)) {
                let fused = T.self == Float.self && (mode == .lstm || mode == .gru)
                if fused {
                    let f = { (p: UnsafeMutablePointer<T>) in UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
                    let m = { (p: UnsafeMutablePointer<T>) in UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
                    validFlags.withOptionalBuffer { v in
                        if mode == .lstm {
                            myelin_lstm_step_backward_f32(Int64(rows), Int64(H), f(gP), f(sP), f(oP), f(aP), m(dxP), m(dpP), v)
                        } else {
                            myelin_gru_step_backward_f32(Int64(rows), Int64(H), f(gP), f(sP), f(aP), m(dxP), m(dhP), v)
                        }
                    }
                }
                for b in 0..<rows where valid[b] && !fused {
                    let gr = gP + b * sw, dx = dxP + b * width, dh = dhP + b * width
                    let s = sP + b * sw, o = oP + b * sw, a = aP + b * saved
                    switch mode {
                    case .rnnTanh: for j in 0..<H { dx[j] = gr[j] * (1 - o[j] * o[j]) }
                    case .rnnReLU: for j in 0..<H { dx[j] = o[j] > 0 ? gr[j] : 0 }
                    case .lstm:
                        for j in 0..<H {
                            let i = a[j], f = a[H + j], gg = a[2 * H + j], og = a[3 * H + j]
                            let tc = recurrentTanh(o[H + j])
                            let dc = gr[H + j] + gr[j] * og * (1 - tc * tc)
                            dx[j] = dc * gg * i * (1 - i)
                            dx[H + j] = dc * s[H + j] * f * (1 - f)
                            dx[2 * H + j] = dc * i * (1 - gg * gg)
                            dx[3 * H + j] = gr[j] * tc * og * (1 - og)
                        }
                    case .gru:
                        for j in 0..<H {
                            let r = a[j], z = a[H + j], n = a[2 * H + j], hn = a[3 * H + j]
                            let dhv = gr[j]
                            let dn = dhv * (1 - z) * (1 - n * n)
                            let dr = dn * hn * r * (1 - r)
                            let dz = dhv * (s[j] - n) * z * (1 - z)
                            dx[j] = dr; dx[H + j] = dz; dx[2 * H + j] = dn
                            dh[j] = dr; dh[H + j] = dz; dh[2 * H + j] = dn * r
                        }
                    }
                }
                if trackWeights {
                    grads.add(T.self, step: t, dx: UnsafePointer(dxP), dh: mode == .gru ? UnsafePointer(dhP) : nil)
                }
                guard needs[1] else { return }
                // dh_{t−1} = dGh·W_hh, then the direct paths (c through f, h through z) and frozen rows.
                GEMM.gemm(transA: false, transB: false, m: rows, n: hidden, k: width, alpha: 1, a: UnsafePointer(dhP), lda: width,
                          b: wP, ldb: hidden, beta: 0, c: dpP, ldc: sw)
                for b in 0..<rows {
                    let gr = gP + b * sw, d = dpP + b * sw
                    guard valid[b] else { d.update(from: gr, count: sw); continue }
                    let a = aP + b * saved
                    switch mode {
                    case .rnnTanh, .rnnReLU: break
                    case .lstm where fused: break  // the kernel wrote d c_{t−1}
                    case .lstm:
                        let o = oP + b * sw
                        for j in 0..<H {
                            let tc = recurrentTanh(o[H + j])
                            let dc = gr[H + j] + gr[j] * a[3 * H + j] * (1 - tc * tc)
                            d[H + j] = dc * a[H + j]
                        }
                    case .gru: for j in 0..<H { d[j] += gr[j] * a[H + j] }
                    }
                }
            }
            withExtendedLifetime(weightHH) {}
            return [needs[0] ? zeroGrad : nil, needs[1] ? dPrev : nil]
        }
        states[t] = state
    }
    withExtendedLifetime((xp, weightHH, biasHH, hPrev)) {}
    return (states.map { $0! }, state)
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
