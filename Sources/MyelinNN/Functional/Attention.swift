import CMyelinKernels
import MyelinCore

/// Scaled dot-product attention, softmax(scale·Q·Kᵀ + masks)·V, as one fused kernel
/// with one autograd node.
///
/// Shapes: `query` [B, H, Lq, d], `key` [B, H, Lk, d], `value` [B, H, Lk, dv] → [B, H, Lq, dv];
/// rank-3 inputs [B, L, d] are a single head and give [B, Lq, dv].
///
/// Masks (all optional, combined):
/// - `attentionMask`: boolean (**true = this query may not attend to this key**, as
///   `nn.MultiheadAttention`'s attn_mask and the opposite of `F.scaled_dot_product_attention`'s
///   boolean mask) or floating point (added to the scores, −inf to exclude), of shape
///   [Lq, Lk] or any shape broadcastable to [B, H, Lq, Lk] ([B, Lq, Lk] for rank-3 inputs).
/// - `keyPaddingMask`: [B, Lk], boolean (true = padding, ignored) or additive float, as PyTorch.
/// - `isCausal`: query i sees keys 0...i only (top-left aligned, as PyTorch).
///
/// A query row whose keys are all masked gets zero attention weights and a zero output
/// (PyTorch's softmax gives NaN there). `dropout` (a probability) zeroes attention weights
/// with rescaling by 1/(1 − p); pass 0 in evaluation. `scale` defaults to 1/√d.
///
/// Per (batch, head) the kernel runs S = scale·Q·Kᵀ as one GEMM into the weight matrix, applies
/// the masks in place during the row softmax, and multiplies by V with a second GEMM; the
/// (batch, head) pairs run in parallel, each GEMM on one thread. Only the attention weights
/// are kept for the backward pass (none at all when no gradient is recorded). The masks
/// receive no gradient.
public func scaledDotProductAttention(
    query: Tensor, key: Tensor, value: Tensor,
    attentionMask: Tensor? = nil, keyPaddingMask: Tensor? = nil, isCausal: Bool = false,
    dropout: Double = 0, scale: Double? = nil, generator: RandomGenerator = .default
) -> Tensor {
    let op = "scaledDotProductAttention"
    require(query.rank == key.rank && key.rank == value.rank && (query.rank == 3 || query.rank == 4),
            "\(op): query, key and value must all be [B, H, L, d] or all [B, L, d], got \(query.shape), \(key.shape), \(value.shape)")
    let four = query.rank == 4
    let (b, h) = (query.shape[0], four ? query.shape[1] : 1)
    let (lq, d) = (query.shape[query.rank - 2], query.shape[query.rank - 1])
    let (lk, dv) = (key.shape[key.rank - 2], value.shape[value.rank - 1])
    let lead = Array(query.shape.prefix(query.rank - 2))
    require(Array(key.shape.prefix(key.rank - 2)) == lead && key.shape.last == d,
            "\(op): key of shape \(key.shape) must be \(lead + [lk, d]) for query \(query.shape)")
    require(Array(value.shape.prefix(value.rank - 2)) == lead && value.shape[value.rank - 2] == lk,
            "\(op): value of shape \(value.shape) must be \(lead + [lk, dv]) for key \(key.shape)")
    // For single-head (rank-3) inputs a [B, Lq, Lk] mask means [B, 1, Lq, Lk].
    let mask = !four && attentionMask?.rank == 3 ? attentionMask.map { $0.reshaped([$0.shape[0], 1] + $0.shape.dropFirst()) } : attentionMask
    let layout = { (l: Int, w: Int) in AttentionKernel.Layout(offset: 0, batch: h * l * w, head: l * w, row: w) }
    return AttentionKernel.run(
        query: query, queryLayout: layout(lq, d), key: key, keyLayout: layout(lk, d), value: value, valueLayout: layout(lk, dv),
        batch: b, heads: h, queryLength: lq, keyLength: lk, depth: d, valueDepth: dv,
        outputShape: lead + [lq, dv], outputLayout: layout(lq, dv),
        attentionMask: mask, keyPaddingMask: keyPaddingMask, isCausal: isCausal,
        dropout: dropout, scale: scale, generator: generator, op: op
    ).output
}

