import Foundation
import MyelinCore
import MyelinData
import MyelinIO
import MyelinNN
import MyelinOptim

// The lectures' checks before a long run: is the initial loss what chance predicts,
// can the model learn a handful of samples by heart, and which learning rate trains.
// Each leaves the model, the optimizer and the random streams as it found them.

/// The untrained model's loss against the loss of a uniform guess, ln(classes).
public struct InitialLossReport: Sendable, CustomStringConvertible {
    public enum Verdict: String, Sendable {
        /// Within the tolerance of ln(classes).
        case ok
        /// Far above: over-confident wrong logits (initial weights too large, unscaled inputs).
        case tooHigh
        /// Far below: the model already knows the labels (a leak from the inputs?) or the loss is not cross-entropy.
        case tooLow
    }
    public let loss: Double
    /// ln(classes): the cross-entropy of predicting every class with equal probability.
    public let expected: Double
    public let classes: Int
    public let verdict: Verdict

    public var description: String {
        let head = String(format: "initial loss %.4f, expected ln(%d) = %.4f for a uniform guess", loss, classes, expected)
        switch verdict {
        case .ok: return head + ": OK"
        case .tooHigh: return head + ": too high; the initial logits are too large (check the weight initialisation and input scaling)"
        case .tooLow: return head + ": suspiciously low; check for labels leaking into the inputs"
        }
    }
}

/// How well the model memorised a tiny subset.
public struct OverfitReport: Sendable, CustomStringConvertible {
    public let samples: Int
    public let steps: Int
    /// The training loss after each step.
    public let losses: [Double]
    public let finalLoss: Double
    /// Accuracy on the subset in evaluation mode after training (nil when the targets are not classes).
    public let accuracy: Double?
    /// The loss fell below a tenth of its start and (for classes) the accuracy reached 100%.
    public var passed: Bool {
        guard let first = losses.first, finalLoss.isFinite else { return false }
        return finalLoss < 0.1 * first && (accuracy ?? 1) >= 0.999
    }

    public var description: String {
        var s = String(format: "overfit %d samples in %d steps: loss %.4f → %.4f", samples, steps, losses.first ?? .nan, finalLoss)
        if let accuracy { s += String(format: ", accuracy %.1f%%", 100 * accuracy) }
        return s + (passed ? ": OK" : ": the model cannot memorise a tiny subset; look for a bug before training longer")
    }
}

/// A learning-rate sweep: the learning rates tried and the smoothed loss at each.
public struct LearningRateFinderResult: Sendable {
    public let learningRates: [Double]
    /// Exponentially smoothed (bias-corrected) losses.
    public let losses: [Double]
    public let rawLosses: [Double]
    /// The learning rate at the minimum smoothed loss.
    public let minimumLossLearningRate: Double
    /// Where the smoothed loss falls fastest (per log10 of the learning rate).
    public let steepestLearningRate: Double
    /// A tenth of the minimum-loss learning rate: a safe choice (fast.ai's rule of thumb).
    public var suggestedLearningRate: Double { minimumLossLearningRate / 10 }
    /// The sweep stopped early because the loss diverged.
    public let diverged: Bool

    /// Loss against log10(learning rate), with a vertical line at the suggestion.
    public func chart(title: String = "Learning-rate finder") -> LineChart {
        let x = learningRates.map { Foundation.log10($0) }
        var series = [Series("smoothed loss", x: x, y: losses)]
        let finite = losses.filter(\.isFinite)
        if let lo = finite.min(), let hi = finite.max() {
            let s = Foundation.log10(suggestedLearningRate)
            series.append(Series(String(format: "suggested %.2g", suggestedLearningRate), x: [s, s], y: [lo, hi]))
        }
        return LineChart(title: title, xLabel: "log10(learning rate)", yLabel: "loss", series: series)
    }

    /// Writes the chart as PNG or SVG (by the file's extension).
    public func writeChart(to url: URL) throws { try chart().write(to: url) }
}

