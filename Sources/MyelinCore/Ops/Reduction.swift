/// Reductions: sum, mean, max, min, argmax, argmin, variance, std, logSumExp.
///
/// A reduction first collapses the shape into alternating blocks of kept and
/// reduced axes (size-1 axes dropped, neighbours of the same kind merged), so
/// reducing several adjacent axes costs one pass. Each reduced block is one
/// [outer, n, inner] pass: rows (inner = 1) reduce pairwise with eight
/// accumulators; columns (inner > 1) reduce across tiles of the inner extent,
/// vectorised, combining rows pairwise. Axes that are not adjacent ([0, 2] of a
/// rank-3 tensor) take one pass per block, innermost first.

import Foundation

/// How a reduction combines two values.
public protocol ReduceCombiner {
    static func identity<T: FloatElement>() -> T
    static func combine<T: FloatElement>(_ a: T, _ b: T) -> T
}

public enum SumCombiner: ReduceCombiner {
    @inlinable public static func identity<T: FloatElement>() -> T { 0 }
    @inlinable public static func combine<T: FloatElement>(_ a: T, _ b: T) -> T { a + b }
}

/// NaN wins, as in PyTorch: once an accumulator is NaN it stays NaN.
public enum MaxCombiner: ReduceCombiner {
    @inlinable public static func identity<T: FloatElement>() -> T { -.infinity }
    @inlinable public static func combine<T: FloatElement>(_ a: T, _ b: T) -> T { a != a ? a : (b <= a ? a : b) }
}

public enum MinCombiner: ReduceCombiner {
    @inlinable public static func identity<T: FloatElement>() -> T { .infinity }
    @inlinable public static func combine<T: FloatElement>(_ a: T, _ b: T) -> T { a != a ? a : (b >= a ? a : b) }
}

/// Whether `v` replaces the current best in argmax/argmin. Strict, so the first
/// occurrence wins on ties; the first NaN wins over numbers (PyTorch).
public protocol ArgComparator {
    static func better<T: FloatElement>(_ v: T, than best: T) -> Bool
}

public enum ArgMaxComparator: ArgComparator {
    @inlinable public static func better<T: FloatElement>(_ v: T, than best: T) -> Bool { v > best || (v != v && best == best) }
}

public enum ArgMinComparator: ArgComparator {
    @inlinable public static func better<T: FloatElement>(_ v: T, than best: T) -> Bool { v < best || (v != v && best == best) }
}

extension Kernels {
    /// Rows shorter than this reduce with plain accumulators; longer ones split in halves.
    public static let pairwiseBlock = 256
    /// Inner elements handled together by column reductions (fits in L1 with its scratch).
    public static let reductionTile = 512

