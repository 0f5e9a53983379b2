import Foundation
import Testing
import Myelin

@Suite struct MetricTests {
    // Six samples, three classes. Predictions (argmax): 0, 1, 1, 2, 2, 0; labels: 0, 1, 2, 2, 1, 0.
    static let logits = Tensor([Float]([
        3, 1, 0,
        0, 2, 1,
        0.5, 2, 1,
        0, 1, 4,
        1, 0, 2,
        2, 0, 1.5,
    ]), shape: [6, 3])
    static let labels = Tensor([Int64]([0, 1, 2, 2, 1, 0]), shape: [6])

    @Test func confusionMatrixByHand() {
        let cm = ConfusionMatrix()
        cm.update(output: Self.logits, target: Self.labels)
        // rows: true class, columns: predicted.
        #expect(cm.counts == [[2, 0, 0],
                              [0, 1, 1],
                              [0, 1, 1]])
        #expect(cm.support == [2, 2, 2])
        #expect(cm.predictedCounts == [2, 2, 2])
        #expect(cm.accuracy == 4.0 / 6.0)
        let text = cm.render()
        #expect(text.contains("true ↓") && text.contains("predicted"))
        #expect(text.split(separator: "\n").count == 6)
        cm.classNames = ["cat", "dog", "bird"]
        #expect(cm.description.contains("bird"))
    }

    @Test func accumulationOverBatchesEqualsOneBatch() {
        let whole = ConfusionMatrix(), parts = ConfusionMatrix()
        let acc = Accuracy()
        whole.update(output: Self.logits, target: Self.labels)
        parts.update(output: Self.logits[0..<2], target: Self.labels[0..<2])
        acc.update(output: Self.logits[0..<2], target: Self.labels[0..<2])
        parts.update(output: Self.logits[2..<6], target: Self.labels[2..<6])
        acc.update(output: Self.logits[2..<6], target: Self.labels[2..<6])
        #expect(whole.counts == parts.counts)
        #expect(acc.result() == 4.0 / 6.0)
        acc.reset()
        #expect(acc.result() == 0 && acc.total == 0)
    }

    @Test func precisionRecallF1ByHand() {
        // A less symmetric case: predictions 0, 0, 1, 2, 2, 2; labels 0, 1, 1, 2, 2, 0.
        let logits = Tensor([Float]([
            5, 0, 0,
            5, 0, 0,
            0, 5, 0,
            0, 0, 5,
            0, 0, 5,
            0, 0, 5,
        ]), shape: [6, 3])
        let labels = Tensor([Int64]([0, 1, 1, 2, 2, 0]), shape: [6])
        // Counts: class 0: tp 1, fp 1, fn 1; class 1: tp 1, fp 0, fn 1; class 2: tp 2, fp 1, fn 0.
        let p = Precision(), r = Recall(), f = F1Score()
        let pw = Precision(average: .weighted), pm = Precision(average: .micro), pb = Recall(average: .binary(positiveClass: 2))
        for m in [p, r, f, pw, pm, pb] as [ConfusionScore] { m.update(output: logits, target: labels) }
        let precisions = [0.5, 1.0, 2.0 / 3.0], recalls = [0.5, 0.5, 1.0]
        let f1s = zip(precisions, recalls).map { 2 * $0 * $1 / ($0 + $1) }
        #expect(zip(p.perClass(), precisions).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(zip(r.perClass(), recalls).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(zip(f.perClass(), f1s).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(abs(p.result() - precisions.reduce(0, +) / 3) < 1e-12)
        #expect(abs(r.result() - recalls.reduce(0, +) / 3) < 1e-12)
        #expect(abs(f.result() - f1s.reduce(0, +) / 3) < 1e-12)
        // supports 2, 2, 2: weighted equals macro here.
        #expect(abs(pw.result() - p.result()) < 1e-12)
        #expect(abs(pm.result() - 4.0 / 6.0) < 1e-12)
        #expect(pb.result() == 1.0)
        #expect(p.results() == ["precision": p.result()])
    }

    @Test func topKAccuracy() {
        // Label ranks: sample 0 label 0 (rank 1), sample 1 label 2 (rank 2), sample 2 label 0 (rank 3).
        let logits = Tensor([Float]([
            3, 2, 1,
            3, 1, 2,
            1, 3, 2,
        ]), shape: [3, 3])
        let labels = Tensor([Int64]([0, 2, 0]), shape: [3])
        let top1 = TopKAccuracy(k: 1), top2 = TopKAccuracy(k: 2), top3 = TopKAccuracy(k: 3)
        for m in [top1, top2, top3] { m.update(output: logits, target: labels) }
        #expect(top1.result() == 1.0 / 3.0)
        #expect(top2.result() == 2.0 / 3.0)
        #expect(top3.result() == 1.0)
        #expect(top2.name == "top2_accuracy")
    }

    @Test func binaryOnProbabilitiesAndLogits() {
        let probs = Tensor([Float]([0.9, 0.2, 0.6, 0.4]), shape: [4, 1])
        let target = Tensor([Float]([1, 0, 0, 1]), shape: [4, 1])
        let acc = Accuracy()
        acc.update(output: probs, target: target)
        #expect(acc.result() == 0.5)
        let strict = Accuracy(threshold: 0.7)
        strict.update(output: probs, target: target)  // predictions 1, 0, 0, 0
        #expect(strict.result() == 0.75)
        let logits = Tensor([Float]([2, -1, 0.3, -0.2]), shape: [4])
        let fromLogits = Accuracy(fromLogits: true)  // sigmoid > 0.5: 1, 0, 1, 0
        fromLogits.update(output: logits, target: Tensor([Int64]([1, 0, 0, 1]), shape: [4]))
        #expect(fromLogits.result() == 0.5)
        let cm = ConfusionMatrix(fromLogits: true)
        cm.update(output: logits, target: Tensor([Int64]([1, 0, 0, 1]), shape: [4]))
        #expect(cm.counts == [[1, 1], [1, 1]])
        let rec = Recall(average: .binary(), fromLogits: true)
        rec.update(output: logits, target: Tensor([Int64]([1, 0, 1, 1]), shape: [4]))
        #expect(abs(rec.result() - 2.0 / 3.0) < 1e-12)
    }

    @Test func oneHotTargets() {
        let acc = Accuracy()
        let oneHot = Tensor([Float]([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0]), shape: [6, 3])
        acc.update(output: Self.logits, target: oneHot)
        #expect(acc.result() == 4.0 / 6.0)
    }
}
