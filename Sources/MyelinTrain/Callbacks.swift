import Foundation
import MyelinCore
import MyelinIO
import MyelinNN
import MyelinOptim

/// Hooks into `Trainer.fit`, as Keras' callbacks. Every method has an empty default.
/// Epochs and steps are 0-based; `logs` hold "loss", the metrics, and after an epoch
/// "val_*", "lr" and "time". A callback ends training by setting `trainer.stopTraining`.
/// Messages should go through `trainer.log`.
public protocol Callback: AnyObject {
    func onTrainBegin(_ trainer: Trainer) throws
    func onTrainEnd(_ trainer: Trainer) throws
    func onEpochBegin(_ trainer: Trainer, epoch: Int) throws
    func onEpochEnd(_ trainer: Trainer, epoch: Int, logs: [String: Double]) throws
    /// After each optimizer step; `logs` hold the epoch's running "loss" and metrics, and the batch "size".
    func onBatchEnd(_ trainer: Trainer, step: Int, logs: [String: Double]) throws
}

extension Callback {
    public func onTrainBegin(_ trainer: Trainer) throws {}
    public func onTrainEnd(_ trainer: Trainer) throws {}
    public func onEpochBegin(_ trainer: Trainer, epoch: Int) throws {}
    public func onEpochEnd(_ trainer: Trainer, epoch: Int, logs: [String: Double]) throws {}
    public func onBatchEnd(_ trainer: Trainer, step: Int, logs: [String: Double]) throws {}
}

/// A callback whose counters go into the trainer's checkpoints, so a resumed run
/// continues them (early-stopping patience, the best value so far, ...).
/// `loadCallbackState` is called after `onTrainBegin`.
public protocol ResumableCallback: Callback {
    func callbackState() -> [String: Double]
    func loadCallbackState(_ state: [String: Double]) throws
}

/// Whether a smaller or a larger monitored value is better.
public enum MonitorMode: String, Sendable {
    case min, max
    /// `max` for accuracy-like names ("acc", "precision", "recall", "f1", "auc"), else `min`.
    case auto

    func resolved(for monitor: String) -> MonitorMode {
        guard self == .auto else { return self }
        let m = monitor.lowercased()
        return ["acc", "precision", "recall", "f1", "auc"].contains { m.contains($0) } ? .max : .min
    }
}

/// "Is `current` better than `best` by more than `minDelta`?" for a resolved mode.
func improves(_ current: Double, on best: Double, mode: MonitorMode, minDelta: Double) -> Bool {
    mode == .max ? current - abs(minDelta) > best : current + abs(minDelta) < best
}

// MARK: - Progress display

/// Shows training progress. On a terminal: one line rewritten after every step with the
/// epoch, step/total, a bar, the running loss and metrics, samples per second and the time
/// left; then a line per epoch. When the output is not a terminal (CI, a log file): only the
/// line per epoch, e.g.
///
///     Epoch 3/10 - 469/469 - 8.2s - 7310 samples/s - loss: 0.1234 - accuracy: 0.9650 - val_loss: 0.1100 - val_accuracy: 0.9671 - lr: 0.001
public final class ProgressDisplay: Callback {
    public enum Mode: Sendable { case auto, perStep, perEpoch }
    let write: (String) -> Void
    /// Per-step updates (a terminal) or one line per epoch.
    public let perStep: Bool
    /// The shortest time between two per-step updates, in seconds.
    public var updateInterval: Double

    var epochStart = Date()
    var lastUpdate = Date.distantPast
    var samples = 0
    var metricNames: [String] = []

    /// - Parameters:
    ///   - mode: `.auto` updates per step when standard output is a terminal.
    ///   - output: receives the text (with its "\r" and "\n"); standard output by default.
    public init(mode: Mode = .auto, updateInterval: Double = 0.1, output: ((String) -> Void)? = nil) {
        switch mode {
        case .auto: perStep = isatty(STDOUT_FILENO) == 1
        case .perStep: perStep = true
        case .perEpoch: perStep = false
        }
        self.updateInterval = updateInterval
        // Flush `print`'s buffer first, so lines printed before keep their place when stdout is a pipe or file.
        self.write = output ?? { text in fflush(nil); FileHandle.standardOutput.write(Data(text.utf8)) }
    }