/// Scaled dot-product attention on heads packed along the feature axis, as linear projections
/// produce them: `query` [B, Lq, heads·d], `key` [B, Lk, heads·d], `value` [B, Lk, heads·dv] →
/// [B, Lq, heads·dv], head h being features h·d..<(h+1)·d. Equivalent to splitting the heads,
/// `scaledDotProductAttention(query:key:value:...)` on [B, heads, L, d] and merging them back,
/// but the kernel reads and writes the heads in place (no permutes or copies). Masks as there:
/// `attentionMask` broadcastable to [B, heads, Lq, Lk], `keyPaddingMask` [B, Lk].
public func scaledDotProductAttention(
    query: Tensor, key: Tensor, value: Tensor, heads: Int,
    attentionMask: Tensor? = nil, keyPaddingMask: Tensor? = nil, isCausal: Bool = false,
    dropout: Double = 0, scale: Double? = nil, generator: RandomGenerator = .default
) -> Tensor {
    let op = "scaledDotProductAttention(heads: \(heads))"
    require(query.rank == 3 && key.rank == 3 && value.rank == 3,
            "\(op): query, key and value must be [B, L, heads·d], got \(query.shape), \(key.shape), \(value.shape)")
    require(heads > 0 && query.shape[2] % heads == 0 && value.shape[2] % heads == 0,
            "\(op): the feature sizes of query \(query.shape) and value \(value.shape) must be divisible by \(heads) heads")
    let (b, lq, lk) = (query.shape[0], query.shape[1], key.shape[1])
    let (wq, wv) = (query.shape[2], value.shape[2])
    require(key.shape == [b, lk, wq], "\(op): key of shape \(key.shape) must be \([b, lk, wq]) for query \(query.shape)")
    require(value.shape[0] == b && value.shape[1] == lk, "\(op): value of shape \(value.shape) must be [\(b), \(lk), heads·dv]")
    let (d, dv) = (wq / heads, wv / heads)
    let layout = { (l: Int, w: Int, hw: Int) in AttentionKernel.Layout(offset: 0, batch: l * w, head: hw, row: w) }
    return AttentionKernel.run(
        query: query, queryLayout: layout(lq, wq, d), key: key, keyLayout: layout(lk, wq, d), value: value, valueLayout: layout(lk, wv, dv),
        batch: b, heads: heads, queryLength: lq, keyLength: lk, depth: d, valueDepth: dv,
        outputShape: [b, lq, wv], outputLayout: layout(lq, wv, dv),
        attentionMask: attentionMask, keyPaddingMask: keyPaddingMask, isCausal: isCausal,
        dropout: dropout, scale: scale, generator: generator, op: op
    ).output
}

/// The fused attention kernel behind `scaledDotProductAttention` and `MultiHeadAttention`.
/// Q, K, V and the output are addressed through `Layout`s (element offsets and strides of the
/// batch, head and row; the last axis contiguous), so heads are read straight out of a packed
/// [B, L, 3E] projection, and the output written straight into [B, L, E] (or [L, B, E]):
/// no per-head copies or permutes.
enum AttentionKernel {
    struct Layout {
        var offset: Int, batch: Int, head: Int, row: Int
        @inline(__always) func base(_ b: Int, _ h: Int) -> Int { offset + b * batch + h * head }
    }

    /// A mask broadcast to [B, H, Lq, Lk] by strides (0 on broadcast axes).
    struct MaskView {
        var tensor: Tensor, isBool: Bool, strides: [Int]
    }

