/// Shape arithmetic shared by every op: broadcasting, axes, strides.
public enum Shape {
    /// Number of elements of a shape.
    @inlinable public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major strides in elements.
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// The broadcast shape of two shapes (NumPy/PyTorch rules), or nil when they do not broadcast.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        if a == b { return a }
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// The broadcast shape, or a stop naming the op and both shapes.
    public static func broadcastOrFail(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        guard let s = broadcast(a, b) else {
            requirementFailure("\(op): shapes \(a) and \(b) cannot be broadcast together")
        }
        return s
    }

    /// A possibly negative axis made non-negative, or a stop naming the op and the axis.
    public static func normalizeAxis(_ axis: Int, rank: Int, op: String) -> Int {
        let r = max(rank, 1)
        require(axis >= -r && axis < r, "\(op): axis \(axis) is out of range for a tensor of rank \(rank) (valid: \(-r)...\(r - 1))")
        return axis < 0 ? axis + r : axis
    }

    /// Sorted, unique, non-negative axes; all axes when `axes` is nil.
    public static func normalizeAxes(_ axes: [Int]?, rank: Int, op: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let n = axes.map { normalizeAxis($0, rank: rank, op: op) }
        require(Set(n).count == n.count, "\(op): axis repeated in \(axes)")
        return n.sorted()
    }
}
