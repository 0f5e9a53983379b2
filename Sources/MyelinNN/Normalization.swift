import MyelinCore

/// What BatchNorm1D and BatchNorm2D share, as PyTorch's `_BatchNorm`: per-channel
/// normalisation with learnable scale and shift (`weight` 1, `bias` 0 at first) and
/// running statistics ("running_mean", "running_var", and "num_batches_tracked", an
/// int64 scalar) used in evaluation mode.
public class BatchNorm: Module, UnaryLayer {
    public let numFeatures: Int
    public let eps: Double
    /// The weight of the batch in the running statistics; nil gives a cumulative
    /// average over all batches seen (1/num_batches_tracked), as PyTorch's momentum=None.
    public let momentum: Double?
    public let affine: Bool
    public let trackRunningStats: Bool
    public let weight: Parameter?
    public let bias: Parameter?
    public let runningMean: Buffer?
    public let runningVar: Buffer?
    public let numBatchesTracked: Buffer?

    public init(_ numFeatures: Int, eps: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true, trackRunningStats: Bool = true) {
        require(numFeatures > 0, "\(Self.layerName)(\(numFeatures)): the number of features must be positive")
        require(eps >= 0, "\(Self.layerName)(\(numFeatures)): eps must be non-negative, got \(eps)")
        if let momentum { require(momentum >= 0 && momentum <= 1, "\(Self.layerName)(\(numFeatures)): momentum must be in [0, 1], got \(momentum)") }
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.trackRunningStats = trackRunningStats
        weight = affine ? Parameter(wrappedValue: Tensor.ones([numFeatures])) : nil
        bias = affine ? Parameter(wrappedValue: Tensor.zeros([numFeatures])) : nil
        runningMean = trackRunningStats ? Buffer(wrappedValue: Tensor.zeros([numFeatures])) : nil
        runningVar = trackRunningStats ? Buffer(wrappedValue: Tensor.ones([numFeatures])) : nil
        numBatchesTracked = trackRunningStats ? Buffer(wrappedValue: Tensor([Int64(0)], shape: [], dtype: .int64)) : nil
        super.init()
    }

    class var layerName: String { "BatchNorm" }

    /// Stops when the input's rank is wrong for this layer.
    func checkRank(_ input: Tensor) {}

    /// Zeroes the running statistics (mean 0, variance 1, no batches seen).
    public func resetRunningStats() {
        runningMean?.value = Tensor.zeros([numFeatures])
        runningVar?.value = Tensor.ones([numFeatures])
        numBatchesTracked?.value = Tensor([Int64(0)], shape: [], dtype: .int64)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        checkRank(input)
        let name = "\(Self.layerName)(\(numFeatures))"
        require(input.shape[1] == numFeatures,
                "\(name): input of shape \(input.shape) has \(input.shape[1]) channels, expected \(numFeatures)")
        if !training, let runningMean, let runningVar {
            return BatchNormSupport.forward(input, weight: weight?.value, bias: bias?.value, eps: eps,
                                            running: (runningMean.value, runningVar.value), op: name).0
        }
        let (out, mean, unbiasedVar) = BatchNormSupport.forward(input, weight: weight?.value, bias: bias?.value, eps: eps,
                                                                running: nil, op: name)
        if training, let runningMean, let runningVar, let numBatchesTracked {
            var seen: Int64 = 0
            numBatchesTracked.value.withUnsafeMutablePointer(as: Int64.self) { $0[0] += 1; seen = $0[0] }
            let factor = momentum ?? 1 / Double(seen)
            BatchNormSupport.update(&runningMean.value, with: mean, factor: factor)
            BatchNormSupport.update(&runningVar.value, with: unbiasedVar, factor: factor)
        }
        return out
    }
}

/// Batch normalisation of [N, C] or [N, C, L] inputs over N (and L), as `nn.BatchNorm1d`.
public final class BatchNorm1D: BatchNorm {
    override class var layerName: String { "BatchNorm1D" }
    override func checkRank(_ input: Tensor) {
        require(input.rank == 2 || input.rank == 3,
                "BatchNorm1D(\(numFeatures)): expected input [N, \(numFeatures)] or [N, \(numFeatures), L], got \(input.shape)")
    }
}

/// Batch normalisation of [N, C, H, W] inputs over N, H and W, as `nn.BatchNorm2d`.
public final class BatchNorm2D: BatchNorm {
    override class var layerName: String { "BatchNorm2D" }
    override func checkRank(_ input: Tensor) {
        require(input.rank == 4, "BatchNorm2D(\(numFeatures)): expected input [N, \(numFeatures), H, W], got \(input.shape)")
    }
}

/// Layer normalisation over the trailing `normalizedShape` axes, as `nn.LayerNorm`:
/// each sample is normalised by its own statistics, in training and evaluation alike,
/// then scaled and shifted element-wise (`weight` 1, `bias` 0 at first).
public final class LayerNorm: Module, UnaryLayer {
    public let normalizedShape: [Int]
    public let eps: Double
    public let elementwiseAffine: Bool
    public let weight: Parameter?
    public let bias: Parameter?

    public init(_ normalizedShape: [Int], eps: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        require(!normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 > 0 },
                "LayerNorm: the normalized shape must be non-empty with positive extents, got \(normalizedShape)")
        self.normalizedShape = normalizedShape
        self.eps = eps
        self.elementwiseAffine = elementwiseAffine
        weight = elementwiseAffine ? Parameter(wrappedValue: Tensor.ones(normalizedShape)) : nil
        self.bias = elementwiseAffine && bias ? Parameter(wrappedValue: Tensor.zeros(normalizedShape)) : nil
        super.init()
    }

    /// Normalises over the last axis of extent `size`.
    public convenience init(_ size: Int, eps: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        self.init([size], eps: eps, elementwiseAffine: elementwiseAffine, bias: bias)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        require(input.rank >= normalizedShape.count && Array(input.shape.suffix(normalizedShape.count)) == normalizedShape,
                "LayerNorm(\(normalizedShape)): input of shape \(input.shape) does not end in \(normalizedShape)")
        return layerNorm(input, normalizedShape: normalizedShape, weight: weight?.value, bias: bias?.value, eps: eps)
    }
}