    public func onTrainBegin(_ trainer: Trainer) {
        metricNames = trainer.metrics.flatMap { $0.results().keys.sorted() }
        if metricNames.isEmpty { metricNames = trainer.metrics.map(\.name) }
    }

    public func onEpochBegin(_ trainer: Trainer, epoch: Int) {
        epochStart = Date()
        lastUpdate = .distantPast
        samples = 0
    }

    public func onBatchEnd(_ trainer: Trainer, step: Int, logs: [String: Double]) {
        samples += Int(logs["size"] ?? 0)
        guard perStep else { return }
        let now = Date()
        let total = trainer.stepsPerEpoch
        guard now.timeIntervalSince(lastUpdate) >= updateInterval || step + 1 == total else { return }
        lastUpdate = now
        let elapsed = now.timeIntervalSince(epochStart)
        let rate = elapsed > 0 ? Double(samples) / elapsed : 0
        let eta = step + 1 < total ? elapsed / Double(step + 1) * Double(total - step - 1) : 0
        let width = 20
        let done = total == 0 ? width : width * (step + 1) / total
        let bar = String(repeating: "=", count: Swift.max(0, done - 1)) + (done > 0 ? (done == width ? "=" : ">") : "")
            + String(repeating: ".", count: width - done)
        var parts = ["Epoch \(trainer.epoch + 1)/\(trainer.epochs)", "\(step + 1)/\(total) [\(bar)]"]
        parts += valueParts(logs, keys: ["loss"] + metricNames)
        parts.append(String(format: "%.0f samples/s", rate))
        parts.append("ETA " + Self.duration(eta))
        write("\r\u{1B}[2K" + parts.joined(separator: " - "))
    }

    public func onEpochEnd(_ trainer: Trainer, epoch: Int, logs: [String: Double]) {
        let seconds = logs["time"] ?? Date().timeIntervalSince(epochStart)
        var parts = ["Epoch \(epoch + 1)/\(trainer.epochs)", "\(trainer.stepsPerEpoch)/\(trainer.stepsPerEpoch)",
                     Self.duration(seconds), String(format: "%.0f samples/s", seconds > 0 ? Double(samples) / seconds : 0)]
        let keys = ["loss"] + metricNames
        parts += valueParts(logs, keys: keys + keys.map { "val_" + $0 })
        if let lr = logs["lr"] { parts.append("lr: " + String(format: "%.4g", lr)) }
        write((perStep ? "\r\u{1B}[2K" : "") + parts.joined(separator: " - ") + "\n")
    }

    func valueParts(_ logs: [String: Double], keys: [String]) -> [String] {
        keys.compactMap { k in logs[k].map { "\(k): " + String(format: "%.4f", $0) } }
    }

    /// "8.2s" below a minute, "3:05" above.
    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        if s < 60 { return String(format: "%.1fs", s) }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

// MARK: - Early stopping

/// Stops training when `monitor` has not improved by more than `minDelta` for `patience`
/// epochs, as `keras.callbacks.EarlyStopping`; with `restoreBestWeights` the model gets
/// back the weights of its best epoch when it stops.
public final class EarlyStopping: ResumableCallback {
    public let monitor: String
    public let mode: MonitorMode
    public let patience: Int
    public let minDelta: Double
    public let restoreBestWeights: Bool
    public let verbose: Bool

    public private(set) var best = Double.infinity
    public private(set) var wait = 0
    /// The (0-based) epoch of the best value.
    public private(set) var bestEpoch: Int?
    /// The epoch after which training was stopped, if it was.
    public private(set) var stoppedEpoch: Int?
    var bestWeights: [String: Tensor]?

    public init(monitor: String = "val_loss", mode: MonitorMode = .auto, patience: Int = 0, minDelta: Double = 0,
                restoreBestWeights: Bool = false, verbose: Bool = true) {
        require(patience >= 0, "EarlyStopping: patience must be non-negative, got \(patience)")
        self.monitor = monitor
        self.mode = mode.resolved(for: monitor)
        self.patience = patience
        self.minDelta = minDelta
        self.restoreBestWeights = restoreBestWeights
        self.verbose = verbose
    }