/// What a sanity check must put back: weights, optimizer state, random streams, mode.
struct TrainingSnapshot {
    let model: [String: Tensor]
    let optimizer: OptimizerState
    let rng: [RandomGenerator.State]
    let training: Bool
    let schedule: [String: Double]?
}

extension Trainer {
    func snapshot() -> TrainingSnapshot {
        TrainingSnapshot(model: model.stateDict(), optimizer: optimizer.stateDict(), rng: randomGenerators.map(\.state),
                         training: model.training, schedule: schedule?.stateDict())
    }

    func restore(_ s: TrainingSnapshot) {
        do {
            try model.loadStateDict(s.model)
            try optimizer.loadStateDict(s.optimizer)
            if let st = s.schedule { try schedule?.loadStateDict(st) }
        } catch {
            requirementFailure("Trainer: restoring the state saved by a sanity check failed: \(error)")
        }
        for (g, st) in zip(randomGenerators, s.rng) { g.state = st }
        model.train(s.training)
        optimizer.zeroGrad()
    }

    /// The untrained model's loss on the first `batchSize` samples (evaluation mode) against
    /// ln(classes); the verdict is `ok` when within `tolerance` (relative) of it.
    public func initialLossCheck(_ dataset: any Dataset, batchSize: Int = 256, tolerance: Double = 0.25) -> InitialLossReport {
        require(dataset.count > 0, "initialLossCheck: the data set is empty")
        let (x, y) = dataset.batch(Array(0..<Swift.min(batchSize, dataset.count)))
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        let (value, classes): (Double, Int) = withoutGradients {
            let out = model(x)
            let binary = out.rank <= 1 || out.shape.last == 1
            return (loss(out, y).itemDouble(), binary ? 2 : out.shape[out.rank - 1])
        }
        let expected = Foundation.log(Double(classes))
        let verdict: InitialLossReport.Verdict =
            value > expected * (1 + tolerance) || !value.isFinite ? .tooHigh : value < expected * (1 - tolerance) ? .tooLow : .ok
        return InitialLossReport(loss: value, expected: expected, classes: classes, verdict: verdict)
    }

    /// Trains on the first `samples` samples only, one batch of all of them per step, for
    /// `steps` steps, and reports the loss and the accuracy reached. A healthy model and
    /// loop memorise them (loss near 0, accuracy 100%). With `restore` the model and
    /// optimizer are put back afterwards.
    public func overfitTinySubset(_ dataset: any Dataset, samples: Int = 20, steps: Int = 200,
                                  restore restoreAfter: Bool = true) -> OverfitReport {
        require(samples > 0 && steps > 0, "overfitTinySubset: samples and steps must be positive, got \(samples) and \(steps)")
        let n = Swift.min(samples, dataset.count)
        require(n > 0, "overfitTinySubset: the data set is empty")
        let saved = snapshot()
        let (x, y) = dataset.batch(Array(0..<n))
        model.train()
        var losses: [Double] = []
        for _ in 0..<steps {
            optimizer.zeroGrad()
            let l = loss(model(x), y)
            l.backward()
            if let clipGradNorm { MyelinOptim.clipGradNorm(model.trainableParameters(), maxNorm: clipGradNorm) }
            optimizer.step()
            losses.append(l.itemDouble())
            if !l.itemDouble().isFinite { break }
        }
        model.eval()
        let (finalLoss, accuracy): (Double, Double?) = withoutGradients {
            let out = model(x)
            let l = loss(out, y).itemDouble()
            let classLike = !y.dtype.isFloatingPoint || (out.shape == y.shape && (out.shape.last ?? 0) > 1)
                || ((out.rank <= 1 || out.shape.last == 1) && y.count == out.count)
            guard classLike else { return (l, nil) }
            let b = ClassificationBatch(output: out, target: y, binary: BinaryDecision(), metric: "overfitTinySubset")
            let correct = zip(b.predicted, b.truth).filter { $0 == $1 }.count
            return (l, Double(correct) / Double(b.truth.count))
        }
        if restoreAfter { restore(saved) } else { model.train(saved.training) }
        return OverfitReport(samples: n, steps: losses.count, losses: losses, finalLoss: finalLoss, accuracy: accuracy)
    }

