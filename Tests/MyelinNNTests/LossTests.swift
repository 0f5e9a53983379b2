import Foundation
import Testing
import Myelin

@Suite struct LossTests {
    static func linear(_ c: Int) -> () -> any UnaryLayer { { Sequential { Linear(5, c) } } }

    // MARK: Parity with PyTorch (values, gradients, 3 SGD steps through a model)

    @Test func regressionLossesMatchPyTorch() throws {
        try checkLossCase("mse", model: Self.linear(3)) { mseLoss($0, $1, reduction: $2) }
        try checkLossCase("l1", model: Self.linear(3)) { l1Loss($0, $1, reduction: $2) }
        try checkLossCase("huber", model: Self.linear(3)) { huberLoss($0, $1, delta: 0.5, reduction: $2) }
        try checkLossCase("smooth_l1", model: Self.linear(3)) { smoothL1Loss($0, $1, beta: 0.5, reduction: $2) }
    }

    @Test func binaryLossesMatchPyTorch() throws {
        let sigmoidHead: () -> any UnaryLayer = { Sequential { Linear(5, 3); Sigmoid() } }
        try checkLossCase("bce", model: sigmoidHead) { binaryCrossEntropy($0, $1, reduction: $2) }
        try checkLossCase("bce_edges", floatTarget: false, rtol: 1e-5) { binaryCrossEntropy($0, $1, reduction: $2) }
        try checkLossCase("bce_logits", model: Self.linear(3)) { binaryCrossEntropyWithLogits($0, $1, reduction: $2) }
        try checkLossCase("bce_logits_extreme") { binaryCrossEntropyWithLogits($0, $1, reduction: $2) }
    }

    @Test func weightedBinaryLossesMatchPyTorch() throws {
        let weight = NNFixtures.tensor("bce_soft_weighted.kw.weight")
        try checkLossCase("bce_soft_weighted", model: { Sequential { Linear(5, 3); Sigmoid() } }) {
            binaryCrossEntropy($0, $1, weight: weight, reduction: $2)
        }
        let rowWeight = NNFixtures.tensor("bce_logits_pos_weight.kw.weight")
        let posWeight = NNFixtures.tensor("bce_logits_pos_weight.kw.pos_weight")
        #expect(rowWeight.shape == [4, 1] && posWeight.shape == [3])
        try checkLossCase("bce_logits_pos_weight", model: Self.linear(3)) {
            binaryCrossEntropyWithLogits($0, $1, weight: rowWeight, posWeight: posWeight, reduction: $2)
        }
    }

    static let classWeight = Tensor([0.5, 1.0, 2.0, 1.5, 0.8])

    @Test func crossEntropyMatchesPyTorch() throws {
        let w = Self.classWeight
        try checkLossCase("ce", floatTarget: false, model: Self.linear(5)) { crossEntropy($0, $1, reduction: $2) }
        try checkLossCase("ce_weight", floatTarget: false, model: Self.linear(5)) { crossEntropy($0, $1, weight: w, reduction: $2) }
        try checkLossCase("ce_ignore", floatTarget: false, model: Self.linear(5)) { crossEntropy($0, $1, reduction: $2) }
        try checkLossCase("ce_ignore_custom", floatTarget: false, model: Self.linear(5)) {
            crossEntropy($0, $1, ignoreIndex: 3, reduction: $2)
        }
        try checkLossCase("ce_smoothing", floatTarget: false, model: Self.linear(5)) {
            crossEntropy($0, $1, labelSmoothing: 0.1, reduction: $2)
        }
        try checkLossCase("ce_smoothing_weight_ignore", floatTarget: false, model: Self.linear(5)) {
            crossEntropy($0, $1, weight: w, labelSmoothing: 0.2, reduction: $2)
        }
        try checkLossCase("ce_int32", floatTarget: false, labels: { $0.to(.int32) }) { crossEntropy($0, $1, reduction: $2) }
        try checkLossCase("ce_spatial", floatTarget: false) {
            crossEntropy($0, $1, weight: Tensor([1.0, 2.0, 0.5, 1.5]), labelSmoothing: 0.1, reduction: $2)
        }
        try checkLossCase("ce_single", floatTarget: false) { crossEntropy($0, $1, reduction: $2) }
        try checkLossCase("ce_large_logits", floatTarget: false) { crossEntropy($0, $1, reduction: $2) }
    }