    /// Combines `p[0..<n]` (n ≥ 1) pairwise: error grows with log n, not n.
    @inlinable
    public static func reduceRow<T: FloatElement, R: ReduceCombiner>(_ r: R.Type, _ p: UnsafePointer<T>, _ n: Int) -> T {
        if n > pairwiseBlock {
            let h = (n / 2 + 7) & ~7
            return R.combine(reduceRow(r, p, h), reduceRow(r, p + h, n - h))
        }
        // Eight independent accumulators: vectorisable without reassociating.
        var a0: T = R.identity(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
        var i = 0
        while i + 8 <= n {
            a0 = R.combine(a0, p[i]); a1 = R.combine(a1, p[i + 1]); a2 = R.combine(a2, p[i + 2]); a3 = R.combine(a3, p[i + 3])
            a4 = R.combine(a4, p[i + 4]); a5 = R.combine(a5, p[i + 5]); a6 = R.combine(a6, p[i + 6]); a7 = R.combine(a7, p[i + 7])
            i += 8
        }
        while i < n { a0 = R.combine(a0, p[i]); i += 1 }
        return R.combine(R.combine(R.combine(a0, a1), R.combine(a2, a3)), R.combine(R.combine(a4, a5), R.combine(a6, a7)))
    }

    /// Combines `rows` rows of `width` elements, `stride` apart, into `dst` (rows ≥ 1), pairwise over rows.
    @inlinable
    public static func reduceColumns<T: FloatElement, R: ReduceCombiner>(
        _ r: R.Type, _ src: UnsafePointer<T>, rows n: Int, stride: Int, width w: Int, into dst: UnsafeMutablePointer<T>
    ) {
        if n <= 32 {
            dst.update(from: src, count: w)
            var k = 1
            while k < n {
                let row = src + k * stride
                for i in 0..<w { dst[i] = R.combine(dst[i], row[i]) }
                k += 1
            }
            return
        }
        let h = n / 2
        reduceColumns(r, src, rows: h, stride: stride, width: w, into: dst)
        withUnsafeTemporaryAllocation(of: T.self, capacity: w) { buf in
            guard let t = buf.baseAddress else { return }
            reduceColumns(r, src + h * stride, rows: n - h, stride: stride, width: w, into: t)
            for i in 0..<w { dst[i] = R.combine(dst[i], t[i]) }
        }
    }

    /// Serial part of `reduce`: work units are (outer index, inner tile) pairs.
    @inlinable
    static func reduceUnits<T: FloatElement, R: ReduceCombiner>(
        _ r: R.Type, _ x: UnsafePointer<T>, outerStride: Int, n: Int, inner: Int, tile: Int,
        _ out: UnsafeMutablePointer<T>, _ units: Range<Int>
    ) {
        if inner == 1 {
            for o in units { out[o] = reduceRow(r, x + o * outerStride, n) }
            return
        }
        let tiles = (inner + tile - 1) / tile
        for u in units {
            let o = u / tiles, i0 = (u % tiles) * tile
            reduceColumns(r, x + o * outerStride + i0, rows: n, stride: inner, width: Swift.min(tile, inner - i0),
                          into: out + o * inner + i0)
        }
    }

    /// Reduces `x` viewed as [outer, n, inner] over the middle axis into [outer, inner] (n ≥ 1).
    /// Parallel over (outer, inner tile) units, or over chunks of n when there are too few
    /// units to keep the cores busy (a full reduction is a single unit).
    @inlinable
    public static func reduce<T: FloatElement, R: ReduceCombiner>(
        _ r: R.Type, _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int
    ) {
        require(n >= 1, "internal: reduce over an empty axis")
        let tile = inner == 1 ? 1 : Swift.min(inner, reductionTile)
        let units = outer * ((inner + tile - 1) / tile)
        let work = outer * n * inner
        let threads = Threading.threadCount
        let grain = Threading.elementwiseGrain
        if threads == 1 || work < 2 * grain {
            reduceUnits(r, x, outerStride: n * inner, n: n, inner: inner, tile: tile, out, 0..<units)
        } else if units >= threads {
            Threading.parallelFor(units, grain: Swift.max(1, grain / (n * tile))) { range in
                reduceUnits(r, x, outerStride: n * inner, n: n, inner: inner, tile: tile, out, range)
            }
        } else {
            // Few outputs, long reductions: each thread reduces a slice of n, then the partials combine.
            let chunks = Swift.min(threads, n, work / grain)
            let m = outer * inner
            let scratch = UnsafeMutablePointer<T>.allocate(capacity: chunks * m)
            defer { scratch.deallocate() }
            Threading.parallelFor(chunks, grain: 1) { range in
                for c in range {
                    let k0 = n * c / chunks, k1 = n * (c + 1) / chunks
                    reduceUnits(r, x + k0 * inner, outerStride: n * inner, n: k1 - k0, inner: inner, tile: tile,
                                scratch + c * m, 0..<units)
                }
            }
            for j in 0..<m {
                var a = scratch[j]
                for c in 1..<chunks { a = R.combine(a, scratch[c * m + j]) }
                out[j] = a
            }
        }
    }

    /// Sums `x` viewed as [outer, n, inner] over the middle axis into [outer, inner].
    @inlinable
    public static func sumMiddle<T: FloatElement>(
        _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int
    ) {
        if n == 0 { out.update(repeating: 0, count: outer * inner); return }
        reduce(SumCombiner.self, x, out, outer: outer, n: n, inner: inner)
    }

    /// Index (along the middle axis) of the best element of `x` viewed as [outer, n, inner], n ≥ 1.
    @inlinable
    public static func argReduce<T: FloatElement, C: ArgComparator>(
        _ c: C.Type, _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<Int64>, outer: Int, n: Int, inner: Int
    ) {
        let tile = inner == 1 ? 1 : Swift.min(inner, reductionTile)
        let tiles = (inner + tile - 1) / tile
        Threading.parallelFor(outer * tiles, grain: Swift.max(1, Threading.elementwiseGrain / (n * tile))) { range in
            if inner == 1 {
                for o in range {
                    let p = x + o * n
                    var best = p[0], bi = 0
                    for k in 1..<Swift.max(n, 1) where C.better(p[k], than: best) { best = p[k]; bi = k }
                    out[o] = Int64(bi)
                }
                return
            }
            withUnsafeTemporaryAllocation(of: T.self, capacity: tile) { buf in
                guard let bv = buf.baseAddress else { return }
                for u in range {
                    let o = u / tiles, i0 = (u % tiles) * tile, w = Swift.min(tile, inner - i0)
                    let src = x + o * n * inner + i0, dst = out + o * inner + i0
                    bv.update(from: src, count: w)
                    dst.update(repeating: 0, count: w)
                    for k in 1..<Swift.max(n, 1) {
                        let row = src + k * inner
                        let kk = Int64(k)
                        for i in 0..<w where C.better(row[i], than: bv[i]) { bv[i] = row[i]; dst[i] = kk }
                    }
                }
            }
        }
    }
}

/// The shape bookkeeping of one reduction over a set of axes.
struct ReductionLayout {
    /// Normalised, sorted axes actually reduced (a scalar's axis 0 reduces nothing).
    let axes: [Int]
    /// The input shape with reduced axes set to 1 (the keepDims shape).
    let keptShape: [Int]
    /// The result's shape.
    let outShape: [Int]
    /// Elements combined into each output.
    let reducedCount: Int
    /// One [outer, n, inner] pass per block of adjacent reduced axes, innermost first.
    let passes: [(outer: Int, n: Int, inner: Int)]

