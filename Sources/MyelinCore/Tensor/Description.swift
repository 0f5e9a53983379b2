import Foundation

/// Printing a tensor the way PyTorch does: `tensor([[1., 2.], [3., 4.]])`.
extension Tensor: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { TensorFormatter(self).render() }
    public var debugDescription: String { description }
}

/// Formats values like torch's default printoptions: a shared width per tensor,
/// up to 4 decimals, scientific notation when the range demands it, and
/// summarisation (…) beyond 1000 elements.
struct TensorFormatter {
    let t: Tensor
    init(_ t: Tensor) { self.t = t }

    func render() -> String {
        var suffix: [String] = []
        if t.dtype != .float32 && t.dtype != .int64 && t.dtype != .bool { suffix.append("dtype=\(t.dtype)") }
        if t.count == 0 { suffix.insert("size=\(t.shape)", at: 0) }
        if let node = t.gradNode { suffix.append(node.isLeaf ? "requires_grad=True" : "grad_fn=<\(node.name)>") }
        let body = t.count == 0 ? "[]" : format()
        return "tensor(" + body + (suffix.isEmpty ? "" : ", " + suffix.joined(separator: ", ")) + ")"
    }

    func format() -> String {
        let values = t.scalars(as: Double.self)
        let summarize = t.count > 1000
        let edge = 3
        let cell: (Double) -> String
        switch t.dtype {
        case .bool: cell = { $0 != 0 ? "True" : "False" }
        case .int32, .int64: cell = { String(Int($0)) }
        default: cell = FloatStyle(values).format
        }
        let strings = values.map(cell)
        let width = strings.map(\.count).max() ?? 0
        let pad: (String) -> String = { String(repeating: " ", count: width - $0.count) + $0 }
        func rec(_ dim: Int, _ offset: Int, _ indent: Int) -> String {
            if t.rank == 0 { return strings[0] }
            let n = t.shape[dim]
            let stride = Shape.count(Array(t.shape[(dim + 1)...]))
            var idx = Array(0..<n)
            var gap = false
            if summarize && n > 2 * edge { idx = Array(0..<edge) + Array((n - edge)..<n); gap = true }
            var parts: [String] = []
            for (j, i) in idx.enumerated() {
                if gap && j == edge { parts.append("...") }
                parts.append(dim == t.rank - 1 ? pad(strings[offset + i]) : rec(dim + 1, offset + i * stride, indent + 1))
            }
            if dim == t.rank - 1 { return "[" + parts.joined(separator: ", ") + "]" }
            let sep = "," + String(repeating: "\n", count: t.rank - dim - 1) + String(repeating: " ", count: indent + 1)
            return "[" + parts.joined(separator: sep) + "]"
        }
        return rec(0, 0, 7)
    }
}

/// PyTorch's float formatting: integers print as "1.", otherwise 4 decimals, or
/// scientific when the magnitudes span more than 1000× or leave [1e-4, 1e8).
struct FloatStyle {
    let scientific: Bool
    let integral: Bool
    init(_ values: [Double]) {
        let finite = values.filter { $0.isFinite }
        let nonzero = finite.map { Swift.abs($0) }.filter { $0 > 0 }
        integral = finite.allSatisfy { $0 == $0.rounded() }
        if let lo = nonzero.min(), let hi = nonzero.max() {
            scientific = !integral && (hi / lo > 1000 || hi >= 1e8 || lo < 1e-4)
        } else {
            scientific = false
        }
    }
    func format(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        if integral && !scientific { return String(format: "%.0f.", v) }
        if scientific { return String(format: "%.4e", v) }
        return String(format: "%.4f", v)
    }
}