    @Test func nllMatchesPyTorch() throws {
        let head: () -> any UnaryLayer = { Sequential { Linear(5, 5); LogSoftmax(axis: 1) } }
        try checkLossCase("nll", floatTarget: false, model: head) { nllLoss($0, $1, reduction: $2) }
        let w = Self.classWeight
        try checkLossCase("nll_weight_ignore", floatTarget: false, model: head) { nllLoss($0, $1, weight: w, reduction: $2) }
    }

    // MARK: Gradient checks (float64)

    @Test func pointwiseLossGradients() {
        let x = randomDoubles([3, 4], seed: 1), t = randomDoubles([3, 4], seed: 2)
        for red in [LossReduction.mean, .sum, .none] {
            expectGradients([x, t], "mse \(red)") { mseLoss($0[0], $0[1], reduction: red) }
            expectGradients([x, t], "l1 \(red)") { l1Loss($0[0], $0[1], reduction: red) }
            expectGradients([x, t], "huber \(red)") { huberLoss($0[0], $0[1], delta: 0.7, reduction: red) }
            expectGradients([x, t], "smoothL1 \(red)") { smoothL1Loss($0[0], $0[1], beta: 0.7, reduction: red) }
            expectGradients([x, t], "bce with logits \(red)") { binaryCrossEntropyWithLogits($0[0], $0[1], reduction: red) }
            expectGradients([x, t], "bce with logits, pos weight \(red)") {
                binaryCrossEntropyWithLogits($0[0], $0[1], weight: Tensor([1.0, 2, 0.5, 1]), posWeight: Tensor([0.5, 1.5, 2, 3]), reduction: red)
            }
            let p = x.sigmoid() * 0.9 + 0.05, y = t.sigmoid()
            expectGradients([p, y], "bce \(red)") { binaryCrossEntropy($0[0], $0[1], weight: Tensor([1.0, 2, 0.5, 1]), reduction: red) }
        }
    }

    @Test func classificationLossGradients() {
        let logits = randomDoubles([5, 4], seed: 3, scale: 2)
        let labels = Tensor([0, 3, -100, 1, 3])
        let w = Tensor([0.5, 2, 1, 1.5])
        for red in [LossReduction.mean, .sum, .none] {
            expectGradients([logits, labels], "crossEntropy \(red)") { crossEntropy($0[0], $0[1], reduction: red) }
            expectGradients([logits, labels], "crossEntropy weighted, smoothed \(red)") {
                crossEntropy($0[0], $0[1], weight: w, labelSmoothing: 0.15, reduction: red)
            }
            expectGradients([logits, labels], "nllLoss \(red)") { nllLoss($0[0].logSoftmax(axis: 1), $0[1], weight: w, reduction: red) }
        }
        let spatial = randomDoubles([2, 4, 3], seed: 4)
        let spatialLabels = Tensor([0, 3, 1, 2, 2, -100], shape: [2, 3])
        expectGradients([spatial, spatialLabels], "crossEntropy over [N, C, L]") {
            crossEntropy($0[0], $0[1], weight: w, labelSmoothing: 0.1)
        }
    }

    // MARK: Semantics