    init(_ shape: [Int], axes: [Int]?, keepDims: Bool, op: String) {
        let ax = Shape.normalizeAxes(axes, rank: shape.count, op: op).filter { $0 < shape.count }
        self.axes = ax
        var kept = shape
        for a in ax { kept[a] = 1 }
        keptShape = kept
        outShape = keepDims ? kept : shape.enumerated().filter { !ax.contains($0.offset) }.map(\.element)
        reducedCount = ax.reduce(1) { $0 * shape[$1] }
        var groups: [(extent: Int, reduced: Bool)] = []
        for (i, d) in shape.enumerated() where d != 1 {
            let r = ax.contains(i)
            if let last = groups.last, last.reduced == r { groups[groups.count - 1].extent *= d } else { groups.append((d, r)) }
        }
        var ps: [(outer: Int, n: Int, inner: Int)] = []
        while let j = groups.lastIndex(where: \.reduced) {
            let outer = groups[..<j].reduce(1) { $0 * $1.extent }
            let inner = groups[(j + 1)...].reduce(1) { $0 * $1.extent }
            ps.append((outer, groups[j].extent, inner))
            groups.remove(at: j)
        }
        passes = ps
    }

    var outCount: Int { Shape.count(outShape) }
}

fileprivate enum EqualMaskFn: BinaryFunction {
    static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { a == b ? 1 : 0 }
}
/// exp(a − b): the shifted exponentials of logSumExp and its gradient.
fileprivate enum ExpOfDifferenceFn: BinaryFunction {
    static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { FastMath.exp(a - b) }
}
fileprivate enum LogPlusFn: BinaryFunction {
    static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { .log(a) + b }
}
/// a / b, but 0 where b is 0: std's gradient at zero spread (PyTorch masks it the same way).
fileprivate enum DivOrZeroFn: BinaryFunction {
    static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { b == 0 ? 0 : a / b }
}
/// Infinite maxima shift by 0 so logSumExp of all −inf is −inf, not NaN.
fileprivate enum FiniteOrZeroFn: UnaryFunction {
    static func apply<T: FloatElement>(_ x: T) -> T { x.isFinite ? x : 0 }
}
fileprivate enum SquareRootFn: UnaryFunction {
    static func apply<T: FloatElement>(_ x: T) -> T { .sqrt(x) }
}

extension Tensor {
    /// Splits `shape` around `axis` into (outer, n, inner).
    static func outerMiddleInner(_ shape: [Int], at axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (Shape.count(Array(shape[..<axis])), shape[axis], Shape.count(Array(shape[(axis + 1)...])))
    }

