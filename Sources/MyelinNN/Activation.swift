import MyelinCore

// Activation layers: thin modules over the Tensor methods, so they can stand in a
// `Sequential` (PyTorch's nn.ReLU, nn.GELU, ...). The functions themselves are the
// Tensor methods (`x.relu()`, `x.softmax(axis:)`).

/// max(x, 0), as `nn.ReLU`.
public final class ReLU: Module, UnaryLayer {
    override public init() { super.init() }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.relu() }
}

/// min(max(x, 0), 6), as `nn.ReLU6` (MobileNet's activation): `x.relu6()`.
public final class ReLU6: Module, UnaryLayer {
    override public init() { super.init() }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.relu6() }
}

extension Tensor {
    /// min(max(x, 0), 6). The gradient is 1 strictly between 0 and 6 and 0 elsewhere, at
    /// both ends included, as PyTorch's relu6 (hardtanh); a plain clamp would pass it at 0 and 6.
    public func relu6() -> Tensor {
        let x = detached()
        let out = x.clamp(min: 0, max: 6)
        return Autograd.record(out, inputs: [self], name: "relu6") { g, _ in
            [g * ((x .> 0) .& (x .< 6)).to(g.dtype)]
        }
    }
}

/// x for x > 0, negativeSlope·x otherwise, as `nn.LeakyReLU`.
public final class LeakyReLU: Module, UnaryLayer {
    public let negativeSlope: Double
    public init(negativeSlope: Double = 0.01) {
        self.negativeSlope = negativeSlope
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.leakyRelu(negativeSlope: negativeSlope) }
}

/// x for x > 0, α·(eˣ − 1) otherwise, as `nn.ELU`.
public final class ELU: Module, UnaryLayer {
    public let alpha: Double
    public init(alpha: Double = 1) {
        self.alpha = alpha
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.elu(alpha: alpha) }
}

/// 1 / (1 + e⁻ˣ), as `nn.Sigmoid`.
public final class Sigmoid: Module, UnaryLayer {
    override public init() { super.init() }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.sigmoid() }
}

/// tanh(x), as `nn.Tanh`.
public final class Tanh: Module, UnaryLayer {
    override public init() { super.init() }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.tanh() }
}

/// x·Φ(x) (exact with erf, or PyTorch's tanh approximation), as `nn.GELU`.
public final class GELU: Module, UnaryLayer {
    public let approximation: GELUApproximation
    public init(approximation: GELUApproximation = .erf) {
        self.approximation = approximation
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.gelu(approximation: approximation) }
}

/// Softmax along `axis` (the last by default), as `nn.Softmax(dim=axis)`.
public final class Softmax: Module, UnaryLayer {
    public let axis: Int
    public init(axis: Int = -1) {
        self.axis = axis
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.softmax(axis: axis) }
}

/// Log-softmax along `axis` (the last by default), as `nn.LogSoftmax(dim=axis)`.
public final class LogSoftmax: Module, UnaryLayer {
    public let axis: Int
    public init(axis: Int = -1) {
        self.axis = axis
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.logSoftmax(axis: axis) }
}