    public func onTrainBegin(_ trainer: Trainer) {
        best = mode == .max ? -.infinity : .infinity
        wait = 0
        bestEpoch = nil
        stoppedEpoch = nil
        bestWeights = nil
    }

    public func onEpochEnd(_ trainer: Trainer, epoch: Int, logs: [String: Double]) throws {
        guard let current = logs[monitor] else {
            throw TrainingError.invalidArgument("EarlyStopping: '\(monitor)' is not in the logs (\(logs.keys.sorted())); validation data is needed for val_ metrics")
        }
        if improves(current, on: best, mode: mode, minDelta: minDelta) {
            best = current
            bestEpoch = epoch
            wait = 0
            if restoreBestWeights { bestWeights = trainer.model.stateDict() }
            return
        }
        wait += 1
        guard wait >= patience else { return }
        stoppedEpoch = epoch
        trainer.stopTraining = true
        var message = "Epoch \(epoch + 1): early stopping, \(monitor) has not improved for \(wait) epochs (best \(best) at epoch \((bestEpoch ?? -1) + 1))"
        if restoreBestWeights {
            if let w = bestWeights {
                try trainer.model.loadStateDict(w)
                message += "; restored the weights of epoch \((bestEpoch ?? -1) + 1)"
            } else {
                message += "; the best weights were not kept (resumed run), the last weights stay"
            }
        }
        if verbose { trainer.log(message) }
    }

    public func callbackState() -> [String: Double] {
        ["best": best, "wait": Double(wait), "best_epoch": Double(bestEpoch ?? -1)]
    }

    public func loadCallbackState(_ state: [String: Double]) throws {
        best = state["best"] ?? best
        wait = Int(state["wait"] ?? 0)
        let e = Int(state["best_epoch"] ?? -1)
        bestEpoch = e >= 0 ? e : nil
    }
}

// MARK: - Model checkpoint

/// Saves the model when `monitor` improves (or after every epoch without `saveBestOnly`),
/// as `keras.callbacks.ModelCheckpoint`. The file is a MyelinIO `Checkpoint` (model,
/// optimizer, schedule, epoch, step, random state) written atomically, or only the weights
/// with `weightsOnly`. "{epoch}" in the path becomes the 1-based epoch number.
public final class ModelCheckpoint: ResumableCallback {
    public let path: URL
    public let monitor: String
    public let mode: MonitorMode
    public let saveBestOnly: Bool
    public let weightsOnly: Bool
    public let verbose: Bool
    /// Extra metadata of the weights file (`weightsOnly`) or extra entries of the checkpoint.
    public let metadata: [String: String]
    public private(set) var best = Double.infinity
    public private(set) var bestEpoch: Int?
    /// The files written, in order.
    public private(set) var saved: [URL] = []

    public init(_ path: URL, monitor: String = "val_loss", mode: MonitorMode = .auto, saveBestOnly: Bool = true,
                weightsOnly: Bool = false, metadata: [String: String] = [:], verbose: Bool = false) {
        self.path = path
        self.metadata = metadata
        self.monitor = monitor
        self.mode = mode.resolved(for: monitor)
        self.saveBestOnly = saveBestOnly
        self.weightsOnly = weightsOnly
        self.verbose = verbose
    }

    public func onTrainBegin(_ trainer: Trainer) {
        best = mode == .max ? -.infinity : .infinity
        bestEpoch = nil
    }

    public func onEpochEnd(_ trainer: Trainer, epoch: Int, logs: [String: Double]) throws {
        let current = logs[monitor]
        if saveBestOnly {
            guard let current else {
                throw TrainingError.invalidArgument("ModelCheckpoint: '\(monitor)' is not in the logs (\(logs.keys.sorted())); validation data is needed for val_ metrics")
            }
            guard improves(current, on: best, mode: mode, minDelta: 0) else { return }
        }
        if let current, improves(current, on: best, mode: mode, minDelta: 0) {
            best = current
            bestEpoch = epoch
        }
        let url = URL(fileURLWithPath: path.path.replacingOccurrences(of: "{epoch}", with: String(format: "%03d", epoch + 1)))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if weightsOnly {
            try saveWeights(trainer.model, to: url,
                            metadata: metadata.merging(["epoch": String(epoch + 1), monitor: current.map { "\($0)" } ?? ""]) { a, _ in a })
        } else {
            var c = try trainer.checkpoint()
            c.extra.merge(metadata) { a, _ in a }
            c.extra["monitor"] = monitor
            if let current { c.extra["monitor_value"] = "\(current)" }
            try c.save(to: url)
        }
        saved.append(url)
        if verbose { trainer.log("Epoch \(epoch + 1): \(monitor) = \(current.map { "\($0)" } ?? "?"), saved \(url.path)") }
    }