    /// This tensor, or a float32 copy when it holds integers or bools.
    var floatingPoint: Tensor { dtype.isFloatingPoint ? self : to(.float32) }

    /// Runs the passes of `layout` with `R` over a float tensor, without autograd;
    /// the result has `shape` (the layout's output or kept shape).
    func reduceFloat<R: ReduceCombiner>(_ r: R.Type, _ layout: ReductionLayout, shape outShape: [Int]) -> Tensor {
        require(dtype.isFloatingPoint, "internal: reduceFloat on \(dtype)")
        if Shape.count(outShape) == 0 { return Tensor.zeros(outShape, dtype: dtype) }
        if layout.reducedCount == 0 {
            return Tensor.full(outShape, R.identity() as Double, dtype: dtype)
        }
        var cur = detached()
        for p in layout.passes {
            let next = Tensor(uninitializedShape: [p.outer * p.inner], dtype: dtype)
            withExtendedLifetime(cur) {
                switch dtype {
                case .float64:
                    Kernels.reduce(r, cur.storage.pointer(as: Double.self), next.storage.pointer(as: Double.self), outer: p.outer, n: p.n, inner: p.inner)
                default:
                    Kernels.reduce(r, cur.storage.pointer(as: Float.self), next.storage.pointer(as: Float.self), outer: p.outer, n: p.n, inner: p.inner)
                }
            }
            cur = next
        }
        return Tensor(storage: cur.storage, shape: outShape)
    }

    /// Exact integer sums (int64), as PyTorch sums integer and bool tensors.
    func integerSum(_ layout: ReductionLayout) -> Tensor {
        if layout.outCount == 0 || layout.reducedCount == 0 { return Tensor.zeros(layout.outShape, dtype: .int64) }
        var cur = to(.int64)
        for p in layout.passes {
            let next = Tensor(uninitializedShape: [p.outer * p.inner], dtype: .int64)
            withExtendedLifetime(cur) {
                let x = cur.storage.pointer(as: Int64.self), out = next.storage.pointer(as: Int64.self)
                for o in 0..<p.outer {
                    let dst = out + o * p.inner, src = x + o * p.n * p.inner
                    dst.update(from: src, count: p.inner)
                    for k in 1..<p.n {
                        let row = src + k * p.inner
                        for i in 0..<p.inner { dst[i] = dst[i] &+ row[i] }
                    }
                }
            }
            cur = next
        }
        return Tensor(storage: cur.storage, shape: layout.outShape)
    }

    // MARK: sum, mean

    /// Sum over `axes` (all axes when nil); reduced axes are kept as size 1 when `keepDims`.
    /// Integer and bool tensors sum exactly into int64 (as PyTorch); float sums are pairwise.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let layout = ReductionLayout(shape, axes: axes, keepDims: keepDims, op: "sum")
        if !dtype.isFloatingPoint { return integerSum(layout) }
        let out = reduceFloat(SumCombiner.self, layout, shape: layout.outShape)
        let inShape = shape, kept = layout.keptShape
        return Autograd.record(out, inputs: [self], name: "sum") { g, _ in
            [g.reshaped(kept).expanded(to: inShape)]
        }
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all when nil). Integer tensors average in float32; an empty reduction is NaN.
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let layout = ReductionLayout(shape, axes: axes, keepDims: keepDims, op: "mean")
        let x = floatingPoint
        let n = layout.reducedCount
        let sums = x.reduceFloat(SumCombiner.self, layout, shape: layout.outShape)
        let out = n == 1 ? sums : sums * (1 / Double(n))
        let inShape = shape, kept = layout.keptShape
        return Autograd.record(out, inputs: [x], name: "mean") { g, _ in
            [g.reshaped(kept).expanded(to: inShape) * (1 / Double(n))]
        }
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    // MARK: max, min

