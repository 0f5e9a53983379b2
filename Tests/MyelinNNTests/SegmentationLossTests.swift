import Foundation
import Myelin
import Testing

/// Pixel-wise cross-entropy (F.cross_entropy on [N, C, H, W]), Dice loss and segmentation scores.
@Suite struct SegmentationLossTests {
    @Test func pixelwiseCrossEntropyMatchesPyTorch() {
        let logits = DetectionFixtures.tensor("ce.logits"), labels = DetectionFixtures.tensor("ce.labels")
        let weight = DetectionFixtures.tensor("ce.weight")
        #expect(logits.shape == [2, 4, 3, 5] && labels.shape == [2, 3, 5])
        for (name, w, smoothing) in [("plain", nil as Tensor?, 0.0), ("weighted", weight, 0.0), ("smooth", weight, 0.1)] {
            for (red, label) in [(LossReduction.mean, "mean"), (.sum, "sum"), (.none, "none")] {
                let x = logits.requiringGrad()
                let v = crossEntropy(x, labels, weight: w, ignoreIndex: 255, labelSmoothing: smoothing, reduction: red)
                if red == .none {
                    (v * (Tensor.arange(Double(v.count), dtype: .float64).reshaped(v.shape) / 10)).sum().backward()
                } else {
                    v.backward()
                }
                expectClose(v, DetectionFixtures.tensor("ce.\(name).\(label).value"), rtol: 1e-10, atol: 1e-12, "cross-entropy \(name) \(label)")
                expectClose(x.grad, DetectionFixtures.tensor("ce.\(name).\(label).grad"), rtol: 1e-10, atol: 1e-12,
                            "cross-entropy \(name) \(label) gradient")
            }
        }
        expectGradients([logits], "pixel-wise crossEntropy") {
            crossEntropy($0[0], labels, weight: weight, ignoreIndex: 255, labelSmoothing: 0.1)
        }
    }

    @Test func diceLossMatchesTheReference() {
        for k in 0..<3 {
            let x = DetectionFixtures.tensor("dice\(k).logits").requiringGrad()
            let t = DetectionFixtures.tensor("dice\(k).target")
            let smooth = k == 2 ? 0.0 : 1.0
            let v = diceLoss(x, t, smooth: smooth, ignoreIndex: k == 2 ? 255 : nil)
            v.backward()
            expectClose(v, DetectionFixtures.tensor("dice\(k).value"), rtol: 1e-10, atol: 1e-12, "Dice case \(k)")
            expectClose(x.grad, DetectionFixtures.tensor("dice\(k).grad"), rtol: 1e-9, atol: 1e-12, "Dice gradient case \(k)")
            let module = DiceLoss(smooth: smooth, ignoreIndex: k == 2 ? 255 : nil)
            expectClose(module(x.detached(), t), DetectionFixtures.tensor("dice\(k).value"), rtol: 1e-10, atol: 1e-12, "DiceLoss case \(k)")
        }
    }

    @Test func diceLossGradients() {
        let logits = randomDoubles([2, 3, 3, 4], seed: 1)
        let labels = Tensor((0..<24).map { ($0 * 7) % 3 }, shape: [2, 3, 4])
        expectGradients([logits], "diceLoss multi-class") { diceLoss($0[0], labels) }
        let withIgnored = Tensor((0..<24).map { $0 % 5 == 0 ? -1 : ($0 * 7) % 3 }, shape: [2, 3, 4])
        expectGradients([logits], "diceLoss ignoreIndex") { diceLoss($0[0], withIgnored, ignoreIndex: -1) }
        let soft = randomDoubles([2, 3, 3, 4], seed: 2).softmax(axis: 1)
        expectGradients([logits], "diceLoss soft targets") { diceLoss($0[0], soft, smooth: 0.5) }
        let binary = randomDoubles([2, 1, 4, 4], seed: 3)
        let mask = (randomDoubles([2, 4, 4], seed: 4) .> 0).to(.float64)
        expectGradients([binary], "diceLoss binary") { diceLoss($0[0], mask) }
        // A perfect, confident prediction has (almost) no loss; the opposite one almost 1.
        let onehot = labels.oneHot(classes: 3).permuted([0, 3, 1, 2]).to(.float64)
        #expect(diceLoss(onehot * 50, labels, smooth: 0).itemDouble() < 1e-12)
        #expect(diceLoss(onehot * -50, labels, smooth: 0).itemDouble() > 0.99)
    }

    @Test func segmentationScoresByHand() {
        // Target / prediction over 6 pixels, 3 classes (class 2 never appears).
        let target = Tensor([0, 0, 1, 1, 1, 255], shape: [1, 2, 3])
        let predicted = Tensor([0, 1, 1, 1, 0, 2], shape: [1, 2, 3])
        let s = segmentationScores(predicted, target, classes: 3, ignoreIndex: 255)
        // Class 0: ∩ 1, pred 2, truth 2 → IoU 1/3, Dice 1/2; class 1: ∩ 2, pred 3, truth 3 → IoU 1/2, Dice 2/3.
        #expect(abs(s.iou[0] - 1.0 / 3) < 1e-12 && abs(s.iou[1] - 0.5) < 1e-12 && s.iou[2].isNaN)
        #expect(abs(s.dice[0] - 0.5) < 1e-12 && abs(s.dice[1] - 2.0 / 3) < 1e-12 && s.dice[2].isNaN)
        #expect(abs(s.meanIoU - (1.0 / 3 + 0.5) / 2) < 1e-12)
        #expect(abs(s.pixelAccuracy - 3.0 / 5) < 1e-12)
        // Scores [N, C, H, W] give the same through their argmax.
        let scores = predicted.oneHot(classes: 3).permuted([0, 3, 1, 2])
        #expect(segmentationScores(scores, target, classes: 3, ignoreIndex: 255).iou[1] == 0.5)
    }

    @Test func misuseStops() async {
        let channel = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = diceLoss(Tensor.zeros([2, 3, 4, 4]), Tensor.zeros([2, 1, 4, 4], dtype: .int64))
        }
        #expect(stopMessage(channel).contains("squeeze axis 1"))
        let label = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = diceLoss(Tensor.zeros([1, 3, 2, 2]), Tensor([0, 1, 2, 3], shape: [1, 2, 2]))
        }
        #expect(stopMessage(label).contains("label 3 at position 3"))
        let ce = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = crossEntropy(Tensor.zeros([2, 3, 4, 4]), Tensor.zeros([2, 1, 4, 4], dtype: .int64))
        }
        #expect(stopMessage(ce).contains("expected labels of shape [2, 4, 4]"))
    }
}
