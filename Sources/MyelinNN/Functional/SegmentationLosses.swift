import Foundation
import MyelinCore

// Segmentation losses and scores. Pixel-wise cross-entropy needs nothing new:
// `crossEntropy(logits [N, C, H, W], labels [N, H, W])` is PyTorch's F.cross_entropy on
// those shapes (class weights, ignoreIndex, label smoothing included).

/// Soft Dice loss for segmentation, 1 − mean over classes of
///
///     (2·Σ p·t + smooth) / (Σ p + Σ t + smooth)
///
/// with the sums over the batch and every pixel (as segmentation_models_pytorch's DiceLoss).
///
/// - Multi-class (`logits` [N, C, d₁, …] with C > 1): p = softmax over axis 1; `target` holds
///   integer labels [N, d₁, …] (one-hot is made here), or float per-class targets of the
///   logits' shape. Pixels labelled `ignoreIndex` count for no class.
/// - Binary (`logits` [N, 1, d₁, …]): p = sigmoid; `target` holds 0/1 (or soft) values,
///   [N, 1, d₁, …] or [N, d₁, …].
///
/// `smooth` keeps an absent class (no pixel predicted, none labelled) at loss 0 instead of 0/0.
/// Differentiable in the logits; float64 logits compute in float64.
public func diceLoss(_ logits: Tensor, _ target: Tensor, smooth: Double = 1, ignoreIndex: Int? = nil) -> Tensor {
    require(logits.rank >= 2 && logits.dtype.isFloatingPoint,
            "diceLoss: logits must be a float tensor [N, C, d₁, …], got \(logits.dtype) \(logits.shape)")
    require(smooth >= 0, "diceLoss: smooth must be non-negative, got \(smooth)")
    let n = logits.shape[0], c = logits.shape[1]
    let spatial = Array(logits.shape[2...])
    let pixels = spatial.reduce(1, *)
    let dt = logits.dtype
    var p: Tensor, t: Tensor
    if c == 1 {
        require(target.shape == logits.shape || target.shape == [n] + spatial,
                "diceLoss: a binary target must be [N, 1, d₁, …] = \(logits.shape) or [N, d₁, …] = \([n] + spatial), got \(target.shape)")
        p = logits.sigmoid().reshaped([n, 1, pixels])
        t = target.detached().to(dt).reshaped([n, 1, pixels])
    } else if target.dtype.isFloatingPoint {
        require(target.shape == logits.shape,
                "diceLoss: a float target must have the logits' shape \(logits.shape) (one value per class), got \(target.shape); "
                + "give class labels [N, d₁, …] as an integer tensor")
        p = logits.softmax(axis: 1).reshaped([n, c, pixels])
        t = target.detached().to(dt).reshaped([n, c, pixels])
    } else {
        require(target.shape == [n] + spatial,
                "diceLoss: labels must be [N, d₁, …] = \([n] + spatial) for logits \(logits.shape), got \(target.shape)"
                + (target.shape == [n, 1] + spatial ? " (squeeze axis 1)" : ""))
        let labels = target.integers()
        var onehot = [Double](repeating: 0, count: n * c * pixels), valid = [Double](repeating: 1, count: n * pixels)
        for (k, y) in labels.enumerated() {
            if let ignoreIndex, y == ignoreIndex { valid[k] = 0; continue }
            require(y >= 0 && y < c, "diceLoss: label \(y) at position \(k) is out of range for \(c) classes"
                    + (ignoreIndex.map { " (ignoreIndex \($0))" } ?? ""))
            onehot[(k / pixels * c + y) * pixels + k % pixels] = 1
        }
        p = logits.softmax(axis: 1).reshaped([n, c, pixels]) * Tensor(valid, shape: [n, 1, pixels], dtype: dt)
        t = Tensor(onehot, shape: [n, c, pixels], dtype: dt)
    }
    let inter = (p * t).sum(axes: [0, 2])
    let cardinality = p.sum(axes: [0, 2]) + t.sum(axes: [0, 2])
    return 1 - ((inter * 2 + smooth) / (cardinality + smooth)).mean()
}

