import MyelinCore

/// A loss as a module: `loss(prediction, target)` gives a scalar (or per-element
/// losses with `.none`), as PyTorch's loss modules.
public protocol LossFunction: Module {
    func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor
}

/// Mean squared error, as `nn.MSELoss`.
public final class MSELoss: Module, LossFunction {
    public let reduction: LossReduction
    public init(reduction: LossReduction = .mean) {
        self.reduction = reduction
        super.init()
    }
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        mseLoss(prediction, target, reduction: reduction)
    }
}

/// Mean absolute error, as `nn.L1Loss`.
public final class L1Loss: Module, LossFunction {
    public let reduction: LossReduction
    public init(reduction: LossReduction = .mean) {
        self.reduction = reduction
        super.init()
    }
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        l1Loss(prediction, target, reduction: reduction)
    }
}

/// Huber loss (quadratic within `delta`, linear beyond), as `nn.HuberLoss`.
public final class HuberLoss: Module, LossFunction {
    public let reduction: LossReduction
    public let delta: Double
    public init(delta: Double = 1, reduction: LossReduction = .mean) {
        require(delta > 0, "HuberLoss: delta must be positive, got \(delta)")
        self.delta = delta
        self.reduction = reduction
        super.init()
    }
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        huberLoss(prediction, target, delta: delta, reduction: reduction)
    }
}

/// Smooth L1 loss (Huber divided by `beta`), as `nn.SmoothL1Loss`.
public final class SmoothL1Loss: Module, LossFunction {
    public let reduction: LossReduction
    public let beta: Double
    public init(beta: Double = 1, reduction: LossReduction = .mean) {
        require(beta >= 0, "SmoothL1Loss: beta must be non-negative, got \(beta)")
        self.beta = beta
        self.reduction = reduction
        super.init()
    }
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        smoothL1Loss(prediction, target, beta: beta, reduction: reduction)
    }
}

/// Binary cross-entropy on probabilities, as `nn.BCELoss`; `weight` is saved as a buffer.
public final class BCELoss: Module, LossFunction {
    public let reduction: LossReduction
    let weight: Buffer?
    public init(weight: Tensor? = nil, reduction: LossReduction = .mean) {
        self.weight = weight.map { Buffer(wrappedValue: $0) }
        self.reduction = reduction
        super.init()
    }
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        binaryCrossEntropy(prediction, target, weight: weight?.value, reduction: reduction)
    }
}

/// Binary cross-entropy on logits (stable), as `nn.BCEWithLogitsLoss`; `weight` and
/// `posWeight` are saved as buffers ("weight", "pos_weight").
public final class BCEWithLogitsLoss: Module, LossFunction {
    public let reduction: LossReduction
    let weight: Buffer?
    let posWeight: Buffer?
    public init(weight: Tensor? = nil, posWeight: Tensor? = nil, reduction: LossReduction = .mean) {
        self.weight = weight.map { Buffer(wrappedValue: $0) }
        self.posWeight = posWeight.map { Buffer(wrappedValue: $0) }
        self.reduction = reduction
        super.init()
    }
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        binaryCrossEntropyWithLogits(prediction, target, weight: weight?.value, posWeight: posWeight?.value, reduction: reduction)
    }
}

/// Cross-entropy on logits with integer labels (fused log-softmax + NLL), as
/// `nn.CrossEntropyLoss`: class weights, ignoreIndex and label smoothing.
public final class CrossEntropyLoss: Module, LossFunction {
    public let reduction: LossReduction
    public let ignoreIndex: Int
    public let labelSmoothing: Double
    let weight: Buffer?
    public init(weight: Tensor? = nil, ignoreIndex: Int = -100, labelSmoothing: Double = 0, reduction: LossReduction = .mean) {
        require(labelSmoothing >= 0 && labelSmoothing <= 1, "CrossEntropyLoss: label smoothing must be in [0, 1], got \(labelSmoothing)")
        self.weight = weight.map { Buffer(wrappedValue: $0) }
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.reduction = reduction
        super.init()
    }
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        crossEntropy(prediction, target, weight: weight?.value, ignoreIndex: ignoreIndex,
                     labelSmoothing: labelSmoothing, reduction: reduction)
    }
}

/// Negative log-likelihood of integer labels under log-probabilities, as `nn.NLLLoss`.
public final class NLLLoss: Module, LossFunction {
    public let reduction: LossReduction
    public let ignoreIndex: Int
    let weight: Buffer?
    public init(weight: Tensor? = nil, ignoreIndex: Int = -100, reduction: LossReduction = .mean) {
        self.weight = weight.map { Buffer(wrappedValue: $0) }
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
        super.init()
    }
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        nllLoss(prediction, target, weight: weight?.value, ignoreIndex: ignoreIndex, reduction: reduction)
    }
}
