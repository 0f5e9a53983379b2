/// Reductions over any set of axes. Each axis reduces as an [outer, n, inner]
/// layout, so one kernel serves rows (inner = 1, a vector dot) and columns
/// (inner > 1, vectorised across the inner extent).

extension Kernels {
    /// Sums `x` viewed as [outer, n, inner] over the middle axis into [outer, inner].
    @inlinable
    public static func sumMiddle<T: FloatElement>(
        _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int
    ) {
        if inner == 1 {
            Threading.parallelFor(outer, grain: max(1, Threading.elementwiseGrain / max(n, 1))) { r in
                for o in r {
                    let p = x + o * n
                    // Four accumulators: vectorises and keeps rounding error low.
                    var s0: T = 0, s1: T = 0, s2: T = 0, s3: T = 0
                    var i = 0
                    while i + 4 <= n { s0 += p[i]; s1 += p[i + 1]; s2 += p[i + 2]; s3 += p[i + 3]; i += 4 }
                    while i < n { s0 += p[i]; i += 1 }
                    out[o] = (s0 + s1) + (s2 + s3)
                }
            }
        } else {
            Threading.parallelFor(outer * inner, grain: Threading.elementwiseGrain) { r in
                // Parallel over (outer, inner-chunk) pairs flattened into one range.
                var idx = r.lowerBound
                while idx < r.upperBound {
                    let o = idx / inner, i0 = idx % inner
                    let i1 = min(inner, i0 + (r.upperBound - idx))
                    let dst = out + o * inner
                    let src = x + o * n * inner
                    for i in i0..<i1 { dst[i] = src[i] }
                    for k in 1..<max(n, 1) {
                        let row = src + k * inner
                        for i in i0..<i1 { dst[i] += row[i] }
                    }
                    if n == 0 { for i in i0..<i1 { dst[i] = 0 } }
                    idx += i1 - i0
                }
            }
        }
    }
}

extension Tensor {
    /// Splits `shape` around `axis` into (outer, n, inner).
    static func split(_ shape: [Int], at axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (Shape.count(Array(shape[..<axis])), shape[axis], Shape.count(Array(shape[(axis + 1)...])))
    }

    /// Sum over one axis (kept as size 1), no autograd.
    func rawSum(axis: Int) -> Tensor {
        var outShape = shape
        outShape[axis] = 1
        let (outer, n, inner) = Self.split(shape, at: axis)
        let out = Tensor(uninitializedShape: outShape, dtype: dtype)
        switch dtype {
        case .float64: Kernels.sumMiddle(storage.pointer(as: Double.self), out.storage.pointer(as: Double.self), outer: outer, n: n, inner: inner)
        case .float32: Kernels.sumMiddle(storage.pointer(as: Float.self), out.storage.pointer(as: Float.self), outer: outer, n: n, inner: inner)
        default: preconditionFailure("sum: integer reduction goes through a float cast")
        }
        return out
    }

    /// Sum over `axes` (all axes when nil); reduced axes are kept as size 1 when `keepDims`.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axesN = Shape.normalizeAxes(axes, rank: rank, op: "sum")
        let x = dtype.isFloatingPoint ? self : self.to(.float32)
        var out = x.detached()
        for a in axesN { out = out.rawSum(axis: a) }
        let kept = out.shape
        var final = keepDims ? out : out.reshaped(shape.enumerated().filter { !axesN.contains($0.offset) }.map(\.element))
        if axesN.isEmpty { final = x.detached() }
        let inShape = shape
        return Autograd.record(final, inputs: [x], name: "sum") { g, _ in
            [g.reshaped(kept).expanded(to: inShape)]
        }
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }
}
