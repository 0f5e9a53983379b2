import MyelinCore

/// Inverted dropout: in training each element is zeroed with probability `p` and the
/// survivors are scaled by 1/(1 − p), so evaluation needs no rescaling; identity
/// when `training` is false or p = 0 (PyTorch's `F.dropout`).
public func dropout(_ input: Tensor, p: Double = 0.5, training: Bool = true, generator: RandomGenerator = .default) -> Tensor {
    require(p >= 0 && p <= 1 && !p.isNaN, "dropout: p must be in [0, 1], got \(p)")
    guard training, p > 0 else { return input }
    let x = input.dtype.isFloatingPoint ? input : input.to(.float32)
    if p == 1 { return x * 0 }
    // The mask already holds 0 or 1/(1 − p), so forward and backward are one multiply each.
    var mask = Tensor.bernoulli(x.shape, p: 1 - p, dtype: x.dtype, generator: generator)
    let scale = 1 / (1 - p)
    switch x.dtype {
    case .float64: mask.withUnsafeMutablePointer(as: Double.self) { m in for i in 0..<x.count { m[i] *= scale } }
    default:
        let s = Float(scale)
        mask.withUnsafeMutablePointer(as: Float.self) { m in for i in 0..<x.count { m[i] *= s } }
    }
    return x * mask
}

/// Randomly zeroes elements during training, as `nn.Dropout(p)`; identity in evaluation mode.
public final class Dropout: Module, UnaryLayer {
    public let p: Double
    let generator: RandomGenerator

    /// `p` is the probability that an element is zeroed, in [0, 1].
    public init(_ p: Double = 0.5, generator: RandomGenerator = .default) {
        require(p >= 0 && p <= 1 && !p.isNaN, "Dropout: p must be in [0, 1], got \(p)")
        self.p = p
        self.generator = generator
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        dropout(input, p: p, training: training, generator: generator)
    }
}
