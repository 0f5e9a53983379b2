import Foundation

/// Element-wise math: pow, abs, sqrt, rsqrt, exp, log, log1p, sin, cos, square,
/// clamp, minimum/maximum, and their gradients (PyTorch's conventions at kinks).

// MARK: - Forward functions

enum AbsFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { x.magnitude } }
enum SqrtFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { x.squareRoot() } }
enum RsqrtFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { 1 / x.squareRoot() } }
enum ExpFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { .exp(x) } }
enum LogFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { .log(x) } }
enum Log1pFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { .log(onePlus: x) } }
enum SinFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { .sin(x) } }
enum CosFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { .cos(x) } }
enum SquareFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { x * x } }
enum CubeFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { x * x * x } }
enum ReciprocalFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { 1 / x } }
enum InverseSquareFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { 1 / (x * x) } }
enum IdentityFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { x } }

/// C's pow (IEEE semantics: negative bases with integral exponents, pow(x, 0) = 1), as
/// PyTorch; swift-numerics' `Real.pow` returns NaN for every negative base.
@inlinable @inline(__always)
func ieeePow<T: FloatElement>(_ x: T, _ y: T) -> T {
    if T.self == Float.self {
        return unsafeBitCast(Foundation.powf(unsafeBitCast(x, to: Float.self), unsafeBitCast(y, to: Float.self)), to: T.self)
    }
    return unsafeBitCast(Foundation.pow(unsafeBitCast(x, to: Double.self), unsafeBitCast(y, to: Double.self)), to: T.self)
}

struct PowScalarOp: UnaryOperation {
    let exponent: Double
    @inlinable func apply<T: FloatElement>(_ x: T) -> T { ieeePow(x, T(exponent)) }
}

enum PowFn: BinaryFunction { @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { ieeePow(a, b) } }

struct ClampOp: UnaryOperation {
    let low: Double, high: Double
    // min(max(x, low), high) as PyTorch: NaN stays NaN, and low > high gives high everywhere.
    @inlinable func apply<T: FloatElement>(_ x: T) -> T {
        if x.isNaN { return x }
        let l = T(low), h = T(high)
        let y = x < l ? l : x
        return y > h ? h : y
    }
}

// NaN propagates (torch.maximum/minimum); integers stay integers.
enum MaximumFn: IntegerBinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T {
        if a.isNaN || b.isNaN { return a + b }
        return a < b ? b : a
    }
    @inlinable static func applyInteger<I: FixedWidthInteger>(_ a: I, _ b: I) -> I { Swift.max(a, b) }
}

enum MinimumFn: IntegerBinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T {
        if a.isNaN || b.isNaN { return a + b }
        return b < a ? b : a
    }
    @inlinable static func applyInteger<I: FixedWidthInteger>(_ a: I, _ b: I) -> I { Swift.min(a, b) }
}

// MARK: - Backward functions: (grad, saved) -> input grad, fused in one pass

/// abs'(0) = 0, as PyTorch's sgn.
enum AbsGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ x: T) -> T { x > 0 ? g : (x < 0 ? -g : 0) }
}
enum SqrtGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ y: T) -> T { g / (2 * y) }
}
enum RsqrtGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ y: T) -> T { -g * y * y * y / 2 }
}
enum Log1pGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ x: T) -> T { g / (1 + x) }
}
enum SinGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ x: T) -> T { g * .cos(x) }
}
enum CosGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ x: T) -> T { -g * .sin(x) }
}
enum SquareGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ x: T) -> T { 2 * g * x }
}

/// d/dx x^e = e·x^(e−1), zero where e == 0 (PyTorch's pow_backward).
struct PowScalarGradOp: BinaryOperation {
    let exponent: Double
    @inlinable func apply<T: FloatElement>(_ g: T, _ x: T) -> T {
        if exponent == 0 { return 0 }
        let e = T(exponent)
        switch exponent {
        case 1: return g
        case 2: return 2 * g * x
        default: return g * e * ieeePow(x, e - 1)
        }
    }
}

/// d(a^b)/da without the incoming gradient: b·a^(b−1), zero where b == 0.
enum PowBaseGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { b == 0 ? 0 : b * ieeePow(a, b - 1) }
}
/// d(a^b)/db = a^b·log(a); the log factor, zero where a == 0 and b >= 0 (PyTorch's pow_backward_exponent).
enum PowExponentLogFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { a == 0 && b >= 0 ? 0 : .log(a) }
}

