import Foundation

// MARK: - Index items for the subscript

/// Anything that can appear in a tensor subscript: `Int` (picks one position and
/// removes the axis), Swift ranges (`0..<2`, `1...3`, `2...`, `..<3`, `...3`),
/// and the items `.all`, `.stride(start, end, by:)`, `.ellipsis`, `.newAxis`.
///
/// Ranges follow Python/PyTorch slicing: negative bounds count from the end and
/// bounds beyond the extent are clamped (`x[0..<10]` of 3 rows gives 3 rows).
/// A single `Int` must be in range (`-n..<n`), as in PyTorch.
public protocol TensorIndex {
    var tensorIndexItem: TensorIndexItem { get }
}

/// One resolved subscript item.
public struct TensorIndexItem: TensorIndex, Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case single(Int)
        case range(start: Int?, end: Int?, step: Int)
        case ellipsis
        case newAxis
    }
    let kind: Kind
    public var tensorIndexItem: TensorIndexItem { self }
}

extension TensorIndex where Self == TensorIndexItem {
    /// Every position of one axis (Python's `:`).
    public static var all: TensorIndexItem { TensorIndexItem(kind: .range(start: nil, end: nil, step: 1)) }
    /// As many `.all` as needed to cover the axes not named (Python's `...`).
    public static var ellipsis: TensorIndexItem { TensorIndexItem(kind: .ellipsis) }
    /// Inserts an axis of extent 1 (Python's `None`).
    public static var newAxis: TensorIndexItem { TensorIndexItem(kind: .newAxis) }
    /// Positions `start, start+step, ...` before `end` (Python's `start:end:step`); step must be positive.
    public static func stride(_ start: Int? = nil, _ end: Int? = nil, by step: Int) -> TensorIndexItem {
        TensorIndexItem(kind: .range(start: start, end: end, step: step))
    }
}

extension Int: TensorIndex {
    public var tensorIndexItem: TensorIndexItem { TensorIndexItem(kind: .single(self)) }
}
extension Range: TensorIndex where Bound == Int {
    public var tensorIndexItem: TensorIndexItem { TensorIndexItem(kind: .range(start: lowerBound, end: upperBound, step: 1)) }
}
extension ClosedRange: TensorIndex where Bound == Int {
    // `(-2)...(-1)` means "to the end": an exclusive end of 0 would mean the start.
    public var tensorIndexItem: TensorIndexItem {
        TensorIndexItem(kind: .range(start: lowerBound, end: upperBound == -1 ? nil : upperBound + 1, step: 1))
    }
}
extension PartialRangeFrom: TensorIndex where Bound == Int {
    public var tensorIndexItem: TensorIndexItem { TensorIndexItem(kind: .range(start: lowerBound, end: nil, step: 1)) }
}
extension PartialRangeUpTo: TensorIndex where Bound == Int {
    public var tensorIndexItem: TensorIndexItem { TensorIndexItem(kind: .range(start: nil, end: upperBound, step: 1)) }
}
extension PartialRangeThrough: TensorIndex where Bound == Int {
    public var tensorIndexItem: TensorIndexItem {
        TensorIndexItem(kind: .range(start: nil, end: upperBound == -1 ? nil : upperBound + 1, step: 1))
    }
}

// MARK: - Strided boxes: the one kernel behind slicing, splitting, concat and padding

/// A strided box inside a row-major tensor of shape `fullShape`: along each axis
/// the positions `starts[i] + steps[i]·j` for `j < lengths[i]`.
struct Box {
    let fullShape: [Int]
    let starts: [Int]
    let steps: [Int]
    let lengths: [Int]

    /// Copies between the box of `full` and the contiguous `packed` (shape `lengths`),
    /// by element size so it serves every dtype.
    func copy(byteSize: Int, full: UnsafeMutableRawPointer, packed: UnsafeMutableRawPointer, intoPacked: Bool) {
        switch byteSize {
        case 8: copy(full.assumingMemoryBound(to: UInt64.self), packed.assumingMemoryBound(to: UInt64.self), intoPacked)
        case 4: copy(full.assumingMemoryBound(to: UInt32.self), packed.assumingMemoryBound(to: UInt32.self), intoPacked)
        default: copy(full.assumingMemoryBound(to: UInt8.self), packed.assumingMemoryBound(to: UInt8.self), intoPacked)
        }
    }

