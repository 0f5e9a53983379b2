import Foundation

/// Constant padding.
extension Tensor {
    /// Pads with `value`: `widths[i] = (before, after)` positions added to axis `i`,
    /// counting from the FIRST axis; axes beyond `widths.count` are left alone.
    /// Negative widths crop. Note the order differs from PyTorch's `F.pad`, whose
    /// list starts at the LAST axis: `F.pad(x, (1, 2, 0, 1))` on a matrix is
    /// `x.padded([(0, 1), (1, 2)])` here, or `x.padded(last: [(1, 2), (0, 1)])`.
    public func padded(_ widths: [(Int, Int)], value: Double = 0) -> Tensor {
        require(widths.count <= rank,
                   "pad: \(widths.count) (before, after) pairs for a tensor of rank \(rank) (shape \(shape)); give at most one per axis")
        let w = widths + [(Int, Int)](repeating: (0, 0), count: rank - widths.count)
        // Crop first where a width is negative, then pad with what is left.
        var x = self
        if w.contains(where: { $0.0 < 0 || $0.1 < 0 }) {
            var starts = [Int](repeating: 0, count: rank), lengths = shape
            for (i, (b, a)) in w.enumerated() {
                let cut = Swift.max(0, -b) + Swift.max(0, -a)
                require(cut <= shape[i], "pad: widths (\(b), \(a)) on axis \(i) remove more than its extent \(shape[i]) (shape \(shape))")
                starts[i] = Swift.max(0, -b)
                lengths[i] = shape[i] - cut
            }
            x = extractBox(starts: starts, steps: [Int](repeating: 1, count: rank), lengths: lengths,
                           resultShape: lengths, name: "pad")
        }
        let before = w.map { Swift.max(0, $0.0) }
        let outShape = x.shape.indices.map { x.shape[$0] + before[$0] + Swift.max(0, w[$0].1) }
        if outShape == x.shape { return x }
        let out = Tensor.full(outShape, value, dtype: x.dtype)
        let ones = [Int](repeating: 1, count: rank)
        let box = Box(fullShape: outShape, starts: before, steps: ones, lengths: x.shape)
        box.copy(byteSize: x.dtype.byteSize, full: out.storage.bytes, packed: x.storage.bytes, intoPacked: false)
        withExtendedLifetime(x) {}
        let inShape = x.shape
        return Autograd.record(out, inputs: [x], name: "pad") { g, _ in
            [g.extractBox(starts: before, steps: ones, lengths: inShape, resultShape: inShape, name: "pad")]
        }
    }

    /// Pads in `F.pad` order: `widths[0]` is (before, after) for the LAST axis,
    /// `widths[1]` for the one before it, and so on. `F.pad(x, (1, 2, 0, 1))` is
    /// `x.padded(last: [(1, 2), (0, 1)])`.
    public func padded(last widths: [(Int, Int)], value: Double = 0) -> Tensor {
        require(widths.count <= rank,
                   "pad: \(widths.count) (before, after) pairs for a tensor of rank \(rank) (shape \(shape)); give at most one per axis")
        return padded([(Int, Int)](repeating: (0, 0), count: rank - widths.count) + widths.reversed(), value: value)
    }
}