    /// Largest value over `axes` (all when nil), as torch.amax. NaN propagates. The gradient
    /// is split evenly among the elements that tie for the maximum (torch.amax's rule).
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extremum(MaxCombiner.self, axes: axes, keepDims: keepDims, op: "max")
    }

    public func max(axis: Int, keepDims: Bool = false) -> Tensor { max(axes: [axis], keepDims: keepDims) }

    /// Smallest value over `axes` (all when nil), as torch.amin; ties share the gradient evenly.
    public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extremum(MinCombiner.self, axes: axes, keepDims: keepDims, op: "min")
    }

    public func min(axis: Int, keepDims: Bool = false) -> Tensor { min(axes: [axis], keepDims: keepDims) }

    func extremum<R: ReduceCombiner>(_ r: R.Type, axes: [Int]?, keepDims: Bool, op: String) -> Tensor {
        let layout = ReductionLayout(shape, axes: axes, keepDims: keepDims, op: op)
        require(layout.reducedCount > 0 || layout.outCount == 0,
                "\(op): cannot reduce over an axis of size 0 (shape \(shape), axes \(layout.axes))")
        // Integers go through float64 (exact up to 2^53) and come back in their own dtype.
        if !dtype.isFloatingPoint { return to(.float64).extremum(r, axes: axes, keepDims: keepDims, op: op).to(dtype) }
        let out = reduceFloat(r, layout, shape: layout.outShape)
        let x = detached(), kept = layout.keptShape, reduced = layout.axes
        return Autograd.record(out, inputs: [self], name: op) { g, _ in
            let mask = Tensor.applyBinary(EqualMaskFn.self, x, out.reshaped(kept), op: op)
            let ties = mask.sum(axes: reduced, keepDims: true)
            return [mask * (g.reshaped(kept) / ties)]
        }
    }

    // MARK: argmax, argmin

    /// Index of the largest element along `axis` (of the flattened tensor when nil), int64.
    /// The first occurrence wins on ties; NaN counts as the largest (PyTorch).
    public func argmax(axis: Int? = nil, keepDims: Bool = false) -> Tensor {
        argExtremum(ArgMaxComparator.self, axis: axis, keepDims: keepDims, op: "argmax")
    }

    /// Index of the smallest element along `axis` (of the flattened tensor when nil), int64; first on ties.
    public func argmin(axis: Int? = nil, keepDims: Bool = false) -> Tensor {
        argExtremum(ArgMinComparator.self, axis: axis, keepDims: keepDims, op: "argmin")
    }

    func argExtremum<C: ArgComparator>(_ c: C.Type, axis: Int?, keepDims: Bool, op: String) -> Tensor {
        var outer = 1, n = count, inner = 1
        var outShape = keepDims ? [Int](repeating: 1, count: rank) : []
        if let axis {
            let a = Shape.normalizeAxis(axis, rank: rank, op: op)
            if rank > 0 {
                (outer, n, inner) = Self.outerMiddleInner(shape, at: a)
                outShape = shape
                if keepDims { outShape[a] = 1 } else { outShape.remove(at: a) }
            }
        }
        require(n > 0 || outer * inner == 0, "\(op): cannot reduce over an axis of size 0 (shape \(shape))")
        let out = Tensor(uninitializedShape: outShape, dtype: .int64)
        if out.count == 0 { return out }
        let x = dtype.isFloatingPoint ? self : to(.float64)
        withExtendedLifetime(x) {
            switch x.dtype {
            case .float64:
                Kernels.argReduce(c, x.storage.pointer(as: Double.self), out.storage.pointer(as: Int64.self), outer: outer, n: n, inner: inner)
            default:
                Kernels.argReduce(c, x.storage.pointer(as: Float.self), out.storage.pointer(as: Int64.self), outer: outer, n: n, inner: inner)
            }
        }
        return out
    }

    // MARK: variance, std

    /// Variance over `axes` (all when nil), dividing by N − 1 when `unbiased` (Bessel), else N.
    /// Two passes (mean, then squared deviations) for accuracy.
    public func variance(axes: [Int]? = nil, unbiased: Bool = true, keepDims: Bool = false) -> Tensor {
        spread(axes: axes, unbiased: unbiased, keepDims: keepDims, root: false, op: "variance")
    }

    public func variance(axis: Int, unbiased: Bool = true, keepDims: Bool = false) -> Tensor {
        variance(axes: [axis], unbiased: unbiased, keepDims: keepDims)
    }

    /// Standard deviation over `axes` (all when nil); the gradient is 0 where it is 0 (PyTorch).
    public func std(axes: [Int]? = nil, unbiased: Bool = true, keepDims: Bool = false) -> Tensor {
        spread(axes: axes, unbiased: unbiased, keepDims: keepDims, root: true, op: "std")
    }

    public func std(axis: Int, unbiased: Bool = true, keepDims: Bool = false) -> Tensor {
        std(axes: [axis], unbiased: unbiased, keepDims: keepDims)
    }

    func spread(axes: [Int]?, unbiased: Bool, keepDims: Bool, root: Bool, op: String) -> Tensor {
        let layout = ReductionLayout(shape, axes: axes, keepDims: keepDims, op: op)
        let x = floatingPoint
        let n = layout.reducedCount, kept = layout.keptShape
        let denominator = Double(n - (unbiased ? 1 : 0))
        let (deviations, out) = withoutGradients {
            let mean = x.reduceFloat(SumCombiner.self, layout, shape: kept) * (1 / Double(n))
            let d = x.detached() - mean
            let v = (d * d).reduceFloat(SumCombiner.self, layout, shape: layout.outShape) / denominator
            return (d, root ? v.applyUnary(SquareRootFn.self) : v)
        }
        return Autograd.record(out, inputs: [x], name: op) { g, _ in
            let gk = g.reshaped(kept)
            if !root { return [deviations * (gk * (2 / denominator))] }
            let scaled = Tensor.applyBinary(DivOrZeroFn.self, gk, out.reshaped(kept), op: op)
            return [deviations * (scaled * (1 / denominator))]
        }
    }

    // MARK: logSumExp

    /// log Σ exp(x) over `axes` (all when nil), stable: the maximum is subtracted first.
    public func logSumExp(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let layout = ReductionLayout(shape, axes: axes, keepDims: keepDims, op: "logSumExp")
        let x = floatingPoint
        let kept = layout.keptShape
        let out: Tensor = withoutGradients {
            if layout.outCount == 0 || layout.reducedCount == 0 {
                return Tensor.full(layout.outShape, layout.outCount == 0 ? 0 : -Double.infinity, dtype: x.dtype)
            }
            let shift = x.reduceFloat(MaxCombiner.self, layout, shape: kept).applyUnary(FiniteOrZeroFn.self)
            let e = Tensor.applyBinary(ExpOfDifferenceFn.self, x.detached(), shift, op: "logSumExp")
            let s = e.reduceFloat(SumCombiner.self, layout, shape: kept)
            return Tensor.applyBinary(LogPlusFn.self, s, shift, op: "logSumExp").reshaped(layout.outShape)
        }
        let xd = x.detached()
        return Autograd.record(out, inputs: [x], name: "logSumExp") { g, _ in
            [Tensor.applyBinary(ExpOfDifferenceFn.self, xd, out.reshaped(kept), op: "logSumExp") * g.reshaped(kept)]
        }
    }

    public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor { logSumExp(axes: [axis], keepDims: keepDims) }
}
