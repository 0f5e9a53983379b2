import Foundation
import MyelinCore

/// A quality measure accumulated over batches, as Keras' stateful metrics:
/// `reset()` at the start of an epoch, `update(output:target:)` per batch,
/// `results()` at any time for the values so far.
///
/// Classification metrics read logits (or probabilities) `[N, C]` (any leading axes,
/// classes last) with integer labels `[N]` (or one-hot / probability targets `[N, C]`);
/// a single output per sample (`[N]` or `[N, 1]`) is a binary decision against
/// `threshold` (on probabilities, or on `sigmoid(logit)` with `fromLogits`).
public protocol Metric: AnyObject {
    /// The key under which the metric appears in the logs ("accuracy"; "val_accuracy" on validation data).
    var name: String { get }
    /// Forgets everything accumulated.
    func reset()
    /// Adds one batch: the model's output and the targets.
    func update(output: Tensor, target: Tensor)
    /// The values for the logs, by key (most metrics give one; the confusion matrix none).
    func results() -> [String: Double]
}

/// How a single output per sample becomes a class (binary classification).
public struct BinaryDecision: Sendable, Equatable {
    /// Class 1 when the probability exceeds this.
    public var threshold: Double
    /// The outputs are logits: the probability is `sigmoid(output)`.
    public var fromLogits: Bool
    public init(threshold: Double = 0.5, fromLogits: Bool = false) {
        self.threshold = threshold
        self.fromLogits = fromLogits
    }
}

/// One batch turned into predicted and true classes, shared by the classification metrics.
struct ClassificationBatch {
    var predicted: [Int]
    var truth: [Int]
    /// Rows of scores (`classes` per sample), for top-k; nil in the binary case.
    var scores: [Double]?
    var classes: Int

    init(output: Tensor, target: Tensor, binary: BinaryDecision, metric: String) {
        let out = output.detached()
        let isBinary = out.rank <= 1 || out.shape.last == 1
        if isBinary {
            let n = out.count
            require(target.count == n,
                    "\(metric): a binary output \(out.shape) needs one target per sample, but the target has shape \(target.shape)")
            let values = out.scalars(as: Double.self)
            predicted = values.map { v in
                let p = binary.fromLogits ? 1 / (1 + Foundation.exp(-v)) : v
                return p > binary.threshold ? 1 : 0
            }
            truth = target.dtype.isFloatingPoint ? target.scalars(as: Double.self).map { $0 >= 0.5 ? 1 : 0 } : target.integers()
            scores = nil
            classes = 2
            return
        }
        let c = out.shape[out.rank - 1]
        let rows = out.count / c
        let values = out.scalars(as: Double.self)
        predicted = Self.argmaxRows(values, rows: rows, columns: c)
        if target.shape == out.shape && target.dtype.isFloatingPoint {
            truth = Self.argmaxRows(target.scalars(as: Double.self), rows: rows, columns: c)
        } else {
            require(target.count == rows && Array(out.shape.dropLast()).reduce(1, *) == target.count,
                    "\(metric): output \(out.shape) has \(rows) rows of \(c) classes, but the target \(target.shape) has \(target.count) labels; labels must have shape \(Array(out.shape.dropLast())) (or one-hot \(out.shape))")
            truth = target.integers()
        }
        scores = values
        classes = c
    }

    static func argmaxRows(_ v: [Double], rows: Int, columns c: Int) -> [Int] {
        (0..<rows).map { r in
            var best = 0
            var bestValue = v[r * c]
            for j in 1..<Swift.max(c, 1) where v[r * c + j] > bestValue { best = j; bestValue = v[r * c + j] }
            return best
        }
    }
}

// MARK: - Accuracy

/// The fraction of samples whose predicted class (argmax, or threshold for one output) is the label.
public final class Accuracy: Metric {
    public let name: String
    public let binary: BinaryDecision
    public private(set) var correct = 0
    public private(set) var total = 0

    public init(name: String = "accuracy", threshold: Double = 0.5, fromLogits: Bool = false) {
        self.name = name
        self.binary = BinaryDecision(threshold: threshold, fromLogits: fromLogits)
    }

    public func reset() { correct = 0; total = 0 }

    public func update(output: Tensor, target: Tensor) {
        let b = ClassificationBatch(output: output, target: target, binary: binary, metric: "Accuracy")
        for (p, t) in zip(b.predicted, b.truth) where t >= 0 {
            total += 1
            if p == t { correct += 1 }
        }
    }

    /// Accuracy so far (0 before any sample).
    public func result() -> Double { total == 0 ? 0 : Double(correct) / Double(total) }
    public func results() -> [String: Double] { [name: result()] }
}

/// The fraction of samples whose label is among the `k` highest scores (ties
/// count in the label's favour: a hit when fewer than `k` scores are strictly higher).
public final class TopKAccuracy: Metric {
    public let name: String
    public let k: Int
    public private(set) var correct = 0
    public private(set) var total = 0