    func copy<E>(_ full: UnsafeMutablePointer<E>, _ packed: UnsafeMutablePointer<E>, _ intoPacked: Bool) {
        let total = Shape.count(lengths)
        if total == 0 { return }
        let fullStrides = Shape.strides(fullShape)
        // Drop length-1 axes (they only offset the base) and merge axes whose strides
        // chain, so a row block or a full trailing slab becomes one long run.
        var base = 0
        var dims: [Int] = [], strides: [Int] = []
        for i in lengths.indices {
            base += starts[i] * fullStrides[i]
            if lengths[i] == 1 { continue }
            let s = steps[i] * fullStrides[i]
            if let last = dims.indices.last, strides[last] == s * lengths[i] {
                dims[last] *= lengths[i]
                strides[last] = s
            } else {
                dims.append(lengths[i])
                strides.append(s)
            }
        }
        let n = dims.last ?? 1, step = strides.last ?? 1
        let outerDims = Array(dims.dropLast()), outerStrides = Array(strides.dropLast())
        let rows = total / n
        Threading.parallelFor(rows, grain: max(1, Threading.elementwiseGrain / n)) { r in
            var idx = PermutePlan.unravel(r.lowerBound, outerDims)
            var off = base + zip(idx, outerStrides).reduce(0) { $0 + $1.0 * $1.1 }
            for row in r {
                let p = packed + row * n, f = full + off
                if step == 1 && n >= 16 {
                    if intoPacked { p.update(from: f, count: n) } else { f.update(from: p, count: n) }
                } else if intoPacked {
                    for j in 0..<n { p[j] = f[j * step] }
                } else {
                    for j in 0..<n { f[j * step] = p[j] }
                }
                PermutePlan.advance(&idx, &off, outerDims, outerStrides)
            }
        }
    }
}

extension Tensor {
    /// The box as a new contiguous tensor with shape `resultShape` (same element
    /// count as `lengths`). Its gradient scatters back into zeros.
    func extractBox(starts: [Int], steps: [Int], lengths: [Int], resultShape: [Int], name: String) -> Tensor {
        if starts.allSatisfy({ $0 == 0 }) && steps.allSatisfy({ $0 == 1 }) && lengths == shape {
            return reshaped(resultShape)
        }
        let box = Box(fullShape: shape, starts: starts, steps: steps, lengths: lengths)
        let out = Tensor(uninitializedShape: resultShape, dtype: dtype)
        box.copy(byteSize: dtype.byteSize, full: storage.bytes, packed: out.storage.bytes, intoPacked: true)
        withExtendedLifetime(self) {}
        let inShape = shape
        return Autograd.record(out, inputs: [self], name: name) { g, _ in
            let grad = Tensor.zeros(inShape, dtype: g.dtype)
            box.copy(byteSize: g.dtype.byteSize, full: grad.storage.bytes, packed: g.storage.bytes, intoPacked: false)
            withExtendedLifetime(g) {}
            return [grad]
        }
    }

