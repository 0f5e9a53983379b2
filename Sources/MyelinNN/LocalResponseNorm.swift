import MyelinCore

/// Local response normalisation across channels (AlexNet, VGG A-LRN), as PyTorch's
/// `nn.LocalResponseNorm` / `F.local_response_norm`:
///
///     b_c = a_c / (k + α/n · Σ_{c' = c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋} a_{c'}²)^β
///
/// with zero padding beyond the first and last channel. Input [N, C, ...] (rank ≥ 3).
public func localResponseNorm(_ input: Tensor, size: Int, alpha: Double = 1e-4, beta: Double = 0.75, k: Double = 1) -> Tensor {
    require(size >= 1, "localResponseNorm: size must be ≥ 1, got \(size)")
    require(input.rank >= 3, "localResponseNorm: input must be [N, C, ...] with at least 3 dimensions, got shape \(input.shape)")
    let c = input.shape[1]
    var widths = Array(repeating: (0, 0), count: input.rank)
    widths[1] = (size / 2, (size - 1) / 2)
    // Built from differentiable ops, so the gradient (through the square, the window sums
    // and the power) comes from autograd.
    let sq = input.square().padded(widths)
    var window = sq.slice(axis: 1, start: 0, end: c)
    for i in 1..<Swift.max(1, size) { window = window + sq.slice(axis: 1, start: i, end: i + c) }
    let div = (window * (alpha / Double(size)) + k).pow(beta)
    return input / div
}

/// `localResponseNorm` as a layer, PyTorch's `nn.LocalResponseNorm(size, alpha, beta, k)`.
public final class LocalResponseNorm: Module, UnaryLayer {
    public let size: Int
    public let alpha: Double, beta: Double, k: Double

    public init(_ size: Int, alpha: Double = 1e-4, beta: Double = 0.75, k: Double = 1) {
        require(size >= 1, "LocalResponseNorm(size: \(size)): size must be ≥ 1")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
        super.init()
    }

    /// "LocalResponseNorm(5, alpha 0.0001, beta 0.75, k 1)".
    public var layerDescription: String { "LocalResponseNorm(\(size), alpha \(alpha), beta \(beta), k \(k))" }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        require(x.rank >= 3, "\(layerDescription): input must be [N, C, ...] with at least 3 dimensions, got shape \(x.shape)")
        return localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
    }
}
