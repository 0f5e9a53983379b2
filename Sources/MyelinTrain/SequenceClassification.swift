import Foundation
import MyelinCore
import MyelinData
import MyelinModels
import MyelinNN
import MyelinOptim

/// How a `SequenceClassifier` is trained: Adam with gradient-norm clipping, mini-batches
/// shuffled and bucketed by length each epoch, early stopping on validation accuracy, and the
/// best epoch's weights kept.
public struct SequenceClassifierTrainingOptions: Codable, Sendable {
    public var epochs = 10
    public var batchSize = 64
    public var learningRate = 2e-3
    public var weightDecay = 0.0
    public var clipNorm = 1.0
    /// Stop after this many epochs without a better validation accuracy.
    public var patience = 3
    public var seed: UInt64 = 0
    public init() {}
}

/// One epoch of a sequence-classification run.
public struct SequenceClassifierEpoch: Sendable {
    public let epoch: Int
    /// Mean cross-entropy over the epoch's training examples (nats).
    public let trainLoss: Double
    public let trainAccuracy: Double
    public let validationAccuracy: Double
    /// Seconds of training steps in this epoch (evaluation excluded).
    public let seconds: Double
}

/// What `trainSequenceClassifier` returns: every epoch, and the best one (whose weights the model holds).
public struct SequenceClassifierHistory: Sendable {
    public let epochs: [SequenceClassifierEpoch]
    public let bestEpoch: Int
    public let bestValidationAccuracy: Double
    public var trainSeconds: Double { epochs.reduce(0) { $0 + $1.seconds } }
}

/// Accuracy and confusion matrix of `model` on `examples` (evaluation mode, no gradients).
public func evaluateSequenceClassifier(_ model: SequenceClassifier, _ examples: [SequenceExample], batchSize: Int = 128,
                                       classNames: [String]? = nil) -> ConfusionMatrix {
    let wasTraining = model.training
    model.eval()
    defer { model.train(wasTraining) }
    let matrix = ConfusionMatrix(classes: model.classes, classNames: classNames)
    withoutGradients {
        for b in PlayClassificationData.batches(examples, batchSize: batchSize) {
            let logits = model(b.tokens, lengths: b.lengths)
            matrix.add(predicted: logits.argmax(axis: 1).integers(), truth: b.labels.integers())
        }
    }
    return matrix
}

/// Trains `model` on `train`, validating on `validation` after every epoch; stops early after
/// `patience` epochs without improvement and restores the best epoch's weights.
@discardableResult
public func trainSequenceClassifier(
    _ model: SequenceClassifier, train: [SequenceExample], validation: [SequenceExample],
    options: SequenceClassifierTrainingOptions = SequenceClassifierTrainingOptions(),
    report: (SequenceClassifierEpoch) -> Void = { _ in }
) -> SequenceClassifierHistory {
    require(!train.isEmpty && !validation.isEmpty, "trainSequenceClassifier: the training and validation examples must not be empty")
    require(options.epochs >= 1 && options.batchSize >= 1 && options.patience >= 1,
            "trainSequenceClassifier: epochs, batchSize and patience must be positive")
    let optimizer = Adam(model.parameters(), learningRate: options.learningRate, weightDecay: options.weightDecay)
    let shuffle = RandomGenerator(seed: options.seed &+ 101)
    var history: [SequenceClassifierEpoch] = []
    var best = -1.0, bestEpoch = 0, bestWeights = model.stateDict()
    for epoch in 1...options.epochs {
        model.train()
        let t0 = Date()
        var lossSum = 0.0, correct = 0, seen = 0
        for b in PlayClassificationData.batches(train, batchSize: options.batchSize, shuffle: shuffle) {
            optimizer.zeroGrad()
            let logits = model(b.tokens, lengths: b.lengths)
            let loss = crossEntropy(logits, b.labels)
            loss.backward()
            clipGradNorm(model.parameters(), maxNorm: options.clipNorm)
            optimizer.step()
            let n = b.lengths.count
            lossSum += loss.itemDouble() * Double(n)
            seen += n
            correct += zip(logits.detached().argmax(axis: 1).integers(), b.labels.integers()).filter { $0 == $1 }.count
        }
        let seconds = Date().timeIntervalSince(t0)
        let val = evaluateSequenceClassifier(model, validation).accuracy
        let record = SequenceClassifierEpoch(epoch: epoch, trainLoss: lossSum / Double(seen), trainAccuracy: Double(correct) / Double(seen),
                                             validationAccuracy: val, seconds: seconds)
        history.append(record)
        report(record)
        if val > best {
            best = val; bestEpoch = epoch; bestWeights = model.stateDict()
        } else if epoch - bestEpoch >= options.patience {
            break
        }
    }
    _ = try? model.loadStateDict(bestWeights)
    model.eval()
    return SequenceClassifierHistory(epochs: history, bestEpoch: bestEpoch, bestValidationAccuracy: best)
}
