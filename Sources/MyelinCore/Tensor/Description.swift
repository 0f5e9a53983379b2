import Foundation

/// Printing a tensor exactly as PyTorch's default `repr` does (torch/_tensor_str.py,
/// default print options: precision 4, threshold 1000, edge items 3, line width 80):
///
///     tensor([[1.5000, 2.0000],
///             [3.0000, 4.0000]], requires_grad=True)
///
/// The one deliberate difference: the dtype suffix names Myelin's `DType`, so a
/// float64 tensor ends in `dtype=float64` where torch writes `dtype=torch.float64`.
/// `grad_fn` names follow torch's pattern: an op recorded as "add" prints as
/// `grad_fn=<AddBackward0>`. For a one-line shape/dtype summary, use `summary`.
extension Tensor: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { TensorFormatter(self).render() }
    public var debugDescription: String { description }

    /// The shape and dtype without the values: `Tensor(shape: [2, 3], dtype: float32)`.
    public var summary: String {
        var s = "Tensor(shape: \(shape), dtype: \(dtype)"
        if let node = gradNode {
            s += node.isLeaf ? ", requiresGrad: true" : ", gradFn: \(TensorFormatter.gradFnName(node.name))"
        }
        return s + ")"
    }
}

struct TensorFormatter {
    static let precision = 4
    static let threshold = 1000
    static let edgeItems = 3
    static let lineWidth = 80

    let t: Tensor
    let strides: [Int]
    init(_ t: Tensor) {
        self.t = t
        self.strides = Shape.strides(t.shape)
    }

    func render() -> String {
        let prefix = "tensor("
        let indent = prefix.count
        var suffixes: [String] = []
        let body: String
        if t.count == 0 {
            // torch shows the size unless it is (0,), and any dtype but the default.
            if t.rank != 1 { suffixes.append("size=" + Self.pythonTuple(t.shape)) }
            if t.dtype != .float32 { suffixes.append("dtype=\(t.dtype)") }
            body = "[]"
        } else {
            if ![.float32, .int64, .bool].contains(t.dtype) { suffixes.append("dtype=\(t.dtype)") }
            let summarize = t.count > Self.threshold
            let style = Style(t, indices: displayedIndices(summarize: summarize))
            body = tensorString(dim: 0, offset: 0, indent: indent, summarize: summarize, style: style)
        }
        if let node = t.gradNode {
            suffixes.append(node.isLeaf ? "requires_grad=True" : "grad_fn=<\(Self.gradFnName(node.name))>")
        }
        return Self.addSuffixes(prefix + body, suffixes, indent: indent)
    }

    /// torch's autograd class names: "add" → "AddBackward0", "logSoftmax" → "LogSoftmaxBackward0".
    static func gradFnName(_ name: String) -> String {
        let word = name.filter { $0.isLetter || $0.isNumber }
        guard let first = word.first else { return "Backward0" }
        if word.hasSuffix("Backward0") { return word }
        return first.uppercased() + word.dropFirst() + "Backward0"
    }

    static func pythonTuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// Suffixes go on the last line while it stays within the line width.
    static func addSuffixes(_ head: String, _ suffixes: [String], indent: Int) -> String {
        var out = head
        let lastBreak = head.lastIndex(of: "\n").map { head.distance(from: head.startIndex, to: $0) } ?? -1
        var lastLineLength = head.count - lastBreak + 1
        for suffix in suffixes {
            if lastLineLength + suffix.count + 2 > lineWidth {
                out += ",\n" + String(repeating: " ", count: indent) + suffix
                lastLineLength = indent + suffix.count
            } else {
                out += ", " + suffix
                lastLineLength += suffix.count + 2
            }
        }
        return out + ")"
    }

    /// Flat indices of the elements that will be shown: all of them, or, when
    /// summarising, the first and last `edgeItems` along every long axis.
    func displayedIndices(summarize: Bool) -> [Int] {
        if t.rank == 0 { return [0] }
        var result: [Int] = [0]
        for (axis, n) in t.shape.enumerated() {
            let kept = summarize && n > 2 * Self.edgeItems
                ? Array(0..<Self.edgeItems) + Array((n - Self.edgeItems)..<n) : Array(0..<n)
            result = result.flatMap { base in kept.map { base + $0 * strides[axis] } }
        }
        return result
    }