    /// Checks `mask` against [B, H, Lq, Lk] (right-aligned broadcasting) and returns its strides.
    static func maskView(_ mask: Tensor, target: [Int], what: String, op: String, dtype: DType) -> MaskView {
        require(mask.rank >= 1 && mask.rank <= 4, "\(op): \(what) of shape \(mask.shape) must have rank 1 to 4 (broadcastable to \(target))")
        require(mask.dtype == .bool || mask.dtype.isFloatingPoint,
                "\(op): \(what) must be boolean (true = masked) or floating point (added to the scores), not \(mask.dtype)")
        var strides = [0, 0, 0, 0]
        var s = 1
        for i in stride(from: mask.rank - 1, through: 0, by: -1) {
            let t = 4 - mask.rank + i, e = mask.shape[i]
            require(e == 1 || e == target[t], "\(op): \(what) of shape \(mask.shape) is not broadcastable to \(target)")
            strides[t] = e == 1 ? 0 : s
            s *= e
        }
        let isBool = mask.dtype == .bool
        return MaskView(tensor: isBool ? mask : mask.detached().to(dtype), isBool: isBool, strides: strides)
    }

    struct Result { var output: Tensor; var weights: Tensor? }

    /// Runs attention. The distinct tensors among query/key/value become the autograd node's
    /// inputs, so a packed QKV projection gets one gradient tensor, written in place by all three.
    /// `keepWeights` returns the attention weights P [B, H, Lq, Lk] (before dropout; not differentiable).
    static func run(
        query: Tensor, queryLayout: Layout, key: Tensor, keyLayout: Layout, value: Tensor, valueLayout: Layout,
        batch b: Int, heads h: Int, queryLength lq: Int, keyLength lk: Int, depth d: Int, valueDepth dv: Int,
        outputShape: [Int], outputLayout: Layout,
        attentionMask: Tensor?, keyPaddingMask: Tensor?, isCausal: Bool,
        dropout p: Double, scale: Double?, generator: RandomGenerator, keepWeights: Bool = false, op: String
    ) -> Result {
        require(p >= 0 && p <= 1 && !p.isNaN, "\(op): dropout must be in [0, 1], got \(p)")
        let dt: DType = [query, key, value].contains { $0.dtype == .float64 } ? .float64 : .float32
        // Distinct sources (same storage = same tensor, e.g. a packed QKV projection).
        var sources: [Tensor] = []
        func index(_ t: Tensor) -> Int {
            if let i = sources.firstIndex(where: { $0.storage === t.storage && $0.shape == t.shape }) { return i }
            sources.append(t.to(dt))
            return sources.count - 1
        }
        let qi = index(query), ki = index(key), vi = index(value)
        let target = [b, h, lq, lk]
        var masks: [MaskView] = []
        if let m = attentionMask { masks.append(maskView(m, target: target, what: "attention mask", op: op, dtype: dt)) }
        if let m = keyPaddingMask {
            require(m.shape == [b, lk], "\(op): key padding mask of shape \(m.shape) must be [batch, key length] = \([b, lk])")
            require(m.dtype == .bool || m.dtype.isFloatingPoint,
                    "\(op): key padding mask must be boolean (true = padding) or floating point (added to the scores), not \(m.dtype)")
            let isBool = m.dtype == .bool
            masks.append(MaskView(tensor: isBool ? m : m.detached().to(dt), isBool: isBool, strides: [lk, 0, 0, 1]))
        }
        let scale = scale ?? 1 / Double(d).squareRoot()
        let recording = Autograd.isRecording && sources.contains { $0.requiresGrad }
        let keepP = recording || keepWeights
        let drop = p > 0
        // P holds the attention weights of every (batch, head) when the backward pass needs them.
        let weights = keepP ? Tensor(uninitializedShape: [b, h, lq, lk], dtype: dt) : nil
        // The dropout mask (0 or 1/(1 − p)); P itself stays undropped for the backward pass.
        var dropMask: Tensor? = nil
        if drop {
            var m = Tensor.bernoulli([b, h, lq, lk], p: 1 - p, dtype: dt, generator: generator)
            let s = p < 1 ? 1 / (1 - p) : 0
            let count = m.count
            switch dt {
            case .float64: m.withUnsafeMutablePointer(as: Double.self) { q in for i in 0..<count { q[i] *= s } }
            default:
                let sf = Float(s)
                m.withUnsafeMutablePointer(as: Float.self) { q in for i in 0..<count { q[i] *= sf } }
            }
            dropMask = m
        }
        let out = Tensor(uninitializedShape: outputShape, dtype: dt)
        let layouts = (queryLayout, keyLayout, valueLayout)
        let dims = Dims(b: b, h: h, lq: lq, lk: lk, d: d, dv: dv)
        withExtendedLifetime((sources, masks, weights, dropMask, out)) {
            switch dt {
            case .float64:
                forward(Double.self, sources[qi], sources[ki], sources[vi], layouts, dims, masks, isCausal, Double(scale),
                        weights, dropMask, out, outputLayout)
            default:
                forward(Float.self, sources[qi], sources[ki], sources[vi], layouts, dims, masks, isCausal, Float(scale),
                        weights, dropMask, out, outputLayout)
            }
        }
        let returned = keepWeights ? weights : nil
        guard recording, let weights else { return Result(output: out, weights: returned) }
        let srcs = sources
        let output = Autograd.record(out, inputs: srcs, name: "scaledDotProductAttention") { g, needs in
            let g = g.to(dt)
            let grads: [Tensor?] = srcs.indices.map { needs[$0] ? Tensor.zeros(srcs[$0].shape, dtype: dt) : nil }
            withExtendedLifetime((srcs, g, weights, dropMask, grads)) {
                switch dt {
                case .float64:
                    backward(Double.self, srcs, (qi, ki, vi), grads, layouts, dims, Double(scale), weights, dropMask, g, outputLayout)
                default:
                    backward(Float.self, srcs, (qi, ki, vi), grads, layouts, dims, Float(scale), weights, dropMask, g, outputLayout)
                }
            }
            return grads
        }
        return Result(output: output, weights: returned)
    }

