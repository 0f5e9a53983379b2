import MyelinCore

/// y = x·Wᵀ + b over the last axis, as PyTorch's `nn.Linear` (weight shape [out, in]).
///
/// Initialised as PyTorch does: W and b uniform in ±1/√in (kaiming_uniform with a = √5).
public final class Linear: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    public let bias: Parameter?
    public let inFeatures: Int, outFeatures: Int

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: RandomGenerator = .default) {
        require(inFeatures > 0 && outFeatures > 0, "Linear: feature counts must be positive, got \(inFeatures) → \(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        let bound = 1 / Double(inFeatures).squareRoot()
        _weight = Parameter(wrappedValue: Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, generator: generator))
        self.bias = bias ? Parameter(wrappedValue: Tensor.uniform([outFeatures], low: -bound, high: bound, generator: generator)) : nil
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        require(x.shape.last == inFeatures, "Linear(\(inFeatures) → \(outFeatures)): input shape \(x.shape) must end in \(inFeatures)")
        let y = matmul(x, weight, transposeB: true)
        guard let bias else { return y }
        return y + bias.value
    }
}