    public init(k: Int = 5, name: String? = nil) {
        require(k >= 1, "TopKAccuracy: k must be at least 1, got \(k)")
        self.k = k
        self.name = name ?? "top\(k)_accuracy"
    }

    public func reset() { correct = 0; total = 0 }

    public func update(output: Tensor, target: Tensor) {
        let b = ClassificationBatch(output: output, target: target, binary: BinaryDecision(), metric: "TopKAccuracy")
        guard let scores = b.scores else {
            // One output per sample: two classes, so top-k for k ≥ 2 is always a hit.
            for (p, t) in zip(b.predicted, b.truth) { total += 1; if k >= 2 || p == t { correct += 1 } }
            return
        }
        let c = b.classes
        for (r, t) in b.truth.enumerated() where t >= 0 {
            require(t < c, "TopKAccuracy: label \(t) is out of range for \(c) classes")
            let s = scores[r * c + t]
            var higher = 0
            for j in 0..<c where scores[r * c + j] > s { higher += 1 }
            total += 1
            if higher < k { correct += 1 }
        }
    }

    public func result() -> Double { total == 0 ? 0 : Double(correct) / Double(total) }
    public func results() -> [String: Double] { [name: result()] }
}

// MARK: - Confusion matrix and the scores built on it

/// Counts of (true class, predicted class) pairs; rows are true classes, columns predictions.
/// The matrix grows when a larger class index appears, unless `classes` fixes its size.
public final class ConfusionMatrix: Metric, CustomStringConvertible {
    public let name: String
    public let binary: BinaryDecision
    /// Class names for the rendering (else the class indices).
    public var classNames: [String]?
    /// `counts[t][p]`: samples of class t predicted as p.
    public private(set) var counts: [[Int]]
    let fixedClasses: Int?

    public init(classes: Int? = nil, classNames: [String]? = nil, name: String = "confusion_matrix",
                threshold: Double = 0.5, fromLogits: Bool = false) {
        let n = classes ?? classNames?.count
        self.fixedClasses = n
        self.classNames = classNames
        self.name = name
        self.binary = BinaryDecision(threshold: threshold, fromLogits: fromLogits)
        counts = Array(repeating: Array(repeating: 0, count: n ?? 0), count: n ?? 0)
    }

    public var classCount: Int { counts.count }

    public func reset() {
        let n = fixedClasses ?? 0
        counts = Array(repeating: Array(repeating: 0, count: n), count: n)
    }

    public func update(output: Tensor, target: Tensor) {
        let b = ClassificationBatch(output: output, target: target, binary: binary, metric: name)
        add(predicted: b.predicted, truth: b.truth, classes: b.classes)
    }

    /// Adds pairs directly (negative labels, PyTorch's ignore index, are skipped).
    public func add(predicted: [Int], truth: [Int], classes: Int = 0) {
        require(predicted.count == truth.count, "ConfusionMatrix: \(predicted.count) predictions but \(truth.count) labels")
        var needed = Swift.max(classes, counts.count)
        for (p, t) in zip(predicted, truth) where t >= 0 { needed = Swift.max(needed, p + 1, t + 1) }
        if let fixed = fixedClasses {
            require(needed <= fixed, "ConfusionMatrix: a class index reaches \(needed - 1), beyond the \(fixed) classes it was made for")
        } else if needed > counts.count {
            for i in counts.indices { counts[i] += Array(repeating: 0, count: needed - counts.count) }
            counts += Array(repeating: Array(repeating: 0, count: needed), count: needed - counts.count)
        }
        for (p, t) in zip(predicted, truth) where t >= 0 { counts[t][p] += 1 }
    }

    /// Nothing in the logs: read `counts` or the rendering.
    public func results() -> [String: Double] { [:] }

    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    public var truePositives: [Int] { counts.indices.map { counts[$0][$0] } }
    /// Samples of each class (row sums).
    public var support: [Int] { counts.map { $0.reduce(0, +) } }
    /// Predictions of each class (column sums).
    public var predictedCounts: [Int] { counts.indices.map { j in counts.reduce(0) { $0 + $1[j] } } }
    public var accuracy: Double { total == 0 ? 0 : Double(truePositives.reduce(0, +)) / Double(total) }

    /// Per-class precision tp / (tp + fp); 0 where nothing was predicted (scikit-learn's zero_division=0).
    public var precisionPerClass: [Double] { zip(truePositives, predictedCounts).map { $1 == 0 ? 0 : Double($0) / Double($1) } }
    /// Per-class recall tp / (tp + fn); 0 for a class with no samples.
    public var recallPerClass: [Double] { zip(truePositives, support).map { $1 == 0 ? 0 : Double($0) / Double($1) } }
    /// Per-class F1, the harmonic mean of precision and recall (0 when both are 0).
    public var f1PerClass: [Double] {
        zip(precisionPerClass, recallPerClass).map { p, r in p + r == 0 ? 0 : 2 * p * r / (p + r) }
    }