    struct Dims { var b, h, lq, lk, d, dv: Int }

    private static func forward<T: FloatElement>(
        _: T.Type, _ q: Tensor, _ k: Tensor, _ v: Tensor, _ layouts: (Layout, Layout, Layout), _ n: Dims,
        _ masks: [MaskView], _ causal: Bool, _ scale: T, _ weights: Tensor?, _ dropMask: Tensor?,
        _ out: Tensor, _ outLayout: Layout
    ) {
        let (ql, kl, vl) = layouts
        let qp = UncheckedSendable(q.storage.pointer(as: T.self)), kp = UncheckedSendable(k.storage.pointer(as: T.self))
        let vp = UncheckedSendable(v.storage.pointer(as: T.self)), op = UncheckedSendable(out.storage.pointer(as: T.self))
        let wp = UncheckedSendable(weights.map { $0.storage.pointer(as: T.self) })
        let dp = UncheckedSendable(dropMask.map { $0.storage.pointer(as: T.self) })
        let mviews = masks.map { m in
            (m.isBool, m.strides, UncheckedSendable(m.isBool ? UnsafeMutableRawPointer(m.tensor.storage.pointer(as: Bool.self))
                                                            : UnsafeMutableRawPointer(m.tensor.storage.pointer(as: T.self))))
        }
        let pairs = n.b * n.h, plane = n.lq * n.lk
        GEMM.withSingleThreadedGEMMs {
            Threading.parallelFor(pairs, grain: 1) { range in
                // One scratch plane per worker: the scores when P is not kept, else the dropped weights.
                let scratch: UnsafeMutablePointer<T>? = wp.value == nil || dp.value != nil ? .allocate(capacity: plane) : nil
                defer { scratch?.deallocate() }
                for pair in range {
                    let bi = pair / n.h, hi = pair % n.h
                    guard let s = wp.value.map({ $0 + pair * plane }) ?? scratch else { continue }
                    GEMM.gemm(transA: false, transB: true, m: n.lq, n: n.lk, k: n.d, alpha: scale,
                              a: qp.value + ql.base(bi, hi), lda: ql.row, b: kp.value + kl.base(bi, hi), ldb: kl.row,
                              beta: 0, c: s, ldc: n.lk, threads: 1)
                    for i in 0..<n.lq {
                        let row = s + i * n.lk
                        for (isBool, st, mp) in mviews {
                            let base = bi * st[0] + hi * st[1] + i * st[2]
                            if isBool {
                                let m = mp.value.assumingMemoryBound(to: Bool.self) + base
                                for j in 0..<n.lk where m[j * st[3]] { row[j] = -.infinity }
                            } else {
                                let m = mp.value.assumingMemoryBound(to: T.self) + base
                                for j in 0..<n.lk { row[j] += m[j * st[3]] }
                            }
                        }
                        if causal && i + 1 < n.lk { for j in (i + 1)..<n.lk { row[j] = -.infinity } }
                        if T.self == Float.self {
                            myelin_softmax_rows_f32(1, Int64(n.lk), UnsafeMutableRawPointer(row).assumingMemoryBound(to: Float.self), Int64(n.lk))
                        } else {
                            softmaxRow(row, n.lk)
                        }
                    }
                    // Dropout: undropped P stays kept for the backward pass; the dropped copy goes to scratch.
                    var pv = UnsafePointer(s)
                    if let dm = dp.value, let dst = scratch {
                        let m = dm + pair * plane
                        for j in 0..<plane { dst[j] = s[j] * m[j] }
                        pv = UnsafePointer(dst)
                    }
                    GEMM.gemm(transA: false, transB: false, m: n.lq, n: n.dv, k: n.lk, alpha: 1, a: pv, lda: n.lk,
                              b: vp.value + vl.base(bi, hi), ldb: vl.row, beta: 0,
                              c: op.value + outLayout.base(bi, hi), ldc: outLayout.row, threads: 1)
                }
            }
        }
    }

