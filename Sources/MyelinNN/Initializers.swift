import Foundation
import MyelinCore

/// The non-linearity an initialiser's gain is computed for (PyTorch's `calculate_gain`).
public enum Nonlinearity: Sendable, Equatable {
    /// Linear and convolution layers, and sigmoid: gain 1.
    case linear, sigmoid
    /// 5/3.
    case tanh
    /// √2.
    case relu
    /// √(2 / (1 + negativeSlope²)); the slope is the initialiser's `a` (PyTorch's default 0.01 for calculate_gain).
    case leakyRelu
    /// 3/4.
    case selu
}

/// How He (Kaiming) initialisation scales: by the fan-in (preserves the forward
/// variance) or the fan-out (preserves the backward variance).
public enum FanMode: Sendable, Equatable {
    case fanIn, fanOut
}

/// Weight initialisers, as PyTorch's `nn.init`, applied in place to a parameter:
///
///     Init.kaimingNormal(layer.$weight, nonlinearity: .relu)
///     Init.zeros(layer.bias!)
///
/// Fans follow PyTorch: for a weight [out, in, k₁, k₂, ...] (linear or convolution),
/// fan_in = in·k₁·k₂·…, fan_out = out·k₁·k₂·…. Each call keeps the parameter's dtype
/// and trainable flag and draws from `generator`.
public enum Init {
    /// The recommended gain for a non-linearity (`param` is leaky ReLU's negative slope).
    public static func calculateGain(_ nonlinearity: Nonlinearity, param: Double? = nil) -> Double {
        switch nonlinearity {
        case .linear, .sigmoid: return 1
        case .tanh: return 5.0 / 3
        case .relu: return 2.0.squareRoot()
        case .leakyRelu:
            let slope = param ?? 0.01
            return (2 / (1 + slope * slope)).squareRoot()
        case .selu: return 0.75
        }
    }

    /// (fan_in, fan_out) of a weight shape of rank ≥ 2, as PyTorch's `_calculate_fan_in_and_fan_out`.
    public static func fans(_ shape: [Int], op: String = "Init") -> (fanIn: Int, fanOut: Int) {
        require(shape.count >= 2, "\(op): fan in and fan out cannot be computed for a tensor of shape \(shape) (rank < 2)")
        let receptive = Shape.count(Array(shape[2...]))
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Uniform in [low, high).
    public static func uniform(_ p: Parameter, low: Double = 0, high: Double = 1, generator: RandomGenerator = .default) {
        require(low <= high, "Init.uniform: low (\(low)) must not exceed high (\(high))")
        p.assign(Tensor.uniform(p.shape, low: low, high: high, dtype: p.value.dtype, generator: generator))
    }

    /// Normal with the given mean and standard deviation.
    public static func normal(_ p: Parameter, mean: Double = 0, std: Double = 1, generator: RandomGenerator = .default) {
        require(std >= 0, "Init.normal: std must be non-negative, got \(std)")
        p.assign(Tensor.normal(p.shape, mean: mean, std: std, dtype: p.value.dtype, generator: generator))
    }

    public static func constant(_ p: Parameter, _ value: Double) {
        p.assign(Tensor.full(p.shape, value, dtype: p.value.dtype))
    }

    public static func zeros(_ p: Parameter) { constant(p, 0) }
    public static func ones(_ p: Parameter) { constant(p, 1) }

    /// Glorot uniform: U(±a) with a = gain·√(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ p: Parameter, gain: Double = 1, generator: RandomGenerator = .default) {
        let (fi, fo) = fans(p.shape, op: "Init.xavierUniform")
        let a = gain * (6 / Double(fi + fo)).squareRoot()
        p.assign(Tensor.uniform(p.shape, low: -a, high: a, dtype: p.value.dtype, generator: generator))
    }

    /// Glorot normal: N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out)).
    public static func xavierNormal(_ p: Parameter, gain: Double = 1, generator: RandomGenerator = .default) {
        let (fi, fo) = fans(p.shape, op: "Init.xavierNormal")
        let std = gain * (2 / Double(fi + fo)).squareRoot()
        p.assign(Tensor.normal(p.shape, mean: 0, std: std, dtype: p.value.dtype, generator: generator))
    }

    /// The standard deviation He initialisation aims for: gain / √fan.
    public static func kaimingStd(_ shape: [Int], a: Double, mode: FanMode, nonlinearity: Nonlinearity, op: String) -> Double {
        let (fi, fo) = fans(shape, op: op)
        let fan = mode == .fanIn ? fi : fo
        require(fan > 0, "\(op): cannot initialise a tensor of shape \(shape): its fan is 0")
        return calculateGain(nonlinearity, param: a) / Double(fan).squareRoot()
    }

    /// He uniform: U(±√3·σ) with σ = gain/√fan; `a` is the negative slope for `.leakyRelu`.
    /// PyTorch's defaults: a = 0, fan_in, leaky_relu (so gain √2).
    public static func kaimingUniform(_ p: Parameter, a: Double = 0, mode: FanMode = .fanIn,
                                      nonlinearity: Nonlinearity = .leakyRelu, generator: RandomGenerator = .default) {
        let bound = 3.0.squareRoot() * kaimingStd(p.shape, a: a, mode: mode, nonlinearity: nonlinearity, op: "Init.kaimingUniform")
        p.assign(Tensor.uniform(p.shape, low: -bound, high: bound, dtype: p.value.dtype, generator: generator))
    }

    /// He normal: N(0, σ²) with σ = gain/√fan.
    public static func kaimingNormal(_ p: Parameter, a: Double = 0, mode: FanMode = .fanIn,
                                     nonlinearity: Nonlinearity = .leakyRelu, generator: RandomGenerator = .default) {
        let std = kaimingStd(p.shape, a: a, mode: mode, nonlinearity: nonlinearity, op: "Init.kaimingNormal")
        p.assign(Tensor.normal(p.shape, mean: 0, std: std, dtype: p.value.dtype, generator: generator))
    }

    /// PyTorch's default for Linear and convolution weights, kaiming_uniform(a = √5):
    /// U(±1/√fan_in); the bias (if any) U(±1/√fan_in) as well.
    public static func pytorchDefault(weight: Parameter, bias: Parameter?, generator: RandomGenerator = .default) {
        kaimingUniform(weight, a: 5.0.squareRoot(), generator: generator)
        if let bias {
            let fi = fans(weight.shape, op: "Init.pytorchDefault").fanIn
            let bound = fi > 0 ? 1 / Double(fi).squareRoot() : 0
            uniform(bias, low: -bound, high: bound, generator: generator)
        }
    }
}