    /// Python slice bounds for a positive step: negatives count from the end, then clamp.
    static func sliceBounds(start: Int?, end: Int?, step: Int, extent n: Int) -> (start: Int, length: Int) {
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + n : v, 0), n) }
        let s = start.map(clamp) ?? 0
        let e = end.map(clamp) ?? n
        return (s, e > s ? (e - s + step - 1) / step : 0)
    }

    // MARK: Slicing

    /// Positions `start, start+step, ...` before `end` along `axis`, as Python's
    /// `x[start:end:step]`: nil means the whole side, negatives count from the end,
    /// bounds beyond the extent are clamped, and `step` must be positive. Copies.
    public func slice(axis: Int, start: Int? = nil, end: Int? = nil, step: Int = 1) -> Tensor {
        require(rank > 0, "slice: cannot slice a scalar (rank 0)")
        let ax = Shape.normalizeAxis(axis, rank: rank, op: "slice")
        require(step > 0, "slice: step must be positive, not \(step) (axis \(ax) of shape \(shape))")
        let (s, len) = Self.sliceBounds(start: start, end: end, step: step, extent: shape[ax])
        var starts = [Int](repeating: 0, count: rank), steps = [Int](repeating: 1, count: rank)
        var lengths = shape
        starts[ax] = s; steps[ax] = step; lengths[ax] = len
        return extractBox(starts: starts, steps: steps, lengths: lengths, resultShape: lengths, name: "slice")
    }

    /// `length` positions from `start` along `axis` (PyTorch's `narrow`); no clamping.
    func narrowed(axis: Int, start: Int, length: Int, name: String) -> Tensor {
        var starts = [Int](repeating: 0, count: rank)
        var lengths = shape
        starts[axis] = start
        lengths[axis] = length
        return extractBox(starts: starts, steps: [Int](repeating: 1, count: rank), lengths: lengths,
                          resultShape: lengths, name: name)
    }

    /// NumPy/PyTorch basic indexing: `x[1]`, `x[0..<2]`, `x[.all, 1..<3]`,
    /// `x[.ellipsis, 0]`, `x[2...]`, `x[.newAxis]`, `x[.all, .stride(0, 8, by: 2)]`.
    /// Axes not named are taken whole. The result is a copy (differentiable).
    public subscript(_ items: any TensorIndex...) -> Tensor {
        indexed(items)
    }

    /// The subscript with its items in an array, for indices built at run time.
    public func indexed(_ items: [any TensorIndex]) -> Tensor {
        let kinds = items.map(\.tensorIndexItem.kind)
        var consuming = 0, ellipses = 0
        for k in kinds {
            switch k {
            case .single, .range: consuming += 1
            case .ellipsis: ellipses += 1
            case .newAxis: break
            }
        }
        require(ellipses <= 1, "subscript: at most one .ellipsis is allowed, found \(ellipses)")
        require(consuming <= rank,
                   "subscript: \(consuming) indices for a tensor of rank \(rank) (shape \(shape))")
        let fill = [TensorIndexItem.Kind](repeating: .range(start: nil, end: nil, step: 1), count: rank - consuming)
        var expanded: [TensorIndexItem.Kind] = []
        if let e = kinds.firstIndex(of: .ellipsis) {
            expanded = Array(kinds[..<e]) + fill + Array(kinds[(e + 1)...])
        } else {
            expanded = kinds + fill
        }
        var starts: [Int] = [], steps: [Int] = [], lengths: [Int] = [], result: [Int] = []
        var axis = 0
        for k in expanded {
            switch k {
            case .newAxis:
                result.append(1)
            case .single(let i):
                let n = shape[axis]
                require(i >= -n && i < n,
                           "subscript: index \(i) is out of range for axis \(axis) with extent \(n) (shape \(shape); valid: \(-n)..<\(n))")
                starts.append(i < 0 ? i + n : i); steps.append(1); lengths.append(1)
                axis += 1
            case let .range(start, end, step):
                require(step > 0, "subscript: step must be positive, not \(step) (axis \(axis) of shape \(shape))")
                let (s, len) = Self.sliceBounds(start: start, end: end, step: step, extent: shape[axis])
                starts.append(s); steps.append(step); lengths.append(len); result.append(len)
                axis += 1
            case .ellipsis:
                break
            }
        }
        return extractBox(starts: starts, steps: steps, lengths: lengths, resultShape: result, name: "index")
    }

    // MARK: Index tensors

    /// The values of an index tensor (int32 or int64), checked against `extent`.
    func indexValues(op: String, axis: Int, extent: Int) -> [Int] {
        require(dtype == .int64 || dtype == .int32, "\(op): indices must be int32 or int64, not \(dtype)")
        let values = integers()
        for (i, v) in values.enumerated() where v < 0 || v >= extent {
            require(false, "\(op): index \(v) (at flat position \(i) of the indices) is out of range for axis \(axis) with extent \(extent) (valid: 0..<\(extent))")
        }
        return values
    }

    /// Picks positions `indices` (a vector of int32/int64) along `axis`, as
    /// `torch.index_select`. Repeats are allowed; the gradient adds them back up.
    public func indexSelect(axis: Int, indices: Tensor) -> Tensor {
        require(rank > 0, "indexSelect: cannot select from a scalar (rank 0)")
        let ax = Shape.normalizeAxis(axis, rank: rank, op: "indexSelect")
        require(indices.rank <= 1, "indexSelect: indices must be a vector, not shape \(indices.shape)")
        let n = shape[ax]
        let idx = indices.indexValues(op: "indexSelect", axis: ax, extent: n)
        let m = idx.count
        var outShape = shape
        outShape[ax] = m
        let out = Tensor(uninitializedShape: outShape, dtype: dtype)
        let (outer, _, inner) = Self.outerMiddleInner(shape, at: ax)
        func run<E>(_: E.Type) {
            let src = storage.bytes.assumingMemoryBound(to: E.self), dst = out.storage.bytes.assumingMemoryBound(to: E.self)
            idx.withUnsafeBufferPointer { ix in
                Threading.parallelFor(outer * m, grain: Swift.max(1, Threading.elementwiseGrain / Swift.max(inner, 1))) { r in
                    for u in r {
                        let o = u / m, k = u % m
                        let s = src + (o * n + ix[k]) * inner, d = dst + u * inner
                        if inner == 1 { d[0] = s[0] } else { d.update(from: s, count: inner) }
                    }
                }
            }
        }
        switch dtype.byteSize {
        case 8: run(UInt64.self)
        case 4: run(UInt32.self)
        default: run(UInt8.self)
        }
        withExtendedLifetime(self) {}
        return Autograd.record(out, inputs: [self], name: "indexSelect") { g, _ in
            [g.indexAdded(axis: ax, indices: idx, extent: n)]
        }
    }

    /// Zeros with `extent` positions on `axis`, and this tensor's slices added at
    /// `indices` (repeats accumulate): the gradient of `indexSelect`.
    func indexAdded(axis: Int, indices idx: [Int], extent n: Int) -> Tensor {
        var outShape = shape
        outShape[axis] = n
        let out = Tensor.zeros(outShape, dtype: dtype)
        let (outer, m, inner) = Self.outerMiddleInner(shape, at: axis)
        func run<T: FloatElement>(_: T.Type) {
            let src = storage.pointer(as: T.self), dst = out.storage.pointer(as: T.self)
            idx.withUnsafeBufferPointer { ix in
                // Parallel over `outer` only: repeated indices write the same rows.
                Threading.parallelFor(outer, grain: Swift.max(1, Threading.elementwiseGrain / Swift.max(m * inner, 1))) { r in
                    for o in r {
                        for k in 0..<m {
                            let d = dst + (o * n + ix[k]) * inner, s = src + (o * m + k) * inner
                            for i in 0..<inner { d[i] += s[i] }
                        }
                    }
                }
            }
        }
        switch dtype {
        case .float64: run(Double.self)
        case .float32: run(Float.self)
        default: requirementFailure("indexSelect backward: gradients are float32 or float64, not \(dtype)")
        }
        withExtendedLifetime(self) {}
        return out
    }

    /// Walks every element of an index tensor of `indexShape`: calls
    /// `body(k, a, b)` with its flat position `k`, the offset `a` in a tensor with
    /// strides `aStrides` where the axis coordinate is replaced by the index value,
    /// and the offset `b` of the same coordinates in a tensor with strides `bStrides`.
    static func walkIndices(_ idx: [Int], indexShape: [Int], axis: Int, aStrides: [Int], bStrides: [Int],
                            _ body: (_ k: Int, _ a: Int, _ b: Int) -> Void) {
        let r = indexShape.count, total = Shape.count(indexShape)
        if total == 0 { return }
        var pos = [Int](repeating: 0, count: r)
        var a = 0, b = 0
        let axisStride = aStrides[axis]
        for k in 0..<total {
            body(k, a + idx[k] * axisStride, b)
            var d = r - 1
            while d >= 0 {
                pos[d] += 1
                if d != axis { a += aStrides[d] }
                b += bStrides[d]
                if pos[d] < indexShape[d] { break }
                if d != axis { a -= aStrides[d] * indexShape[d] }
                b -= bStrides[d] * indexShape[d]
                pos[d] = 0
                d -= 1
            }
        }
    }

    /// `out[i][j][k] = self[i][indices[i][j][k]][k]` for axis 1 (and likewise for
    /// any axis), as `torch.gather`: `indices` has this tensor's rank, and extents
    /// no larger than this tensor's on the other axes; the result has its shape.
    public func gather(axis: Int, indices: Tensor) -> Tensor {
        if rank == 0 {
            _ = Shape.normalizeAxis(axis, rank: 0, op: "gather")
            require(indices.rank == 0, "gather: indices of shape \(indices.shape) must have the rank of the input of shape \(shape)")
            return reshaped([1]).gather(axis: 0, indices: indices.reshaped([1])).reshaped([])
        }
        let ax = Shape.normalizeAxis(axis, rank: rank, op: "gather")
        require(indices.rank == rank,
                   "gather: indices of shape \(indices.shape) must have the rank of the input of shape \(shape)")
        for d in 0..<rank where d != ax {
            require(indices.shape[d] <= shape[d],
                       "gather: indices of shape \(indices.shape) exceed the input of shape \(shape) on axis \(d)")
        }
        let idx = indices.indexValues(op: "gather", axis: ax, extent: shape[ax])
        let out = Tensor(uninitializedShape: indices.shape, dtype: dtype)
        let strides = Shape.strides(shape), outStrides = Shape.strides(indices.shape)
        func run<E>(_: E.Type) {
            let src = storage.bytes.assumingMemoryBound(to: E.self), dst = out.storage.bytes.assumingMemoryBound(to: E.self)
            Self.walkIndices(idx, indexShape: indices.shape, axis: ax, aStrides: strides, bStrides: outStrides) { k, a, _ in
                dst[k] = src[a]
            }
        }
        switch dtype.byteSize {
        case 8: run(UInt64.self)
        case 4: run(UInt32.self)
        default: run(UInt8.self)
        }
        withExtendedLifetime(self) {}
        let inShape = shape
        return Autograd.record(out, inputs: [self], name: "gather") { g, _ in
            [Tensor.zeros(inShape, dtype: g.dtype).scatterAdd(axis: ax, indices: indices, source: g)]
        }
    }

    /// This tensor with `source` added at the positions `indices` name along `axis`,
    /// as `torch.Tensor.scatter_add` (repeated positions accumulate): for axis 1,
    /// `out[i][indices[i][j][k]][k] += source[i][j][k]`. `indices` has this rank and
    /// extents no larger than `source`'s, nor than this tensor's off the axis.
    public func scatterAdd(axis: Int, indices: Tensor, source: Tensor) -> Tensor {
        if rank == 0 {
            _ = Shape.normalizeAxis(axis, rank: 0, op: "scatterAdd")
            require(indices.rank == 0 && source.rank == 0,
                       "scatterAdd: indices of shape \(indices.shape) and source of shape \(source.shape) must have the rank of the input of shape \(shape)")
            return reshaped([1]).scatterAdd(axis: 0, indices: indices.reshaped([1]), source: source.reshaped([1])).reshaped([])
        }
        let ax = Shape.normalizeAxis(axis, rank: rank, op: "scatterAdd")
        require(indices.rank == rank && source.rank == rank,
                   "scatterAdd: indices of shape \(indices.shape) and source of shape \(source.shape) must have the rank of the input of shape \(shape)")
        require(source.dtype == dtype, "scatterAdd: source has dtype \(source.dtype) but the input has dtype \(dtype)")
        require(dtype != .bool, "scatterAdd: cannot add bool tensors")
        for d in 0..<rank {
            require(indices.shape[d] <= source.shape[d] && (d == ax || indices.shape[d] <= shape[d]),
                       "scatterAdd: indices of shape \(indices.shape) exceed the source of shape \(source.shape) or the input of shape \(shape) on axis \(d)")
        }
        let idx = indices.indexValues(op: "scatterAdd", axis: ax, extent: shape[ax])
        let out = Tensor(storage: storage.copy(), shape: shape)
        let strides = Shape.strides(shape), sourceStrides = Shape.strides(source.shape)
        func run<T: TensorScalar & AdditiveArithmetic>(_: T.Type) {
            let dst = out.storage.pointer(as: T.self), src = source.storage.pointer(as: T.self)
            Self.walkIndices(idx, indexShape: indices.shape, axis: ax, aStrides: strides, bStrides: sourceStrides) { _, a, b in
                dst[a] += src[b]
            }
        }
        switch dtype {
        case .float64: run(Double.self)
        case .float32: run(Float.self)
        case .int64: run(Int64.self)
        case .int32: run(Int32.self)
        case .bool: break
        }
        withExtendedLifetime(source) {}
        let sourceShape = source.shape
        return Autograd.record(out, inputs: [self, source], name: "scatterAdd") { g, needs in
            var gs: Tensor?
            if needs[1] {
                let picked = g.gather(axis: ax, indices: indices)
                // Source elements the indices do not reach get no gradient.
                gs = picked.shape == sourceShape ? picked
                    : picked.padded(zip(picked.shape, sourceShape).map { (0, $1 - $0) })
            }
            return [needs[0] ? g : nil, gs]
        }
    }

    /// One-hot codes of an int32/int64 tensor of class indices: float32 with shape
    /// `shape + [classes]`, as `F.one_hot(x, classes).float()`.
    public func oneHot(classes: Int) -> Tensor {
        require(dtype == .int32 || dtype == .int64, "oneHot: needs an int32 or int64 tensor of class indices, not \(dtype)")
        require(classes > 0, "oneHot: classes must be positive, not \(classes)")
        let values = integers()
        let out = Tensor.zeros(shape + [classes], dtype: .float32)
        let p = out.storage.pointer(as: Float.self)
        for (i, c) in values.enumerated() {
            require(c >= 0 && c < classes,
                       "oneHot: value \(c) (at flat position \(i)) is out of range for \(classes) classes (valid: 0..<\(classes))")
            p[i * classes + c] = 1
        }
        return out
    }
}
