/// + − × ÷ with broadcasting, and their gradients.

// Integer tensors stay integer for + - * (wrapping, as PyTorch); division is true division in float.
enum AddFn: IntegerBinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { a + b }
    @inlinable static func applyInteger<I: FixedWidthInteger>(_ a: I, _ b: I) -> I { a &+ b }
}
enum SubFn: IntegerBinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { a - b }
    @inlinable static func applyInteger<I: FixedWidthInteger>(_ a: I, _ b: I) -> I { a &- b }
}
enum MulFn: IntegerBinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { a * b }
    @inlinable static func applyInteger<I: FixedWidthInteger>(_ a: I, _ b: I) -> I { a &* b }
}
enum DivFn: BinaryFunction { @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { a / b } }

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = applyBinary(AddFn.self, a, b, op: "add")
        return Autograd.record(out, inputs: [a, b], name: "add") { g, needs in
            [needs[0] ? g.sumToShape(a.shape) : nil, needs[1] ? g.sumToShape(b.shape) : nil]
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = applyBinary(SubFn.self, a, b, op: "sub")
        return Autograd.record(out, inputs: [a, b], name: "sub") { g, needs in
            [needs[0] ? g.sumToShape(a.shape) : nil, needs[1] ? (-g).sumToShape(b.shape) : nil]
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = applyBinary(MulFn.self, a, b, op: "mul")
        return Autograd.record(out, inputs: [a, b], name: "mul") { g, needs in
            [needs[0] ? (g * b).sumToShape(a.shape) : nil, needs[1] ? (g * a).sumToShape(b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = applyBinary(DivFn.self, a, b, op: "div")
        return Autograd.record(out, inputs: [a, b], name: "div") { g, needs in
            [needs[0] ? (g / b).sumToShape(a.shape) : nil,
             needs[1] ? (-(g * out.detached()) / b).sumToShape(b.shape) : nil]
        }
    }

    public static prefix func - (x: Tensor) -> Tensor {
        if x.dtype == .int64 || x.dtype == .int32 { return Tensor.zeros([], dtype: x.dtype) - x }
        let out = x.applyUnary(NegFn.self)
        return Autograd.record(out, inputs: [x], name: "neg") { g, _ in [-g] }
    }

    // Scalars broadcast as rank-0 tensors of the other operand's float dtype.
    static func scalar(_ v: Double, like t: Tensor) -> Tensor {
        Tensor(scalar: v, dtype: t.dtype.isFloatingPoint ? t.dtype : .float32)
    }

    public static func + (a: Tensor, b: Double) -> Tensor { a + scalar(b, like: a) }
    public static func + (a: Double, b: Tensor) -> Tensor { scalar(a, like: b) + b }
    public static func - (a: Tensor, b: Double) -> Tensor { a - scalar(b, like: a) }
    public static func - (a: Double, b: Tensor) -> Tensor { scalar(a, like: b) - b }
    public static func * (a: Tensor, b: Double) -> Tensor { a * scalar(b, like: a) }
    public static func * (a: Double, b: Tensor) -> Tensor { scalar(a, like: b) * b }
    public static func / (a: Tensor, b: Double) -> Tensor { a / scalar(b, like: a) }
    public static func / (a: Double, b: Tensor) -> Tensor { scalar(a, like: b) / b }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    public static func /= (a: inout Tensor, b: Tensor) { a = a / b }
    public static func += (a: inout Tensor, b: Double) { a = a + b }
    public static func -= (a: inout Tensor, b: Double) { a = a - b }
    public static func *= (a: inout Tensor, b: Double) { a = a * b }
    public static func /= (a: inout Tensor, b: Double) { a = a / b }

    /// Sums a broadcast gradient back down to `shape` (the reverse of broadcasting).
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        require(lead >= 0, "sumToShape: cannot reduce shape \(shape) to larger rank shape \(target)")
        var axes: [Int] = Array(0..<lead)
        for (i, d) in target.enumerated() where d == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        let reduced = axes.isEmpty ? self : sum(axes: axes, keepDims: true)
        return reduced.reshaped(target)
    }
}

enum NegFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { -x } }