    /// In-place softmax of a score row; a row with no finite score (all keys masked) becomes zeros.
    /// Max and sum use eight independent accumulators so the loops vectorise.
    @inline(__always)
    static func softmaxRow<T: FloatElement>(_ row: UnsafeMutablePointer<T>, _ n: Int) {
        var m0 = -T.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
        var j = 0
        while j + 8 <= n {
            m0 = Swift.max(m0, row[j]); m1 = Swift.max(m1, row[j + 1]); m2 = Swift.max(m2, row[j + 2]); m3 = Swift.max(m3, row[j + 3])
            m4 = Swift.max(m4, row[j + 4]); m5 = Swift.max(m5, row[j + 5]); m6 = Swift.max(m6, row[j + 6]); m7 = Swift.max(m7, row[j + 7])
            j += 8
        }
        var m = Swift.max(Swift.max(Swift.max(m0, m1), Swift.max(m2, m3)), Swift.max(Swift.max(m4, m5), Swift.max(m6, m7)))
        while j < n { m = Swift.max(m, row[j]); j += 1 }
        if m == -T.infinity || m.isNaN {
            row.update(repeating: 0, count: n)
            return
        }
        for k in 0..<n { row[k] = FastMath.exp(row[k] - m) }
        var s0: T = 0, s1: T = 0, s2: T = 0, s3: T = 0, s4: T = 0, s5: T = 0, s6: T = 0, s7: T = 0
        j = 0
        while j + 8 <= n {
            s0 += row[j]; s1 += row[j + 1]; s2 += row[j + 2]; s3 += row[j + 3]
            s4 += row[j + 4]; s5 += row[j + 5]; s6 += row[j + 6]; s7 += row[j + 7]
            j += 8
        }
        while j < n { s0 += row[j]; j += 1 }
        let inv = 1 / (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)))
        for k in 0..<n { row[k] *= inv }
    }

    private static func backward<T: FloatElement>(
        _: T.Type, _ srcs: [Tensor], _ idx: (Int, Int, Int), _ grads: [Tensor?], _ layouts: (Layout, Layout, Layout),
        _ n: Dims, _ scale: T, _ weights: Tensor, _ dropMask: Tensor?, _ g: Tensor, _ outLayout: Layout
    ) {
        // Gradients accumulate (beta = 1) into zeroed tensors: Q, K and V may be one tensor.
        let (ql, kl, vl) = layouts
        let (qi, ki, vi) = idx
        let qp = UncheckedSendable(srcs[qi].storage.pointer(as: T.self)), kp = UncheckedSendable(srcs[ki].storage.pointer(as: T.self))
        let vp = UncheckedSendable(srcs[vi].storage.pointer(as: T.self))
        let gq = UncheckedSendable(grads[qi]?.storage.pointer(as: T.self)), gk = UncheckedSendable(grads[ki]?.storage.pointer(as: T.self))
        let gv = UncheckedSendable(grads[vi]?.storage.pointer(as: T.self))
        let wp = UncheckedSendable(weights.storage.pointer(as: T.self)), gp = UncheckedSendable(g.storage.pointer(as: T.self))
        let dp = UncheckedSendable(dropMask.map { $0.storage.pointer(as: T.self) })
        let pairs = n.b * n.h, plane = n.lq * n.lk
        GEMM.withSingleThreadedGEMMs {
            Threading.parallelFor(pairs, grain: 1) { range in
                let ds = UnsafeMutablePointer<T>.allocate(capacity: plane)
                let pd: UnsafeMutablePointer<T>? = dp.value == nil ? nil : .allocate(capacity: plane)
                defer { ds.deallocate(); pd?.deallocate() }
                for pair in range {
                    let bi = pair / n.h, hi = pair % n.h
                    let p = wp.value + pair * plane
                    let dO = gp.value + outLayout.base(bi, hi)
                    if let gv = gv.value {
                        // dV = P_droppedᵀ·dO
                        var pa = UnsafePointer(p)
                        if let dm = dp.value, let pd {
                            let m = dm + pair * plane
                            for j in 0..<plane { pd[j] = p[j] * m[j] }
                            pa = UnsafePointer(pd)
                        }
                        GEMM.gemm(transA: true, transB: false, m: n.lk, n: n.dv, k: n.lq, alpha: 1, a: pa, lda: n.lk,
                                  b: dO, ldb: outLayout.row, beta: 1, c: gv + vl.base(bi, hi), ldc: vl.row, threads: 1)
                    }
                    guard gq.value != nil || gk.value != nil else { continue }
                    // dP = dO·Vᵀ (times the dropout mask), then dS = P ⊙ (dP − rowsum(dP ⊙ P)).
                    GEMM.gemm(transA: false, transB: true, m: n.lq, n: n.lk, k: n.dv, alpha: 1, a: dO, lda: outLayout.row,
                              b: vp.value + vl.base(bi, hi), ldb: vl.row, beta: 0, c: ds, ldc: n.lk, threads: 1)
                    if let dm = dp.value {
                        let m = dm + pair * plane
                        for j in 0..<plane { ds[j] *= m[j] }
                    }
                    for i in 0..<n.lq {
                        let r = ds + i * n.lk, pr = p + i * n.lk
                        var s: T = 0
                        for j in 0..<n.lk { s += r[j] * pr[j] }
                        for j in 0..<n.lk { r[j] = pr[j] * (r[j] - s) }
                    }
                    if let gq = gq.value {
                        GEMM.gemm(transA: false, transB: false, m: n.lq, n: n.d, k: n.lk, alpha: scale, a: ds, lda: n.lk,
                                  b: kp.value + kl.base(bi, hi), ldb: kl.row, beta: 1, c: gq + ql.base(bi, hi), ldc: ql.row, threads: 1)
                    }
                    if let gk = gk.value {
                        GEMM.gemm(transA: true, transB: false, m: n.lk, n: n.d, k: n.lq, alpha: scale, a: ds, lda: n.lk,
                                  b: qp.value + ql.base(bi, hi), ldb: ql.row, beta: 1, c: gk + kl.base(bi, hi), ldc: kl.row, threads: 1)
                    }
                }
            }
        }
    }
}