    func tensorString(dim: Int, offset: Int, indent: Int, summarize: Bool, style: Style) -> String {
        if t.rank == 0 { return style.format(t, 0) }
        let n = t.shape[dim]
        let cut = summarize && n > 2 * Self.edgeItems
        let shown = cut ? Array(0..<Self.edgeItems) + Array((n - Self.edgeItems)..<n) : Array(0..<n)
        if dim == t.rank - 1 {
            var items = shown.map { style.format(t, offset + $0) }
            if cut { items.insert(" ...", at: Self.edgeItems) }
            let elementLength = style.width + 2
            let perLine = Swift.max(1, Int((Double(Self.lineWidth - indent) / Double(elementLength)).rounded(.down)))
            let lines = stride(from: 0, to: items.count, by: perLine).map {
                items[$0..<Swift.min($0 + perLine, items.count)].joined(separator: ", ")
            }
            return "[" + lines.joined(separator: ",\n" + String(repeating: " ", count: indent + 1)) + "]"
        }
        var slices = shown.map {
            tensorString(dim: dim + 1, offset: offset + $0 * strides[dim], indent: indent + 1, summarize: summarize, style: style)
        }
        if cut { slices.insert("...", at: Self.edgeItems) }
        let remaining = t.rank - dim
        let separator = "," + String(repeating: "\n", count: remaining - 1) + String(repeating: " ", count: indent + 1)
        return "[" + slices.joined(separator: separator) + "]"
    }

    /// torch's `_Formatter`: one width for the whole tensor; floats print as integers
    /// with a trailing dot when every shown value is whole, in scientific notation
    /// when the shown nonzero magnitudes span more than 1000× or leave [1e-4, 1e8],
    /// and with 4 decimals otherwise. Zeros, NaN and infinities do not take part.
    struct Style {
        let floating: Bool
        var integral = true
        var scientific = false
        var width = 1

        init(_ t: Tensor, indices: [Int]) {
            floating = t.dtype.isFloatingPoint
            if !floating {
                for i in indices { width = Swift.max(width, Self.plain(t, i).count) }
                return
            }
            let values = indices.map { Self.double(t, $0) }.filter { $0.isFinite && $0 != 0 }
            guard !values.isEmpty else { return }
            let magnitudes = values.map { Swift.abs($0) }
            let lo = magnitudes.min() ?? 1, hi = magnitudes.max() ?? 1
            integral = values.allSatisfy { $0 == $0.rounded(.up) }
            scientific = hi / lo > 1000 || hi > 1e8 || lo < 1e-4
            for v in values {
                let s = scientific ? Self.exponent(v) : integral ? Self.whole(v) + "." : Self.fixed(v)
                width = Swift.max(width, s.count)
            }
        }

        func format(_ t: Tensor, _ i: Int) -> String {
            let s: String
            if !floating {
                s = Self.plain(t, i)
            } else {
                let v = Self.double(t, i)
                if v.isNaN { s = "nan" }
                else if v.isInfinite { s = v < 0 ? "-inf" : "inf" }
                else if scientific { s = Self.exponent(v) }
                else if integral { s = Self.whole(v) + "." }
                else { s = Self.fixed(v) }
            }
            return s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
        }

        static func fixed(_ v: Double) -> String { String(format: "%.\(precision)f", v) }
        static func exponent(_ v: Double) -> String { String(format: "%.\(precision)e", v) }
        static func whole(_ v: Double) -> String { String(format: "%.0f", v) }

        static func double(_ t: Tensor, _ i: Int) -> Double {
            switch t.dtype {
            case .float64: Double(t.storage.pointer(as: Double.self)[i])
            case .float32: Double(t.storage.pointer(as: Float.self)[i])
            case .int32: Double(t.storage.pointer(as: Int32.self)[i])
            case .int64: Double(t.storage.pointer(as: Int64.self)[i])
            case .bool: t.storage.pointer(as: Bool.self)[i] ? 1 : 0
            }
        }

        /// Python's `str` of an integer or bool element.
        static func plain(_ t: Tensor, _ i: Int) -> String {
            switch t.dtype {
            case .int32: String(t.storage.pointer(as: Int32.self)[i])
            case .int64: String(t.storage.pointer(as: Int64.self)[i])
            case .bool: t.storage.pointer(as: Bool.self)[i] ? "True" : "False"
            default: String(double(t, i))
            }
        }
    }
}