/// Passes the gradient where low <= x <= high (PyTorch's clamp_backward).
struct ClampGradOp: BinaryOperation {
    let low: Double, high: Double
    @inlinable func apply<T: FloatElement>(_ g: T, _ x: T) -> T { x >= T(low) && x <= T(high) ? g : 0 }
}

// Share of the gradient each operand of maximum/minimum gets: ties split half/half
// (PyTorch: where(a == b, g/2, g).masked_fill_(a < b, 0) for maximum's first operand).
enum MaximumFirstShareFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { a == b ? 0.5 : (a < b ? 0 : 1) }
}
enum MaximumSecondShareFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ a: T, _ b: T) -> T { a == b ? 0.5 : (a > b ? 0 : 1) }
}

// MARK: - Public API

extension Tensor {
    /// |x|. The gradient at 0 is 0.
    public func abs() -> Tensor {
        if dtype == .int64 || dtype == .int32 { return Tensor.maximum(self, -self) }
        let out = applyUnary(AbsFn.self), x = detached()
        return Autograd.record(out, inputs: [self], name: "abs") { g, _ in
            [Tensor.applyBinary(AbsGradFn.self, g, x, op: "abs backward")]
        }
    }

    public func sqrt() -> Tensor {
        let out = applyUnary(SqrtFn.self), y = out.detached()
        return Autograd.record(out, inputs: [self], name: "sqrt") { g, _ in
            [Tensor.applyBinary(SqrtGradFn.self, g, y, op: "sqrt backward")]
        }
    }

    /// 1/√x.
    public func rsqrt() -> Tensor {
        let out = applyUnary(RsqrtFn.self), y = out.detached()
        return Autograd.record(out, inputs: [self], name: "rsqrt") { g, _ in
            [Tensor.applyBinary(RsqrtGradFn.self, g, y, op: "rsqrt backward")]
        }
    }

    public func exp() -> Tensor {
        let out = dtype == .float32 ? fastFloat32(FastMath.exp) : applyUnary(ExpFn.self)
        let y = out.detached()
        return Autograd.record(out, inputs: [self], name: "exp") { g, _ in [g * y] }
    }

    /// Natural logarithm (−inf at 0, NaN below).
    public func log() -> Tensor {
        let out = applyUnary(LogFn.self), x = detached()
        return Autograd.record(out, inputs: [self], name: "log") { g, _ in [g / x] }
    }

    /// log(1 + x), accurate for tiny x.
    public func log1p() -> Tensor {
        let out = applyUnary(Log1pFn.self), x = detached()
        return Autograd.record(out, inputs: [self], name: "log1p") { g, _ in
            [Tensor.applyBinary(Log1pGradFn.self, g, x, op: "log1p backward")]
        }
    }

    public func sin() -> Tensor {
        let out = applyUnary(SinFn.self), x = detached()
        return Autograd.record(out, inputs: [self], name: "sin") { g, _ in
            [Tensor.applyBinary(SinGradFn.self, g, x, op: "sin backward")]
        }
    }

    public func cos() -> Tensor {
        let out = applyUnary(CosFn.self), x = detached()
        return Autograd.record(out, inputs: [self], name: "cos") { g, _ in
            [Tensor.applyBinary(CosGradFn.self, g, x, op: "cos backward")]
        }
    }

    /// x², exact (x·x).
    public func square() -> Tensor {
        if dtype == .int64 || dtype == .int32 { return self * self }
        let out = applyUnary(SquareFn.self), x = detached()
        return Autograd.record(out, inputs: [self], name: "square") { g, _ in
            [Tensor.applyBinary(SquareGradFn.self, g, x, op: "square backward")]
        }
    }

    /// x^e with C's pow semantics (negative bases allowed for integral e). Small integral
    /// and half exponents use exact products, sqrt and rsqrt, as PyTorch does.
    public func pow(_ e: Double) -> Tensor {
        let out: Tensor
        switch e {
        case 0: out = Tensor.ones(shape, dtype: dtype.isFloatingPoint ? dtype : .float32)
        case 1: out = applyUnary(IdentityFn.self)
        case 2: out = applyUnary(SquareFn.self)
        case 3: out = applyUnary(CubeFn.self)
        case 0.5: out = applyUnary(SqrtFn.self)
        case -0.5: out = applyUnary(RsqrtFn.self)
        case -1: out = applyUnary(ReciprocalFn.self)
        case -2: out = applyUnary(InverseSquareFn.self)
        default: out = applyUnary(PowScalarOp(exponent: e))
        }
        let x = detached()
        return Autograd.record(out, inputs: [self], name: "pow") { g, _ in
            [Tensor.applyBinary(PowScalarGradOp(exponent: e), g, x, op: "pow backward")]
        }
    }

