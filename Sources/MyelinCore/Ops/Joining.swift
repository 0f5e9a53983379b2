import Foundation

/// Joining tensors along an axis and cutting one into pieces. Copies are by
/// element size, so every dtype works; gradients flow for float dtypes.
extension Tensor {
    /// Joins tensors along an existing `axis` (`torch.cat`). Extents must match
    /// on every other axis; mixed dtypes are promoted as in arithmetic.
    public static func concat(_ ts: [Tensor], axis: Int = 0) -> Tensor {
        require(!ts.isEmpty, "concat: needs at least one tensor")
        let first = ts[0]
        require(first.rank > 0, "concat: cannot concatenate scalars (rank 0); use stack")
        let ax = Shape.normalizeAxis(axis, rank: first.rank, op: "concat")
        var dt = first.dtype
        for (i, t) in ts.enumerated() {
            let matches = t.rank == first.rank && t.shape.indices.allSatisfy { $0 == ax || t.shape[$0] == first.shape[$0] }
            require(matches, "concat: tensor \(i) has shape \(t.shape), which does not match tensor 0's shape \(first.shape) outside axis \(ax)")
            dt = promoted(dt, t.dtype)
        }
        let xs = ts.map { $0.to(dt) }
        if xs.count == 1 { return xs[0] }
        var outShape = first.shape
        outShape[ax] = xs.reduce(0) { $0 + $1.shape[ax] }
        let out = Tensor(uninitializedShape: outShape, dtype: dt)
        var starts: [[Int]] = []
        var offset = 0
        for x in xs {
            var s = [Int](repeating: 0, count: outShape.count)
            s[ax] = offset
            starts.append(s)
            offset += x.shape[ax]
            let box = Box(fullShape: outShape, starts: s, steps: [Int](repeating: 1, count: outShape.count), lengths: x.shape)
            box.copy(byteSize: dt.byteSize, full: out.storage.bytes, packed: x.storage.bytes, intoPacked: false)
        }
        withExtendedLifetime(xs) {}
        let shapes = xs.map(\.shape)
        return Autograd.record(out, inputs: xs, name: "concat") { g, needs in
            shapes.indices.map { i in
                needs[i] ? g.extractBox(starts: starts[i], steps: [Int](repeating: 1, count: shapes[i].count),
                                        lengths: shapes[i], resultShape: shapes[i], name: "concat") : nil
            }
        }
    }

    /// Joins tensors of one shape along a new `axis` (`torch.stack`).
    public static func stack(_ ts: [Tensor], axis: Int = 0) -> Tensor {
        require(!ts.isEmpty, "stack: needs at least one tensor")
        let s = ts[0].shape
        for (i, t) in ts.enumerated() {
            require(t.shape == s, "stack: tensor \(i) has shape \(t.shape) but tensor 0 has shape \(s); all must match")
        }
        let r = s.count
        require(axis >= -(r + 1) && axis <= r,
                   "stack: axis \(axis) is out of range for stacking tensors of rank \(r) (valid: \(-(r + 1))...\(r))")
        let ax = axis < 0 ? axis + r + 1 : axis
        return concat(ts.map { $0.unsqueezed(axis: ax) }, axis: ax)
    }

    /// Cuts along `axis` into pieces of the given extents, which must sum to the
    /// axis' extent (`torch.split` with a list). Each piece is a copy.
    public func split(sizes: [Int], axis: Int = 0) -> [Tensor] {
        require(rank > 0, "split: cannot split a scalar (rank 0)")
        let ax = Shape.normalizeAxis(axis, rank: rank, op: "split")
        require(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[ax],
                   "split: sizes \(sizes) must be non-negative and sum to \(shape[ax]), the extent of axis \(ax) of shape \(shape)")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return narrowed(axis: ax, start: start, length: n, name: "split")
        }
    }

    /// Cuts along `axis` into `n` pieces as `torch.chunk`: each has ⌈extent/n⌉
    /// positions except the last, which may be smaller, so fewer than `n` pieces
    /// can come back (5 rows in 4 chunks gives 2, 2, 1).
    public func chunked(_ n: Int, axis: Int = 0) -> [Tensor] {
        require(n > 0, "chunk: the number of chunks must be positive, not \(n)")
        require(rank > 0, "chunk: cannot chunk a scalar (rank 0)")
        let ax = Shape.normalizeAxis(axis, rank: rank, op: "chunk")
        let extent = shape[ax]
        if extent == 0 { return split(sizes: [Int](repeating: 0, count: n), axis: ax) }
        let size = (extent + n - 1) / n
        var sizes = [Int](repeating: size, count: extent / size)
        if extent % size != 0 { sizes.append(extent % size) }
        return split(sizes: sizes, axis: ax)
    }
}