    /// Leslie Smith's learning-rate range test: one step per batch with the learning rate
    /// growing exponentially from `minLR` to `maxLR` over `steps` steps, recording the
    /// smoothed loss; stops when it exceeds `divergence` times its best. The model,
    /// optimizer and random streams are restored afterwards.
    public func learningRateFinder(_ dataset: any Dataset, minLR: Double = 1e-7, maxLR: Double = 10, steps: Int = 100,
                                   batchSize: Int = 32, smoothing: Double = 0.98, divergence: Double = 4,
                                   seed: UInt64 = 0) -> LearningRateFinderResult {
        require(minLR > 0 && maxLR > minLR, "learningRateFinder: need 0 < minLR < maxLR, got \(minLR) and \(maxLR)")
        require(steps >= 2, "learningRateFinder: steps must be at least 2, got \(steps)")
        require(smoothing >= 0 && smoothing < 1, "learningRateFinder: smoothing must be in [0, 1), got \(smoothing)")
        let saved = snapshot()
        defer { restore(saved) }
        let loader = DataLoader(dataset, batchSize: batchSize, shuffle: true, seed: seed, dropLast: dataset.count >= batchSize, prefetch: 0)
        require(loader.count > 0, "learningRateFinder: the data set is empty")
        model.train()
        var lrs: [Double] = [], smoothed: [Double] = [], raw: [Double] = []
        var average = 0.0, best = Double.infinity
        var diverged = false
        var epoch = 0
        var iterator = loader.batches(epoch: 0).makeIterator()
        let ratio = maxLR / minLR
        for i in 0..<steps {
            guard let batch = iterator.next() ?? {
                epoch += 1
                iterator = loader.batches(epoch: epoch).makeIterator()
                return iterator.next()
            }() else { break }
            let lr = minLR * Foundation.pow(ratio, Double(i) / Double(steps - 1))
            optimizer.learningRate = lr
            optimizer.zeroGrad()
            let l = loss(model(batch.input), batch.target)
            l.backward()
            if let clipGradNorm { MyelinOptim.clipGradNorm(model.trainableParameters(), maxNorm: clipGradNorm) }
            optimizer.step()
            let value = l.itemDouble()
            average = smoothing * average + (1 - smoothing) * value
            let s = average / (1 - Foundation.pow(smoothing, Double(i + 1)))
            lrs.append(lr)
            raw.append(value)
            smoothed.append(s)
            if !value.isFinite || (i > 0 && s > divergence * best) { diverged = true; break }
            best = Swift.min(best, s)
        }
        // The minimum over the points before divergence.
        let usable = diverged ? Swift.max(1, smoothed.count - 1) : smoothed.count
        var minIndex = 0
        for i in 0..<usable where smoothed[i] < smoothed[minIndex] { minIndex = i }
        // Steepest descent of the smoothed loss per log10(lr), up to the minimum.
        var steepIndex = 0
        var steepest = Double.infinity
        if minIndex >= 1 {
            for i in 1...minIndex {
                let slope = (smoothed[i] - smoothed[i - 1]) / (Foundation.log10(lrs[i]) - Foundation.log10(lrs[i - 1]))
                if slope < steepest { steepest = slope; steepIndex = i }
            }
        }
        return LearningRateFinderResult(learningRates: lrs, losses: smoothed, rawLosses: raw,
                                        minimumLossLearningRate: lrs[minIndex], steepestLearningRate: lrs[steepIndex],
                                        diverged: diverged)
    }
}