    public func callbackState() -> [String: Double] { ["best": best, "best_epoch": Double(bestEpoch ?? -1)] }

    public func loadCallbackState(_ state: [String: Double]) throws {
        best = state["best"] ?? best
        let e = Int(state["best_epoch"] ?? -1)
        bestEpoch = e >= 0 ? e : nil
    }
}

// MARK: - Reduce the learning rate on a plateau

/// Cuts the learning rate when `monitor` stops improving, as Keras' `ReduceLROnPlateau`
/// callback: a MyelinOptim `ReduceLROnPlateau` fed the monitored log value after each epoch.
/// (Passing that schedule as the trainer's `schedule` does the same; the callback form
/// chooses the monitored value per callback and keeps the trainer's schedule free.)
public final class ReduceLROnPlateauCallback: ResumableCallback {
    public let monitor: String
    public let mode: MonitorMode
    public let factor: Double
    public let patience: Int
    public let minDelta: Double
    public let cooldown: Int
    public let minLearningRate: Double
    public let verbose: Bool
    /// The schedule doing the work (made at the start of training for the trainer's optimizer).
    public private(set) var plateau: ReduceLROnPlateau?

    public init(monitor: String = "val_loss", mode: MonitorMode = .auto, factor: Double = 0.1, patience: Int = 10,
                minDelta: Double = 1e-4, cooldown: Int = 0, minLearningRate: Double = 0, verbose: Bool = true) {
        require(factor > 0 && factor < 1, "ReduceLROnPlateauCallback: factor must be in (0, 1), got \(factor)")
        self.monitor = monitor
        self.mode = mode.resolved(for: monitor)
        self.factor = factor
        self.patience = patience
        self.minDelta = minDelta
        self.cooldown = cooldown
        self.minLearningRate = minLearningRate
        self.verbose = verbose
    }

    public func onTrainBegin(_ trainer: Trainer) {
        // Keras compares absolute differences (threshold mode "abs").
        plateau = ReduceLROnPlateau(trainer.optimizer, mode: mode == .max ? .max : .min, factor: factor, patience: patience,
                                    threshold: minDelta, thresholdMode: .abs, cooldown: cooldown, minLearningRate: minLearningRate)
    }

    public func onEpochEnd(_ trainer: Trainer, epoch: Int, logs: [String: Double]) throws {
        guard let plateau else { return }
        guard let current = logs[monitor] else {
            throw TrainingError.invalidArgument("ReduceLROnPlateauCallback: '\(monitor)' is not in the logs (\(logs.keys.sorted()))")
        }
        let before = trainer.optimizer.learningRate
        plateau.step(metric: current)
        let after = trainer.optimizer.learningRate
        if verbose && after < before {
            trainer.log("Epoch \(epoch + 1): \(monitor) has not improved; learning rate \(before) → \(after)")
        }
    }

    public func callbackState() -> [String: Double] { plateau?.stateDict() ?? [:] }
    public func loadCallbackState(_ state: [String: Double]) throws { try plateau?.loadStateDict(state) }
}

// MARK: - CSV log

/// One CSV row per epoch: "epoch" (0-based, as Keras) and every log key in sorted order.
/// The file is rewritten atomically after each epoch. A resumed run (or `append`) keeps
/// the rows of earlier epochs.
public final class CSVLogger: Callback {
    public let url: URL
    public let separator: String
    public let append: Bool
    var header: [String]?
    var rows: [String] = []

    public init(_ url: URL, separator: String = ",", append: Bool = false) {
        self.url = url
        self.separator = separator
        self.append = append
    }