    @Test func crossEntropyAgreesWithLogSoftmaxAndNLL() {
        let logits = Tensor.randn([8, 6], generator: RandomGenerator(seed: 5))
        let labels = Tensor.randint(0, 6, [8], generator: RandomGenerator(seed: 6))
        let fused = crossEntropy(logits, labels), twoStep = nllLoss(logits.logSoftmax(axis: 1), labels)
        expectClose(fused, twoStep, rtol: 1e-6, atol: 1e-6, "crossEntropy vs nllLoss(logSoftmax)")
        // Uniform logits give ln C.
        #expect(abs(crossEntropy(Tensor.zeros([3, 6]), Tensor([0, 1, 5])).itemDouble() - Foundation.log(6.0)) < 1e-6)
    }

    @Test func moduleWrappersCallTheFunctions() {
        let x = Tensor.randn([4, 3]), t = Tensor.randn([4, 3])
        #expect(MSELoss()(x, t).item() == mseLoss(x, t).item())
        #expect(L1Loss(reduction: .sum)(x, t).item() == l1Loss(x, t, reduction: .sum).item())
        #expect(HuberLoss(delta: 2)(x, t).item() == huberLoss(x, t, delta: 2).item())
        #expect(SmoothL1Loss(beta: 0.3)(x, t).item() == smoothL1Loss(x, t, beta: 0.3).item())
        #expect(BCEWithLogitsLoss(posWeight: Tensor([1.0, 2, 3]))(x, t.sigmoid()).item()
                == binaryCrossEntropyWithLogits(x, t.sigmoid(), posWeight: Tensor([1.0, 2, 3])).item())
        #expect(BCELoss()(x.sigmoid(), t.sigmoid()).item() == binaryCrossEntropy(x.sigmoid(), t.sigmoid()).item())
        let labels = Tensor([0, 2, 1, 2])
        #expect(CrossEntropyLoss(labelSmoothing: 0.1)(x, labels).item() == crossEntropy(x, labels, labelSmoothing: 0.1).item())
        #expect(NLLLoss(reduction: .none)(x, labels).shape == [4])
        let weighted = CrossEntropyLoss(weight: Tensor([1.0, 2, 3]))
        #expect(weighted.stateDict().keys.sorted() == ["weight"])
        let loss: any LossFunction = MSELoss()
        #expect(loss(x, x).item() == 0)
    }

    // MARK: Misuse

    @Test func batchSizeMismatchNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = crossEntropy(Tensor.zeros([64, 10]), Tensor.zeros([32], dtype: .int64))
        }
        #expect(stopMessage(result).contains("crossEntropy: logits [64, 10] and labels [32] disagree on the batch size"),
                "\(stopMessage(result))")
    }

    @Test func badLabelIsNamed() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = crossEntropy(Tensor.zeros([3, 10]), Tensor([1, 12, 3]))
        }
        #expect(stopMessage(result).contains("crossEntropy: label 12 at position 1 is out of range for 10 classes"),
                "\(stopMessage(result))")
    }

    @Test func floatLabelsAndShapeMismatchStop() async {
        var result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = nllLoss(Tensor.zeros([3, 4]), Tensor.zeros([3]))
        }
        #expect(stopMessage(result).contains("nllLoss: labels must be integer class indices (int32 or int64), not float32"),
                "\(stopMessage(result))")
        result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = mseLoss(Tensor.zeros([4, 1]), Tensor.zeros([4]))
        }
        #expect(stopMessage(result).contains("mseLoss: input [4, 1] and target [4] must have the same shape"), "\(stopMessage(result))")
        result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = binaryCrossEntropy(Tensor([0.5, 1.5]), Tensor([0.0, 1.0]))
        }
        #expect(stopMessage(result).contains("binaryCrossEntropy: the input must hold probabilities in [0, 1], but element 1 is 1.5"),
                "\(stopMessage(result))")
        result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = crossEntropy(Tensor.zeros([2, 3]), Tensor([0, 1]), weight: Tensor([1.0, 2.0]))
        }
        #expect(stopMessage(result).contains("crossEntropy: class weights of shape [2] must be [3], one per class"), "\(stopMessage(result))")
    }
}
