/// Activation functions: tanh, sigmoid, relu, leakyRelu, elu, gelu (erf and tanh forms),
/// softplus, with gradients following PyTorch's conventions at kinks.

/// Which formula `gelu` uses: the exact one with erf, or PyTorch's tanh approximation.
public enum GELUApproximation: Sendable, Equatable {
    case erf, tanh
}

// MARK: - Forward functions

enum TanhFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { .tanh(x) } }

/// 1/(1+e^−x) evaluated so that exp never overflows: for x < 0 it is e^x/(1+e^x).
enum SigmoidFn: UnaryFunction {
    @inlinable static func apply<T: FloatElement>(_ x: T) -> T {
        if x >= 0 { return 1 / (1 + .exp(-x)) }
        let e = T.exp(x)
        return e / (1 + e)
    }
}

/// max(x, 0); NaN stays NaN.
enum ReluFn: UnaryFunction { @inlinable static func apply<T: FloatElement>(_ x: T) -> T { x < 0 ? 0 : x } }

struct LeakyReluOp: UnaryOperation {
    let slope: Double
    @inlinable func apply<T: FloatElement>(_ x: T) -> T { x > 0 ? x : x * T(slope) }
}

struct EluOp: UnaryOperation {
    let alpha: Double
    @inlinable func apply<T: FloatElement>(_ x: T) -> T { x > 0 ? x : T(alpha) * .expMinusOne(x) }
}

@usableFromInline let sqrtHalf = 0.70710678118654752440
@usableFromInline let sqrtTwoOverPi = 0.79788456080286535588
@usableFromInline let invSqrtTwoPi = 0.39894228040143267794

/// 0.5·x·(1 + erf(x/√2)).
enum GeluErfFn: UnaryFunction {
    @inlinable static func apply<T: FloatElement>(_ x: T) -> T { x * (1 + T.erf(x * T(sqrtHalf))) / 2 }
}

/// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
enum GeluTanhFn: UnaryFunction {
    @inlinable static func apply<T: FloatElement>(_ x: T) -> T {
        let inner = T(sqrtTwoOverPi) * (x + T(0.044715) * x * x * x)
        return x * (1 + .tanh(inner)) / 2
    }
}

/// log(1 + e^(βx))/β, linear (x) where βx > threshold, as PyTorch.
struct SoftplusOp: UnaryOperation {
    let beta: Double, threshold: Double
    @inlinable func apply<T: FloatElement>(_ x: T) -> T {
        let bx = x * T(beta)
        return bx > T(threshold) ? x : .log(onePlus: .exp(bx)) / T(beta)
    }
}

// MARK: - Backward functions

enum TanhGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ y: T) -> T { g * (1 - y * y) }
}
enum SigmoidGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ y: T) -> T { g * y * (1 - y) }
}
/// relu'(0) = 0: the gradient passes where the output is positive.
enum ReluGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ y: T) -> T { y > 0 ? g : 0 }
}
/// The slope applies at x <= 0, as PyTorch's leaky_relu_backward.
struct LeakyReluGradOp: BinaryOperation {
    let slope: Double
    @inlinable func apply<T: FloatElement>(_ g: T, _ x: T) -> T { x > 0 ? g : g * T(slope) }
}
/// α·e^x at x <= 0 (so α at 0), as PyTorch's elu_backward.
struct EluGradOp: BinaryOperation {
    let alpha: Double
    @inlinable func apply<T: FloatElement>(_ g: T, _ x: T) -> T { x > 0 ? g : g * T(alpha) * .exp(x) }
}
enum GeluErfGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ x: T) -> T {
        let cdf = (1 + T.erf(x * T(sqrtHalf))) / 2
        let pdf = T(invSqrtTwoPi) * .exp(-x * x / 2)
        return g * (cdf + x * pdf)
    }
}
enum GeluTanhGradFn: BinaryFunction {
    @inlinable static func apply<T: FloatElement>(_ g: T, _ x: T) -> T {
        let k = T(sqrtTwoOverPi), c = T(0.044715)
        let t = T.tanh(k * (x + c * x * x * x))
        let dInner = k * (1 + 3 * c * x * x)
        return g * ((1 + t) / 2 + x * (1 - t * t) * dInner / 2)
    }
}
/// σ(βx) below the threshold, 1 above it.
struct SoftplusGradOp: BinaryOperation {
    let beta: Double, threshold: Double
    @inlinable func apply<T: FloatElement>(_ g: T, _ x: T) -> T {
        let bx = x * T(beta)
        return bx > T(threshold) ? g : g * SigmoidFn.apply(bx)
    }
}