    /// self^e element-wise with broadcasting; see the free function `pow(_:_:)`.
    public func pow(_ e: Tensor) -> Tensor { Tensor.powTensor(self, e) }

    static func powTensor(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = applyBinary(PowFn.self, a, b, op: "pow")
        let ad = a.detached(), bd = b.detached(), y = out.detached()
        return Autograd.record(out, inputs: [a, b], name: "pow") { g, needs in
            [needs[0] ? (g * applyBinary(PowBaseGradFn.self, ad, bd, op: "pow backward")).sumToShape(ad.shape) : nil,
             needs[1] ? (g * y * applyBinary(PowExponentLogFn.self, ad, bd, op: "pow backward")).sumToShape(bd.shape) : nil]
        }
    }

    /// Limits values to [min, max] (either bound may be omitted, not both). The gradient
    /// passes where min <= x <= max, as PyTorch. NaN stays NaN.
    public func clamp(min: Double? = nil, max: Double? = nil) -> Tensor {
        if min == nil && max == nil { requirementFailure("clamp: at least one of min and max must be given (tensor of shape \(shape))") }
        if min?.isNaN == true || max?.isNaN == true {
            requirementFailure("clamp: bounds must not be NaN (min \(min ?? -.infinity), max \(max ?? .infinity))")
        }
        let low = min ?? -.infinity, high = max ?? .infinity
        let out = applyUnary(ClampOp(low: low, high: high)), x = detached()
        return Autograd.record(out, inputs: [self], name: "clamp") { g, _ in
            [Tensor.applyBinary(ClampGradOp(low: low, high: high), g, x, op: "clamp backward")]
        }
    }

    static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = applyBinary(MaximumFn.self, a, b, op: "maximum")
        let ad = a.detached(), bd = b.detached()
        return Autograd.record(out, inputs: [a, b], name: "maximum") { g, needs in
            [needs[0] ? (g * applyBinary(MaximumFirstShareFn.self, ad, bd, op: "maximum backward")).sumToShape(ad.shape) : nil,
             needs[1] ? (g * applyBinary(MaximumSecondShareFn.self, ad, bd, op: "maximum backward")).sumToShape(bd.shape) : nil]
        }
    }

    static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = applyBinary(MinimumFn.self, a, b, op: "minimum")
        let ad = a.detached(), bd = b.detached()
        // minimum's first operand gets maximum's second share and vice versa.
        return Autograd.record(out, inputs: [a, b], name: "minimum") { g, needs in
            [needs[0] ? (g * applyBinary(MaximumSecondShareFn.self, ad, bd, op: "minimum backward")).sumToShape(ad.shape) : nil,
             needs[1] ? (g * applyBinary(MaximumFirstShareFn.self, ad, bd, op: "minimum backward")).sumToShape(bd.shape) : nil]
        }
    }
}

/// a^b element-wise with broadcasting (C's pow semantics). The gradient with respect to
/// the exponent is a^b·log(a), zero where a == 0 and b >= 0, as PyTorch.
public func pow(_ a: Tensor, _ b: Tensor) -> Tensor { Tensor.powTensor(a, b) }

/// Element-wise maximum with broadcasting; NaN propagates; ties split the gradient half/half.
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { Tensor.maximum(a, b) }
public func maximum(_ a: Tensor, _ b: Double) -> Tensor { Tensor.maximum(a, Tensor.scalar(b, like: a)) }
public func maximum(_ a: Double, _ b: Tensor) -> Tensor { Tensor.maximum(Tensor.scalar(a, like: b), b) }

/// Element-wise minimum with broadcasting; NaN propagates; ties split the gradient half/half.
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { Tensor.minimum(a, b) }
public func minimum(_ a: Tensor, _ b: Double) -> Tensor { Tensor.minimum(a, Tensor.scalar(b, like: a)) }
public func minimum(_ a: Double, _ b: Tensor) -> Tensor { Tensor.minimum(Tensor.scalar(a, like: b), b) }