/// `diceLoss` as a loss module (as segmentation_models_pytorch's `DiceLoss`): `loss(logits, target)`.
public final class DiceLoss: Module, LossFunction {
    public let smooth: Double
    public let ignoreIndex: Int?
    public init(smooth: Double = 1, ignoreIndex: Int? = nil) {
        require(smooth >= 0, "DiceLoss: smooth must be non-negative, got \(smooth)")
        self.smooth = smooth
        self.ignoreIndex = ignoreIndex
        super.init()
    }
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        diceLoss(prediction, target, smooth: smooth, ignoreIndex: ignoreIndex)
    }
}

/// Per-class overlap of a predicted segmentation with the truth, from hard labels.
public struct SegmentationScores: Sendable {
    /// Intersection over union (Jaccard) per class; NaN for a class neither predicted nor labelled.
    public var iou: [Double]
    /// Dice (F1) per class, 2·|P ∩ T| / (|P| + |T|); NaN where IoU is.
    public var dice: [Double]
    /// Means over the classes that are not NaN (as mIoU is usually reported).
    public var meanIoU: Double
    public var meanDice: Double
    /// The fraction of counted pixels labelled correctly.
    public var pixelAccuracy: Double
}

/// IoU, Dice and pixel accuracy of `prediction` against integer labels `target` [N, d₁, …].
/// `prediction` is labels of the target's shape, or scores [N, C, d₁, …] (logits or
/// probabilities: their argmax over axis 1 is taken). Pixels labelled `ignoreIndex` are skipped.
public func segmentationScores(_ prediction: Tensor, _ target: Tensor, classes: Int, ignoreIndex: Int = -100) -> SegmentationScores {
    require(classes >= 1, "segmentationScores: classes must be positive, got \(classes)")
    require(!target.dtype.isFloatingPoint, "segmentationScores: target must hold integer labels, got \(target.dtype)")
    let predicted: [Int]
    if prediction.shape == target.shape && !prediction.dtype.isFloatingPoint {
        predicted = prediction.integers()
    } else {
        require(prediction.rank == target.rank + 1 && prediction.shape[0] == target.shape.first
                && Array(prediction.shape[2...]) == Array(target.shape.dropFirst()) && prediction.shape[1] == classes,
                "segmentationScores: prediction must be labels of the target's shape \(target.shape) or scores "
                + "[N, \(classes), d₁, …] for it, got \(prediction.dtype) \(prediction.shape)")
        predicted = prediction.argmax(axis: 1).integers()
    }
    let truth = target.integers()
    var inter = [Int](repeating: 0, count: classes), predCount = inter, truthCount = inter
    var correct = 0, counted = 0
    for (k, y) in truth.enumerated() where y != ignoreIndex {
        require(y >= 0 && y < classes, "segmentationScores: label \(y) at position \(k) is out of range for \(classes) classes")
        let q = predicted[k]
        require(q >= 0 && q < classes, "segmentationScores: predicted label \(q) at position \(k) is out of range for \(classes) classes")
        counted += 1
        truthCount[y] += 1
        predCount[q] += 1
        if q == y { inter[y] += 1; correct += 1 }
    }
    let iou = (0..<classes).map { k -> Double in
        let union = predCount[k] + truthCount[k] - inter[k]
        return union > 0 ? Double(inter[k]) / Double(union) : .nan
    }
    let dice = (0..<classes).map { k -> Double in
        let total = predCount[k] + truthCount[k]
        return total > 0 ? 2 * Double(inter[k]) / Double(total) : .nan
    }
    func nanMean(_ v: [Double]) -> Double {
        let present = v.filter { !$0.isNaN }
        return present.isEmpty ? .nan : present.reduce(0, +) / Double(present.count)
    }
    return SegmentationScores(iou: iou, dice: dice, meanIoU: nanMean(iou), meanDice: nanMean(dice),
                              pixelAccuracy: counted > 0 ? Double(correct) / Double(counted) : .nan)
}