// MARK: - Public API

extension Tensor {
    public func tanh() -> Tensor {
        let out = dtype == .float32 ? fastFloat32(FastMath.tanh) : applyUnary(TanhFn.self)
        let y = out.detached()
        return Autograd.record(out, inputs: [self], name: "tanh") { g, _ in
            [Tensor.applyBinary(TanhGradFn.self, g, y, op: "tanh backward")]
        }
    }

    /// 1/(1+e^−x), stable for large |x|.
    public func sigmoid() -> Tensor {
        let out = dtype == .float32 ? fastFloat32(FastMath.sigmoid) : applyUnary(SigmoidFn.self)
        let y = out.detached()
        return Autograd.record(out, inputs: [self], name: "sigmoid") { g, _ in
            [Tensor.applyBinary(SigmoidGradFn.self, g, y, op: "sigmoid backward")]
        }
    }

    /// max(x, 0). The gradient at 0 is 0.
    public func relu() -> Tensor {
        let out = applyUnary(ReluFn.self), y = out.detached()
        return Autograd.record(out, inputs: [self], name: "relu") { g, _ in
            [Tensor.applyBinary(ReluGradFn.self, g, y, op: "relu backward")]
        }
    }

    /// x for x > 0, negativeSlope·x otherwise.
    public func leakyRelu(negativeSlope: Double = 0.01) -> Tensor {
        let out = applyUnary(LeakyReluOp(slope: negativeSlope)), x = detached()
        return Autograd.record(out, inputs: [self], name: "leakyRelu") { g, _ in
            [Tensor.applyBinary(LeakyReluGradOp(slope: negativeSlope), g, x, op: "leakyRelu backward")]
        }
    }

    /// x for x > 0, α·(e^x − 1) otherwise.
    public func elu(alpha: Double = 1) -> Tensor {
        let out = applyUnary(EluOp(alpha: alpha)), x = detached()
        return Autograd.record(out, inputs: [self], name: "elu") { g, _ in
            [Tensor.applyBinary(EluGradOp(alpha: alpha), g, x, op: "elu backward")]
        }
    }

    /// Gaussian error linear unit: exact (erf) or PyTorch's tanh approximation.
    public func gelu(approximation: GELUApproximation = .erf) -> Tensor {
        let x = detached()
        switch approximation {
        case .erf:
            let out = dtype == .float32 ? fastFloat32(FastMath.geluErf) : applyUnary(GeluErfFn.self)
            return Autograd.record(out, inputs: [self], name: "gelu") { g, _ in
                if g.dtype == .float32 && x.dtype == .float32 && g.shape == x.shape {
                    return [Tensor.fastFloat32Binary(g, x, FastMath.geluErfBackward)]
                }
                return [Tensor.applyBinary(GeluErfGradFn.self, g, x, op: "gelu backward")]
            }
        case .tanh:
            return Autograd.record(applyUnary(GeluTanhFn.self), inputs: [self], name: "gelu") { g, _ in
                [Tensor.applyBinary(GeluTanhGradFn.self, g, x, op: "gelu backward")]
            }
        }
    }

    /// log(1 + e^(βx))/β, and x itself where βx > threshold (PyTorch's softplus).
    public func softplus(beta: Double = 1, threshold: Double = 20) -> Tensor {
        if beta == 0 || !beta.isFinite { requirementFailure("softplus: beta must be finite and non-zero, not \(beta)") }
        let out = applyUnary(SoftplusOp(beta: beta, threshold: threshold)), x = detached()
        return Autograd.record(out, inputs: [self], name: "softplus") { g, _ in
            [Tensor.applyBinary(SoftplusGradOp(beta: beta, threshold: threshold), g, x, op: "softplus backward")]
        }
    }
}