extension AttentionKernel {
    /// Inference-only self-attention over sequences packed back to back (no padding rows):
    /// `qkv` [N, 3·E] holds each token's Q | K | V projections (head h at features h·d..<(h+1)·d
    /// of each third), sequence s is rows `starts[s]..<starts[s] + lengths[s]`, and every token
    /// attends to every token of its own sequence. Returns [N, E] (heads merged), the input of
    /// the output projection. No masks, no dropout, no autograd node; float32 or float64.
    static func packedSelfAttention(qkv: Tensor, starts: [Int], lengths: [Int], heads: Int) -> Tensor {
        require(qkv.rank == 2 && qkv.shape[1] % (3 * heads) == 0,
                "internal: packedSelfAttention needs [tokens, 3·E] with E divisible by \(heads) heads, got \(qkv.shape)")
        require(starts.count == lengths.count, "internal: packedSelfAttention: \(starts.count) starts for \(lengths.count) lengths")
        let n = qkv.shape[0], e = qkv.shape[1] / 3
        let out = Tensor(uninitializedShape: [n, e], dtype: qkv.dtype)
        withExtendedLifetime((qkv, out)) {
            switch qkv.dtype {
            case .float64: packedForward(Double.self, qkv, out, starts, lengths, heads, e)
            default: packedForward(Float.self, qkv, out, starts, lengths, heads, e)
            }
        }
        return out
    }