    /// The matrix as a table: true classes down, predicted across, with each class's recall.
    public var description: String { render() }

    public func render() -> String {
        let n = counts.count
        let names = (0..<n).map { i in classNames.flatMap { i < $0.count ? $0[i] : nil } ?? String(i) }
        let cell = Swift.max(5, (names.map(\.count) + counts.flatMap { $0 }.map { String($0).count }).max() ?? 1)
        let label = Swift.max(6, names.map(\.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: Swift.max(0, w - s.count)) + s }
        var lines = [String(repeating: " ", count: label) + "  predicted →"]
        lines.append(pad("true ↓", label) + " " + names.map { pad($0, cell) }.joined(separator: " ") + "   recall")
        let recall = recallPerClass
        for i in 0..<n {
            lines.append(pad(names[i], label) + " " + counts[i].map { pad(String($0), cell) }.joined(separator: " ")
                         + "   " + String(format: "%.3f", recall[i]))
        }
        lines.append(pad("prec.", label) + " " + precisionPerClass.map { pad(String(format: "%.3f", $0), cell) }.joined(separator: " ")
                     + "   acc " + String(format: "%.4f", accuracy) + " (\(total) samples)")
        return lines.joined(separator: "\n")
    }
}

/// How per-class scores combine into one number, as scikit-learn's `average`.
public enum Averaging: Sendable, Equatable {
    /// Unweighted mean over the classes seen (in the labels or the predictions).
    case macro
    /// Mean weighted by each class's number of samples.
    case weighted
    /// From the pooled counts (for single-label classification, equal to accuracy).
    case micro
    /// The score of one class only (binary problems: the positive class).
    case binary(positiveClass: Int = 1)
}

/// The shared machinery of precision, recall and F1: a confusion matrix and an averaging rule.
public class ConfusionScore: Metric {
    public let name: String
    public let average: Averaging
    /// The accumulated counts.
    public let matrix: ConfusionMatrix

    init(name: String, average: Averaging, classes: Int?, threshold: Double, fromLogits: Bool) {
        self.name = name
        self.average = average
        self.matrix = ConfusionMatrix(classes: classes, name: name, threshold: threshold, fromLogits: fromLogits)
    }

    public func reset() { matrix.reset() }
    public func update(output: Tensor, target: Tensor) { matrix.update(output: output, target: target) }

    /// The score of every class.
    public func perClass() -> [Double] { requirementFailure("ConfusionScore subclasses override perClass()") }
    /// The score from pooled counts (micro average).
    func pooled() -> Double { requirementFailure("ConfusionScore subclasses override pooled()") }

    /// The averaged score.
    public func result() -> Double {
        let scores = perClass()
        switch average {
        case .micro:
            return pooled()
        case .binary(let positive):
            return positive < scores.count ? scores[positive] : 0
        case .macro:
            let seen = zip(matrix.support, matrix.predictedCounts).enumerated().filter { $0.element.0 + $0.element.1 > 0 }.map(\.offset)
            return seen.isEmpty ? 0 : seen.map { scores[$0] }.reduce(0, +) / Double(seen.count)
        case .weighted:
            let support = matrix.support
            let n = support.reduce(0, +)
            return n == 0 ? 0 : zip(scores, support).map { $0 * Double($1) }.reduce(0, +) / Double(n)
        }
    }

    public func results() -> [String: Double] { [name: result()] }
}

/// Precision: of the samples predicted as a class, the fraction that belong to it.
public final class Precision: ConfusionScore {
    public init(average: Averaging = .macro, classes: Int? = nil, name: String = "precision",
                threshold: Double = 0.5, fromLogits: Bool = false) {
        super.init(name: name, average: average, classes: classes, threshold: threshold, fromLogits: fromLogits)
    }
    override public func perClass() -> [Double] { matrix.precisionPerClass }
    override func pooled() -> Double { matrix.accuracy }
}

/// Recall: of the samples of a class, the fraction predicted as it.
public final class Recall: ConfusionScore {
    public init(average: Averaging = .macro, classes: Int? = nil, name: String = "recall",
                threshold: Double = 0.5, fromLogits: Bool = false) {
        super.init(name: name, average: average, classes: classes, threshold: threshold, fromLogits: fromLogits)
    }
    override public func perClass() -> [Double] { matrix.recallPerClass }
    override func pooled() -> Double { matrix.accuracy }
}

/// F1: the harmonic mean of precision and recall, per class, then averaged.
public final class F1Score: ConfusionScore {
    public init(average: Averaging = .macro, classes: Int? = nil, name: String = "f1",
                threshold: Double = 0.5, fromLogits: Bool = false) {
        super.init(name: name, average: average, classes: classes, threshold: threshold, fromLogits: fromLogits)
    }
    override public func perClass() -> [Double] { matrix.f1PerClass }
    override func pooled() -> Double { matrix.accuracy }
}
