import Foundation
import Myelin

// A minimal classifier training loop for the command line and the demo, until
// MyelinTrain's `Trainer.fit` lands: epochs of shuffled mini-batches, validation after
// each epoch, keep-the-best, a Keras-style history. Commands talk to it only through
// `ClassifierTraining.fit(...)` and `EpochReport`, so switching to Trainer.fit is local.

/// The loss for a classifier's logits: one column → binary cross-entropy on the logit
/// (labels 0/1), more columns → softmax cross-entropy on integer labels.
func classifierLoss(_ logits: Tensor, _ labels: Tensor) -> Tensor {
    if logits.shape.count == 2 && logits.shape[1] == 1 {
        return binaryCrossEntropyWithLogits(logits, labels.to(.float32).reshaped([-1, 1]))
    }
    return crossEntropy(logits, labels)
}

/// Predicted classes from logits (a single column: logit > 0 is class 1).
func predictedClasses(_ logits: Tensor) -> [Int] {
    if logits.shape[1] == 1 { return logits.scalars(as: Float.self).map { $0 > 0 ? 1 : 0 } }
    return logits.argmax(axis: 1).integers()
}

struct Evaluation {
    var loss: Double
    var accuracy: Double
    var predictions: [Int]
    var targets: [Int]
    var count: Int { targets.count }

    /// rows: true class, columns: predicted class.
    func confusionMatrix(classes: Int) -> [[Int]] {
        var m = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (p, t) in zip(predictions, targets) where p >= 0 && p < classes && t >= 0 && t < classes { m[t][p] += 1 }
        return m
    }
}

/// Loss and accuracy of `model` over `dataset`, in evaluation mode, without gradients.
func evaluateClassifier(_ model: any UnaryLayer, on dataset: any Dataset, batchSize: Int = 500) -> Evaluation {
    let wasTraining = model.training
    model.eval()
    defer { model.train(wasTraining) }
    var lossSum = 0.0
    var preds: [Int] = [], targets: [Int] = []
    withoutGradients {
        for batch in DataLoader(dataset, batchSize: batchSize, shuffle: false, prefetch: 0) {
            let logits = model(batch.input)
            let n = batch.target.shape[0]
            lossSum += classifierLoss(logits, batch.target).itemDouble() * Double(n)
            preds += predictedClasses(logits)
            targets += batch.target.integers()
        }
    }
    let correct = zip(preds, targets).filter { $0 == $1 }.count
    let n = Swift.max(targets.count, 1)
    return Evaluation(loss: lossSum / Double(n), accuracy: Double(correct) / Double(n), predictions: preds, targets: targets)
}

/// What one epoch did.
struct EpochReport {
    var epoch: Int          // 1-based
    var epochs: Int
    var loss: Double
    var accuracy: Double
    var validation: Evaluation?
    var learningRate: Double
    var seconds: Double
    var improved: Bool
    var globalStep: Int
}

final class ClassifierTraining {
    let model: any UnaryLayer
    let optimizer: Optimizer
    let schedule: (any LearningRateSchedule)?
    /// "loss", "accuracy", "val_loss", "val_accuracy", "lr": one value per epoch.
    var history: [String: [Double]] = [:]
    var bestValidationAccuracy = -Double.infinity
    var bestState: [String: Tensor]?
    var globalStep = 0

    init(model: any UnaryLayer, optimizer: Optimizer, schedule: (any LearningRateSchedule)?) {
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule
    }

    /// Trains epochs `startEpoch + 1 ... epochs` (a resumed run starts after its checkpoint's
    /// epoch); `onEpoch` sees each epoch's report and may throw to stop.
    func fit(train: any Dataset, validation: (any Dataset)?, epochs: Int, startEpoch: Int = 0, batchSize: Int, seed: UInt64,
             onEpoch: (EpochReport) throws -> Void) throws {
        let loader = DataLoader(train, batchSize: batchSize, shuffle: true, seed: seed)
        loader.epoch = startEpoch
        guard startEpoch < epochs else { return }
        for epoch in (startEpoch + 1)...epochs {
            let start = Date()
            model.train()
            var lossSum = 0.0, correct = 0, seen = 0
            for batch in loader {
                let logits = model(batch.input)
                let loss = classifierLoss(logits, batch.target)
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
                globalStep += 1
                if let schedule, schedule.interval == .batch { schedule.step(metric: nil) }
                let n = batch.target.shape[0]
                lossSum += loss.itemDouble() * Double(n)
                correct += zip(predictedClasses(logits.detached()), batch.target.integers()).filter { $0 == $1 }.count
                seen += n
            }
            let trainLoss = lossSum / Double(Swift.max(seen, 1)), trainAcc = Double(correct) / Double(Swift.max(seen, 1))
            let lr = optimizer.learningRate
            let val = validation.map { evaluateClassifier(model, on: $0) }
            if let schedule, schedule.interval == .epoch { schedule.step(metric: val?.loss ?? trainLoss) }
            var improved = false
            let monitored = val?.accuracy ?? trainAcc
            if monitored > bestValidationAccuracy {
                bestValidationAccuracy = monitored
                bestState = model.stateDict()
                improved = true
            }
            history["loss", default: []].append(trainLoss)
            history["accuracy", default: []].append(trainAcc)
            if let val {
                history["val_loss", default: []].append(val.loss)
                history["val_accuracy", default: []].append(val.accuracy)
            }
            history["lr", default: []].append(lr)
            try onEpoch(EpochReport(epoch: epoch, epochs: epochs, loss: trainLoss, accuracy: trainAcc, validation: val,
                                    learningRate: lr, seconds: Date().timeIntervalSince(start), improved: improved,
                                    globalStep: globalStep))
        }
    }

    /// Loads the best weights seen (keep-the-best).
    func restoreBest() throws {
        if let bestState { try model.loadStateDict(bestState) }
    }

    /// The curves without the learning rate (for the picture).
    var curveHistory: [String: [Double]] { history.filter { $0.key != "lr" } }
}

extension EpochReport {
    /// "epoch  3/10  loss 0.1234  acc 96.12%  val_loss 0.0987  val_acc 97.01%  lr 0.001  4.2 s *"
    func line(validationName: String = "val") -> String {
        var s = String(format: "epoch %3d/%d  loss %.4f  acc %6.2f%%", epoch, epochs, loss, 100 * accuracy)
        if let v = validation {
            s += "  \(validationName)_loss " + String(format: "%.4f", v.loss) + "  \(validationName)_acc " + String(format: "%6.2f%%", 100 * v.accuracy)
        }
        s += String(format: "  lr %.3g  %.1f s", learningRate, seconds)
        if improved && validation != nil { s += "  *best" }
        return s
    }
}

/// The default generator's state as checkpoint words: seed, offset, buffered count, buffered words.
enum RNGWords {
    static func encode(_ s: RandomGenerator.State) -> [UInt64] {
        [s.seed, s.offset, UInt64(s.buffered.count)] + s.buffered.map(UInt64.init)
    }
    static func decode(_ w: [UInt64]) -> RandomGenerator.State? {
        guard w.count >= 3, w.count == 3 + Int(w[2]), w[2] <= 4 else { return nil }
        return RandomGenerator.State(seed: w[0], offset: w[1], buffered: w[3...].map { UInt32(truncatingIfNeeded: $0) })
    }
}