    private static func packedForward<T: FloatElement>(
        _: T.Type, _ qkv: Tensor, _ out: Tensor, _ starts: [Int], _ lengths: [Int], _ heads: Int, _ e: Int
    ) {
        let d = e / heads, ld = 3 * e, seqs = lengths.count
        let scale = T(1 / Double(d).squareRoot())
        let maxLength = lengths.max() ?? 0
        guard maxLength > 0 else { return }
        let src = UncheckedSendable(UnsafePointer(qkv.storage.pointer(as: T.self)))
        let dst = UncheckedSendable(out.storage.pointer(as: T.self))
        // Pairs run head-major (all sequences of head 0, then head 1, ...), so the contiguous
        // halves given to two workers hold equal work whatever the sequences' lengths.
        GEMM.withSingleThreadedGEMMs {
            Threading.parallelFor(seqs * heads, grain: 1) { range in
                let s = UnsafeMutablePointer<T>.allocate(capacity: maxLength * maxLength)
                defer { s.deallocate() }
                for pair in range {
                    let hi = pair / seqs, si = pair % seqs
                    let l = lengths[si]
                    guard l > 0 else { continue }
                    let base = starts[si] * ld + hi * d
                    GEMM.gemm(transA: false, transB: true, m: l, n: l, k: d, alpha: scale,
                              a: src.value + base, lda: ld, b: src.value + base + e, ldb: ld,
                              beta: 0, c: s, ldc: l, threads: 1)
                    if T.self == Float.self {
                        myelin_softmax_rows_f32(Int64(l), Int64(l), UnsafeMutableRawPointer(s).assumingMemoryBound(to: Float.self), Int64(l))
                    } else {
                        for i in 0..<l { softmaxRow(s + i * l, l) }
                    }
                    GEMM.gemm(transA: false, transB: false, m: l, n: d, k: l, alpha: 1, a: s, lda: l,
                              b: src.value + base + 2 * e, ldb: ld, beta: 0,
                              c: dst.value + starts[si] * e + hi * d, ldc: e, threads: 1)
                }
            }
        }
    }
}
