/// Softmax and log-softmax along one axis, forward and backward as fused kernels.
///
/// The tensor is viewed as [outer, n, inner] around the axis. A row (inner = 1)
/// is one pass for the maximum, one writing exp(x − max) and summing it
/// pairwise, one normalising. When the axis is not last, the same steps run
/// across a tile of the inner extent at once, so the loops are vectorised
/// instead of striding through memory one row at a time.

import RealModule

extension Kernels {
    /// Inner elements a softmax column unit handles together: up to 256, fewer for long
    /// axes so a unit's n × tile block stays in L2 between its passes.
    @inlinable
    public static func softmaxTileWidth(n: Int, inner: Int) -> Int {
        Swift.min(inner, Swift.max(16, Swift.min(256, (1 << 14) / Swift.max(n, 1)) & ~15))
    }

    /// y = softmax(x) (or log-softmax when `log`) along the middle axis of [outer, n, inner], n ≥ 1.
    @inlinable
    public static func softmax<T: FloatElement>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int, log: Bool
    ) {
        let tile = inner == 1 ? 1 : softmaxTileWidth(n: n, inner: inner)
        let tiles = (inner + tile - 1) / tile
        // exp costs several element-wise ops, so a smaller grain pays off.
        Threading.parallelFor(outer * tiles, grain: Swift.max(1, Threading.elementwiseGrain / (4 * n * tile))) { range in
            if inner == 1 {
                for o in range { softmaxRow(x + o * n, y + o * n, n, log: log) }
                return
            }
            withUnsafeTemporaryAllocation(of: T.self, capacity: 2 * tile) { buf in
                guard let m = buf.baseAddress else { return }
                let s = m + tile
                for u in range {
                    let o = u / tiles, i0 = (u % tiles) * tile, w = Swift.min(tile, inner - i0)
                    let src = x + o * n * inner + i0, dst = y + o * n * inner + i0
                    reduceColumns(MaxCombiner.self, src, rows: n, stride: inner, width: w, into: m)
                    for k in 0..<n {
                        let p = src + k * inner, q = dst + k * inner
                        for i in 0..<w { q[i] = FastMath.exp(p[i] - m[i]) }
                    }
                    reduceColumns(SumCombiner.self, UnsafePointer(dst), rows: n, stride: inner, width: w, into: s)
                    if log {
                        for i in 0..<w { s[i] = m[i] + .log(s[i]) }
                        for k in 0..<n {
                            let p = src + k * inner, q = dst + k * inner
                            for i in 0..<w { q[i] = p[i] - s[i] }
                        }
                    } else {
                        for i in 0..<w { s[i] = 1 / s[i] }
                        for k in 0..<n {
                            let q = dst + k * inner
                            for i in 0..<w { q[i] *= s[i] }
                        }
                    }
                }
            }
        }
    }

    @inlinable
    static func softmaxRow<T: FloatElement>(_ p: UnsafePointer<T>, _ q: UnsafeMutablePointer<T>, _ n: Int, log: Bool) {
        let m = reduceRow(MaxCombiner.self, p, n)
        for k in 0..<n { q[k] = FastMath.exp(p[k] - m) }
        let s = reduceRow(SumCombiner.self, UnsafePointer(q), n)
        if log {
            let c = m + .log(s)
            for k in 0..<n { q[k] = p[k] - c }
        } else {
            let inv = 1 / s
            for k in 0..<n { q[k] *= inv }
        }
    }

    /// Gradient of softmax (`log` false: gx = y·(g − Σ g·y)) or log-softmax
    /// (`log` true: gx = g − exp(y)·Σ g) given the forward output `y`.
    @inlinable
    public static func softmaxBackward<T: FloatElement>(
        _ g: UnsafePointer<T>, _ y: UnsafePointer<T>, _ gx: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int, log: Bool
    ) {
        let tile = inner == 1 ? 1 : softmaxTileWidth(n: n, inner: inner)
        let tiles = (inner + tile - 1) / tile
        Threading.parallelFor(outer * tiles, grain: Swift.max(1, Threading.elementwiseGrain / (2 * n * tile))) { range in
            if inner == 1 {
                for o in range {
                    let gp = g + o * n, yp = y + o * n, out = gx + o * n
                    if log {
                        let s = reduceRow(SumCombiner.self, gp, n)
                        for k in 0..<n { out[k] = gp[k] - FastMath.exp(yp[k]) * s }
                    } else {
                        // The products go through `out` so the dot product sums pairwise.
                        for k in 0..<n { out[k] = gp[k] * yp[k] }
                        let s = reduceRow(SumCombiner.self, UnsafePointer(out), n)
                        for k in 0..<n { out[k] = yp[k] * (gp[k] - s) }
                    }
                }
                return
            }
            withUnsafeTemporaryAllocation(of: T.self, capacity: tile) { buf in
                guard let s = buf.baseAddress else { return }
                for u in range {
                    let o = u / tiles, i0 = (u % tiles) * tile, w = Swift.min(tile, inner - i0)
                    let base = o * n * inner + i0
                    let gp = g + base, yp = y + base, out = gx + base
                    if log {
                        reduceColumns(SumCombiner.self, gp, rows: n, stride: inner, width: w, into: s)
                        for k in 0..<n {
                            let r = k * inner
                            for i in 0..<w { out[r + i] = gp[r + i] - FastMath.exp(yp[r + i]) * s[i] }
                        }
                    } else {
                        for k in 0..<n {
                            let r = k * inner
                            for i in 0..<w { out[r + i] = gp[r + i] * yp[r + i] }
                        }
                        reduceColumns(SumCombiner.self, UnsafePointer(out), rows: n, stride: inner, width: w, into: s)
                        for k in 0..<n {
                            let r = k * inner
                            for i in 0..<w { out[r + i] = yp[r + i] * (gp[r + i] - s[i]) }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// exp(x) / Σ exp(x) along `axis`, computed stably (the row maximum is subtracted first).
    public func softmax(axis: Int = -1) -> Tensor { softmaxFamily(axis: axis, log: false, op: "softmax") }

    /// log(softmax(x)) along `axis`, computed as x − max − log Σ exp(x − max): finite where softmax underflows.
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxFamily(axis: axis, log: true, op: "logSoftmax") }

    func softmaxFamily(axis: Int, log: Bool, op: String) -> Tensor {
        let a = Shape.normalizeAxis(axis, rank: rank, op: op)
        let x = floatingPoint
        let (outer, n, inner) = rank == 0 ? (1, 1, 1) : Self.outerMiddleInner(shape, at: a)
        let out = Tensor(uninitializedShape: shape, dtype: x.dtype)
        if count > 0 {
            withExtendedLifetime(x) {
                switch x.dtype {
                case .float64:
                    Kernels.softmax(x.storage.pointer(as: Double.self), out.storage.pointer(as: Double.self), outer: outer, n: n, inner: inner, log: log)
                default:
                    Kernels.softmax(x.storage.pointer(as: Float.self), out.storage.pointer(as: Float.self), outer: outer, n: n, inner: inner, log: log)
                }
            }
        }
        return Autograd.record(out, inputs: [x], name: op) { g, _ in
            let g = g.to(out.dtype)
            let gx = Tensor(uninitializedShape: out.shape, dtype: out.dtype)
            if gx.count > 0 {
                withExtendedLifetime((g, out)) {
                    switch out.dtype {
                    case .float64:
                        Kernels.softmaxBackward(g.storage.pointer(as: Double.self), out.storage.pointer(as: Double.self),
                                                gx.storage.pointer(as: Double.self), outer: outer, n: n, inner: inner, log: log)
                    default:
                        Kernels.softmaxBackward(g.storage.pointer(as: Float.self), out.storage.pointer(as: Float.self),
                                                gx.storage.pointer(as: Float.self), outer: outer, n: n, inner: inner, log: log)
                    }
                }
            }
            return [gx]
        }
    }
}