    public func onTrainBegin(_ trainer: Trainer) {
        header = nil
        rows = []
        guard append || trainer.epoch > 0, let text = try? String(contentsOf: url, encoding: .utf8) else { return }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard !lines.isEmpty else { return }
        header = lines.removeFirst().components(separatedBy: separator)
        // On resume, keep only the epochs the checkpoint had completed.
        rows = lines.filter { line in
            guard !append, let e = Int(line.components(separatedBy: separator).first ?? "") else { return true }
            return e < trainer.epoch
        }
    }

    public func onEpochEnd(_ trainer: Trainer, epoch: Int, logs: [String: Double]) throws {
        let columns = header ?? (["epoch"] + logs.keys.sorted())
        header = columns
        rows.append(columns.map { $0 == "epoch" ? String(epoch) : logs[$0].map { "\($0)" } ?? "" }.joined(separator: separator))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text = ([columns.joined(separator: separator)] + rows).joined(separator: "\n") + "\n"
        try AtomicFile.write(Data(text.utf8), to: url)
    }
}

// MARK: - Small callbacks

/// A callback from closures, as `keras.callbacks.LambdaCallback`.
public final class LambdaCallback: Callback {
    let trainBegin: ((Trainer) throws -> Void)?
    let trainEnd: ((Trainer) throws -> Void)?
    let epochBegin: ((Trainer, Int) throws -> Void)?
    let epochEnd: ((Trainer, Int, [String: Double]) throws -> Void)?
    let batchEnd: ((Trainer, Int, [String: Double]) throws -> Void)?

    public init(onTrainBegin: ((Trainer) throws -> Void)? = nil, onTrainEnd: ((Trainer) throws -> Void)? = nil,
                onEpochBegin: ((Trainer, Int) throws -> Void)? = nil,
                onEpochEnd: ((Trainer, Int, [String: Double]) throws -> Void)? = nil,
                onBatchEnd: ((Trainer, Int, [String: Double]) throws -> Void)? = nil) {
        trainBegin = onTrainBegin
        trainEnd = onTrainEnd
        epochBegin = onEpochBegin
        epochEnd = onEpochEnd
        batchEnd = onBatchEnd
    }

    public func onTrainBegin(_ trainer: Trainer) throws { try trainBegin?(trainer) }
    public func onTrainEnd(_ trainer: Trainer) throws { try trainEnd?(trainer) }
    public func onEpochBegin(_ trainer: Trainer, epoch: Int) throws { try epochBegin?(trainer, epoch) }
    public func onEpochEnd(_ trainer: Trainer, epoch: Int, logs: [String: Double]) throws { try epochEnd?(trainer, epoch, logs) }
    public func onBatchEnd(_ trainer: Trainer, step: Int, logs: [String: Double]) throws { try batchEnd?(trainer, step, logs) }
}

/// Stops training as soon as the loss is NaN or infinite (Keras' `TerminateOnNaN`).
public final class TerminateOnNaN: Callback {
    public init() {}
    public func onBatchEnd(_ trainer: Trainer, step: Int, logs: [String: Double]) {
        guard let l = logs["loss"], !l.isFinite else { return }
        trainer.log("Epoch \(trainer.epoch + 1), step \(step + 1): the loss is \(l); training stopped")
        trainer.stopTraining = true
    }
}

/// Writes the loss and metric curves (train and validation, per epoch) as `<name>.png`
/// and `<name>.svg` into `directory`: after every epoch with `everyEpoch` (so they can be
/// watched during training), and after training.
public final class CurvesCallback: Callback {
    public let directory: URL
    public let name: String
    public let title: String?
    public let everyEpoch: Bool

    public init(directory: URL, name: String = "curves", title: String? = nil, everyEpoch: Bool = true) {
        self.directory = directory
        self.name = name
        self.title = title
        self.everyEpoch = everyEpoch
    }

    public func onEpochEnd(_ trainer: Trainer, epoch: Int, logs: [String: Double]) throws {
        if everyEpoch { try write(trainer.history) }
    }

    public func onTrainEnd(_ trainer: Trainer) throws {
        if !trainer.history.epochs.isEmpty { try write(trainer.history) }
    }

    func write(_ history: History) throws {
        try TrainingCurves.write(history: history.curves, to: directory, name: name, title: title)
    }
}
