import Foundation
import MyelinCore
import MyelinData
import MyelinIO
import MyelinNN
import MyelinOptim

/// What can go wrong before or during `fit` that is the user's to fix: a model whose
/// output does not fit the targets, a bad argument, a checkpoint from another run.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// The dry run found that the model's output cannot be compared with the targets.
    case shapeMismatch(input: [Int], output: [Int], target: [Int], reason: String)
    /// The loss of the dry-run batch is NaN or infinite.
    case nonFiniteLoss(value: Double, input: [Int], output: [Int])
    case invalidArgument(String)
    /// The checkpoint does not belong to this training set-up.
    case resumeMismatch(path: String, reason: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(input, output, target, reason):
            "dry run: input \(input) → output \(output), but the target has shape \(target): \(reason)"
        case let .nonFiniteLoss(value, input, output):
            "dry run: input \(input) → output \(output) gives a loss of \(value) before any training step; check the data for NaN and the loss for log(0)"
        case let .invalidArgument(message): message
        case let .resumeMismatch(path, reason): "cannot resume from \(path): \(reason)"
        }
    }
}

/// Per-epoch logs of a run, as Keras' `history.history`: "loss", "accuracy", "val_loss",
/// "val_accuracy", "lr", "time" (seconds), ... each one value per epoch.
public struct History: Sendable, Codable, Equatable {
    public var history: [String: [Double]] = [:]
    /// The (0-based) epoch of each entry.
    public var epochs: [Int] = []

    public init() {}

    public subscript(key: String) -> [Double] { history[key] ?? [] }
    public var keys: [String] { history.keys.sorted() }
    /// The last epoch's logs.
    public var last: [String: Double] { history.compactMapValues(\.last) }

    mutating func append(epoch: Int, logs: [String: Double]) {
        let n = epochs.count
        epochs.append(epoch)
        for (k, v) in logs {
            // A key that appears late (a metric added between runs) is padded with NaN.
            if history[k] == nil { history[k] = Array(repeating: .nan, count: n) }
            history[k]?.append(v)
        }
        for k in history.keys where history[k]?.count == n { history[k]?.append(.nan) }
    }

    /// The curves worth plotting: losses and metrics, without "lr" and "time".
    public var curves: [String: [Double]] { history.filter { $0.key != "lr" && $0.key != "time" } }
}

/// The training set-up saved with every checkpoint, and checked when resuming.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var shuffle: Bool
    public var dropLast: Bool
    /// The data loader's seed (orders every epoch).
    public var seed: UInt64
    /// The loader epoch that the next training epoch uses.
    public var loaderEpoch: Int
    public var trainSamples: Int
    public var validationSamples: Int
    public var validationSplit: Double
    public var clipGradNorm: Double?
    public var model: String
    public var parameterCount: Int
    public var optimizer: String
    public var schedule: String?
    public var metrics: [String]
    public var threadCount: Int
}

/// Keras-style training of a model: `fit`, `evaluate`, `predict`.
///
///     let trainer = Trainer(model: model, loss: CrossEntropyLoss(), optimizer: Adam(model.parameters()))
///     let history = try trainer.fit(train: trainSet, validation: testSet, epochs: 10, batchSize: 64)
///     print(trainer.evaluate(testSet))
///
/// - Before the first epoch a dry run passes one batch through the model (evaluation
///   mode, no gradients, no random draws) and checks the output against the targets,
///   so a shape mistake throws a `TrainingError` at once instead of after an epoch.
/// - Schedules are stepped after every epoch or every batch, as their `interval` says;
///   a schedule that needs a metric (`ReduceLROnPlateau`) gets `scheduleMonitor`'s value.
/// - With `checkpointDirectory`, a checkpoint after every epoch holds the model, optimizer
///   and schedule state, epoch, global step, the state of `randomGenerators`, the loader's
///   seed and epoch, and the configuration; `fit(resumeFrom:)` continues bit for bit.
public final class Trainer {
    public let model: any UnaryLayer
    public let loss: (Tensor, Tensor) -> Tensor
    public let optimizer: Optimizer
    public var schedule: (any LearningRateSchedule)?
    /// The log value fed to a schedule that needs a metric ("val_loss", or "loss" without validation).
    public var scheduleMonitor: String
    public var metrics: [any Metric]
    /// Clip the gradients' global 2-norm to this before every step.
    public var clipGradNorm: Double?
    /// The random streams saved in checkpoints and restored on resume (dropout and
    /// initialisers draw from `.default` unless given their own generator).
    public var randomGenerators: [RandomGenerator]
    /// Where the trainer's own messages (the dry-run line) go.
    public var log: (String) -> Void = { print($0) }
    /// Extra entries written into every checkpoint's `extra` (e.g. an application's own
    /// run settings, so a tool can rebuild the model from `last.safetensors` alone).
    public var checkpointMetadata: [String: String] = [:]

    // MARK: State of the current run

    /// Set by a callback to end training after the current batch or epoch.
    public var stopTraining = false
    /// Epochs completed.
    public internal(set) var epoch = 0
    /// Optimizer steps taken over the whole run.
    public internal(set) var globalStep = 0
    /// The run's per-epoch logs so far.
    public internal(set) var history = History()
    /// The epoch count `fit` was asked for.
    public internal(set) var epochs = 0
    public internal(set) var stepsPerEpoch = 0
    public internal(set) var samplesPerEpoch = 0
    public internal(set) var batchSize = 0
    /// The configuration of the current (or last) run.
    public internal(set) var configuration: TrainingConfiguration?

    public init(model: any UnaryLayer, loss: @escaping (Tensor, Tensor) -> Tensor, optimizer: Optimizer,
                schedule: (any LearningRateSchedule)? = nil, metrics: [any Metric] = [Accuracy()],
                clipGradNorm: Double? = nil, scheduleMonitor: String = "val_loss",
                randomGenerators: [RandomGenerator] = [.default]) {
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.schedule = schedule
        self.metrics = metrics
        self.clipGradNorm = clipGradNorm
        self.scheduleMonitor = scheduleMonitor
        self.randomGenerators = randomGenerators
        if let clipGradNorm { require(clipGradNorm > 0, "Trainer: clipGradNorm must be positive, got \(clipGradNorm)") }
        let names = metrics.map(\.name)
        require(Set(names).count == names.count, "Trainer: two metrics share a name: \(names)")
        require(!names.contains("loss") && !names.contains("lr") && !names.contains("time"),
                "Trainer: a metric may not be called 'loss', 'lr' or 'time' (metrics: \(names))")
    }

    public convenience init(model: any UnaryLayer, loss: some LossFunction, optimizer: Optimizer,
                            schedule: (any LearningRateSchedule)? = nil, metrics: [any Metric] = [Accuracy()],
                            clipGradNorm: Double? = nil, scheduleMonitor: String = "val_loss",
                            randomGenerators: [RandomGenerator] = [.default]) {
        self.init(model: model, loss: { loss($0, $1) }, optimizer: optimizer, schedule: schedule, metrics: metrics,
                  clipGradNorm: clipGradNorm, scheduleMonitor: scheduleMonitor, randomGenerators: randomGenerators)
    }

    // MARK: fit

    /// Trains on `train` for `epochs` epochs (in total: a resumed run continues up to it).
    ///
    /// - Parameters:
    ///   - validation: data evaluated after every epoch ("val_loss", "val_accuracy", ...).
    ///   - validationSplit: else this fraction of `train`, drawn at random with `seed`, is held out.
    ///   - seed: orders the batches (and draws the split); nil draws one from `RandomGenerator.default`.
    ///   - callbacks: a `ProgressDisplay` is added when `verbose` and none is given.
    ///   - checkpointDirectory: writes `last.safetensors` there after every epoch.
    ///   - curvesDirectory: writes `curves.png` and `curves.svg` there after training.
    ///   - resumeFrom: a checkpoint file (or a directory holding `last.safetensors`) to continue from.
    @discardableResult
    public func fit(train: some Dataset, validation: (any Dataset)? = nil, validationSplit: Double = 0,
                    epochs: Int, batchSize: Int = 32, shuffle: Bool = true, seed: UInt64? = nil, dropLast: Bool = false,
                    callbacks: [any Callback] = [], checkpointDirectory: URL? = nil, curvesDirectory: URL? = nil,
                    resumeFrom: URL? = nil, verbose: Bool = true) throws -> History {
        guard validationSplit >= 0 && validationSplit < 1 else {
            throw TrainingError.invalidArgument("fit: validationSplit must be in [0, 1), got \(validationSplit)")
        }
        guard validation == nil || validationSplit == 0 else {
            throw TrainingError.invalidArgument("fit: give either validation data or a validationSplit, not both")
        }
        guard batchSize > 0 else { throw TrainingError.invalidArgument("fit: batchSize must be positive, got \(batchSize)") }
        let resume = try resumeFrom.map(Self.loadCheckpoint)
        let config = try resume.map { try Self.configuration(of: $0.checkpoint, path: $0.path) }
        let runSeed = config?.seed ?? seed ?? RandomGenerator.default.nextUInt64()
        var trainSet: any Dataset = train
        var validationSet = validation
        if validationSplit > 0 {
            let parts = trainValidationSplit(train, validationFraction: validationSplit, seed: runSeed)
            trainSet = parts.train
            validationSet = parts.validation
        }
        let loader = DataLoader(trainSet, batchSize: batchSize, shuffle: shuffle, seed: runSeed, dropLast: dropLast)
        return try run(loader: loader, validation: validationSet, validationSplit: validationSplit, epochs: epochs,
                       callbacks: callbacks, checkpointDirectory: checkpointDirectory, curvesDirectory: curvesDirectory,
                       resume: resume, verbose: verbose)
    }

    /// Trains on the batches of `loader` (its seed orders the epochs; its `epoch` is advanced).
    @discardableResult
    public func fit(train loader: DataLoader, validation: (any Dataset)? = nil, epochs: Int,
                    callbacks: [any Callback] = [], checkpointDirectory: URL? = nil, curvesDirectory: URL? = nil,
                    resumeFrom: URL? = nil, verbose: Bool = true) throws -> History {
        let resume = try resumeFrom.map(Self.loadCheckpoint)
        return try run(loader: loader, validation: validation, validationSplit: 0, epochs: epochs, callbacks: callbacks,
                       checkpointDirectory: checkpointDirectory, curvesDirectory: curvesDirectory, resume: resume, verbose: verbose)
    }

    /// Trains on whole tensors: inputs `[N, ...]` and targets `[N, ...]`.
    @discardableResult
    public func fit(x: Tensor, y: Tensor, validationData: (x: Tensor, y: Tensor)? = nil, validationSplit: Double = 0,
                    epochs: Int, batchSize: Int = 32, shuffle: Bool = true, seed: UInt64? = nil,
                    callbacks: [any Callback] = [], checkpointDirectory: URL? = nil, curvesDirectory: URL? = nil,
                    resumeFrom: URL? = nil, verbose: Bool = true) throws -> History {
        guard x.rank >= 1, y.rank >= 1, x.shape[0] == y.shape[0] else {
            throw TrainingError.invalidArgument("fit: x \(x.shape) and y \(y.shape) must have the same number of samples (first axis)")
        }
        return try fit(train: TensorDataset(inputs: x, targets: y),
                       validation: validationData.map { TensorDataset(inputs: $0.x, targets: $0.y) },
                       validationSplit: validationSplit, epochs: epochs, batchSize: batchSize, shuffle: shuffle, seed: seed,
                       callbacks: callbacks, checkpointDirectory: checkpointDirectory, curvesDirectory: curvesDirectory,
                       resumeFrom: resumeFrom, verbose: verbose)
    }

    func run(loader: DataLoader, validation: (any Dataset)?, validationSplit: Double, epochs: Int, callbacks: [any Callback],
             checkpointDirectory: URL?, curvesDirectory: URL?, resume: (checkpoint: Checkpoint, path: String)?,
             verbose: Bool) throws -> History {
        guard epochs >= 0 else { throw TrainingError.invalidArgument("fit: epochs must be non-negative, got \(epochs)") }
        guard loader.count > 0 else {
            throw TrainingError.invalidArgument("fit: the training data gives no batch (\(loader.sampleCount) samples, batch size \(loader.batchSize)\(loader.dropLast ? ", drop-last" : ""))")
        }
        var callbacks = callbacks
        if verbose && !callbacks.contains(where: { $0 is ProgressDisplay }) { callbacks.insert(ProgressDisplay(), at: 0) }
        if let curvesDirectory { callbacks.append(CurvesCallback(directory: curvesDirectory)) }

        // Fresh run, or the state of the checkpoint.
        stopTraining = false
        epoch = 0
        globalStep = 0
        history = History()
        var loaderEpoch = loader.epoch
        var config = TrainingConfiguration(
            epochs: epochs, batchSize: loader.batchSize, shuffle: loader.shuffle, dropLast: loader.dropLast, seed: loader.seed,
            loaderEpoch: loaderEpoch, trainSamples: loader.sampleCount, validationSamples: validation?.count ?? 0,
            validationSplit: validationSplit, clipGradNorm: clipGradNorm, model: String(describing: type(of: model)),
            parameterCount: model.parameterCount, optimizer: String(describing: type(of: optimizer)),
            schedule: schedule.map { String(describing: type(of: $0)) }, metrics: metrics.map(\.name),
            threadCount: Threading.threadCount)
        var callbackStates: [String: String] = [:]
        if let resume {
            let saved = try Self.configuration(of: resume.checkpoint, path: resume.path)
            try check(saved, against: config, path: resume.path)
            try restore(resume.checkpoint, path: resume.path)
            loaderEpoch = saved.loaderEpoch
            config.loaderEpoch = saved.loaderEpoch
            callbackStates = resume.checkpoint.extra.filter { $0.key.hasPrefix("callback.") }
        }
        self.epochs = epochs
        self.stepsPerEpoch = loader.count
        self.samplesPerEpoch = loader.dropLast ? loader.count * loader.batchSize : loader.sampleCount
        self.batchSize = loader.batchSize
        self.configuration = config

        var firstBatch = loader.batches(epoch: loaderEpoch).makeIterator()
        try dryRun(firstBatch.next())

        model.train()
        for cb in callbacks { try cb.onTrainBegin(self) }
        for (i, cb) in callbacks.enumerated() {
            guard let r = cb as? any ResumableCallback, let text = callbackStates[Self.callbackKey(i, cb)] else { continue }
            let state = try Self.jsonDecoder.decode([String: Double].self, from: Data(text.utf8))
            try r.loadCallbackState(state)
        }

        while epoch < epochs && !stopTraining {
            let e = epoch
            for cb in callbacks { try cb.onEpochBegin(self, epoch: e) }
            let started = Date()
            var logs = try trainEpoch(loader.batches(epoch: loaderEpoch), callbacks: callbacks)
            loaderEpoch += 1
            if let validation {
                for (k, v) in evaluate(validation, batchSize: Swift.max(loader.batchSize, 256)) { logs["val_" + k] = v }
                model.train()
            }
            logs["lr"] = optimizer.learningRate
            logs["time"] = Date().timeIntervalSince(started)
            if let schedule, schedule.interval == .epoch {
                try stepSchedule(schedule, logs: logs)
            }
            history.append(epoch: e, logs: logs)
            epoch += 1
            for cb in callbacks { try cb.onEpochEnd(self, epoch: e, logs: logs) }
            if let checkpointDirectory {
                config.loaderEpoch = loaderEpoch
                self.configuration = config
                try saveCheckpoint(to: checkpointDirectory.appendingPathComponent("last.safetensors"), callbacks: callbacks)
            }
        }
        loader.epoch = loaderEpoch
        model.train()
        for cb in callbacks { try cb.onTrainEnd(self) }
        return history
    }

    /// One pass over the batches; returns the epoch's mean loss and the metrics.
    func trainEpoch(_ batches: DataLoader.Epoch, callbacks: [any Callback]) throws -> [String: Double] {
        for m in metrics { m.reset() }
        var lossSum = 0.0
        var seen = 0
        for (step, batch) in batches.enumerated() {
            optimizer.zeroGrad()
            let output = model(batch.input)
            let l = loss(output, batch.target)
            l.backward()
            if let clipGradNorm { MyelinOptim.clipGradNorm(model.trainableParameters(), maxNorm: clipGradNorm) }
            optimizer.step()
            globalStep += 1
            if let schedule, schedule.interval == .batch {
                schedule.step(metric: schedule.requiresMetric ? l.itemDouble() : nil)
            }
            let n = batch.input.rank > 0 ? batch.input.shape[0] : 1
            lossSum += l.itemDouble() * Double(n)
            seen += n
            withoutGradients { for m in metrics { m.update(output: output.detached(), target: batch.target) } }
            var logs = metricResults()
            logs["loss"] = lossSum / Double(seen)
            logs["size"] = Double(n)
            for cb in callbacks { try cb.onBatchEnd(self, step: step, logs: logs) }
            if stopTraining { break }
        }
        var logs = metricResults()
        logs["loss"] = seen == 0 ? .nan : lossSum / Double(seen)
        return logs
    }

    func metricResults() -> [String: Double] {
        var logs: [String: Double] = [:]
        for m in metrics { logs.merge(m.results()) { a, _ in a } }
        return logs
    }

    func stepSchedule(_ schedule: any LearningRateSchedule, logs: [String: Double]) throws {
        guard schedule.requiresMetric else { schedule.step(metric: nil); return }
        let key = logs[scheduleMonitor] != nil ? scheduleMonitor : (scheduleMonitor.hasPrefix("val_") ? String(scheduleMonitor.dropFirst(4)) : scheduleMonitor)
        guard let value = logs[key] else {
            throw TrainingError.invalidArgument("fit: the schedule \(type(of: schedule)) watches '\(scheduleMonitor)', which is not in the logs (\(logs.keys.sorted()))")
        }
        schedule.step(metric: value)
    }

    // MARK: Dry run

    /// Passes one batch through the model in evaluation mode without gradients and checks
    /// the output against the targets; prints "dry run: input [...] → output [...]".
    func dryRun(_ batch: Batch?) throws {
        guard let (x, y) = batch else { return }
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        let out = withoutGradients { model(x).detached() }
        log("dry run: input \(x.shape) → output \(out.shape) (target \(y.dtype) \(y.shape))")
        func fail(_ reason: String) -> TrainingError { .shapeMismatch(input: x.shape, output: out.shape, target: y.shape, reason: reason) }
        guard out.rank >= 1, y.rank >= 1, x.rank >= 1 else { throw fail("the output and the target need a batch axis") }
        guard out.shape[0] == x.shape[0] else {
            throw fail("the batch has \(x.shape[0]) samples but the output has \(out.shape[0]) rows; a reshape or flatten in the model mixes samples")
        }
        guard out.shape[0] == y.shape[0] else { throw fail("the output has \(out.shape[0]) rows but there are \(y.shape[0]) targets") }
        if !y.dtype.isFloatingPoint && out.shape != y.shape {
            // Integer class labels: the output has one more axis, the classes.
            guard out.rank == y.rank + 1, Array(out.shape.dropLast()) == y.shape else {
                throw fail("integer class labels \(y.shape) need an output of shape \(y.shape) + [classes] (logits, classes last)")
            }
            let classes = out.shape[out.rank - 1]
            let labels = y.integers().filter { $0 != -100 }
            if classes == 1 {
                // One logit per sample: binary labels 0/1 (binary cross-entropy on the logit).
                if let bad = labels.first(where: { $0 != 0 && $0 != 1 }) {
                    throw fail("a label is \(bad), but a single output per sample needs binary labels 0 or 1")
                }
            } else if let top = labels.max(), top >= classes {
                throw fail("a label is \(top), but the model outputs \(classes) classes (labels must be 0..<\(classes))")
            }
            if let low = labels.min(), low < 0 { throw fail("a label is \(low); labels must be 0..<\(classes)") }
        } else if out.shape != y.shape {
            throw fail("float targets must have the output's shape; an element-wise loss would broadcast \(out.shape) against \(y.shape)")
        }
        let value = withoutGradients { loss(out, y).detached() }
        let l = value.count == 1 ? value.itemDouble() : value.mean().itemDouble()
        guard l.isFinite else { throw TrainingError.nonFiniteLoss(value: l, input: x.shape, output: out.shape) }
    }

    // MARK: evaluate and predict

    /// The loss and metrics on `dataset`, in evaluation mode without gradients
    /// ("loss", "accuracy", ...). The model's mode is restored afterwards.
    public func evaluate(_ dataset: any Dataset, batchSize: Int = 256) -> [String: Double] {
        require(batchSize > 0, "Trainer.evaluate: batchSize must be positive, got \(batchSize)")
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        for m in metrics { m.reset() }
        var lossSum = 0.0
        var seen = 0
        withoutGradients {
            for (x, y) in DataLoader(dataset, batchSize: batchSize, shuffle: false, seed: 0, prefetch: 1) {
                let out = model(x)
                let n = x.shape[0]
                lossSum += loss(out, y).itemDouble() * Double(n)
                seen += n
                for m in metrics { m.update(output: out, target: y) }
            }
        }
        var logs = metricResults()
        logs["loss"] = seen == 0 ? .nan : lossSum / Double(seen)
        return logs
    }

    /// The model's outputs for inputs `[N, ...]`, computed in batches in evaluation mode.
    public func predict(_ x: Tensor, batchSize: Int = 256) -> Tensor {
        require(x.rank >= 1, "Trainer.predict: inputs \(x.shape) need a first (sample) axis")
        require(batchSize > 0, "Trainer.predict: batchSize must be positive, got \(batchSize)")
        let n = x.shape[0]
        return predictBatches((0..<((n + batchSize - 1) / batchSize)).lazy.map { b in
            Batching.gatherRows(x, Array((b * batchSize)..<Swift.min(n, (b + 1) * batchSize)))
        })
    }

    /// The model's outputs for every input of `dataset` (targets are ignored).
    public func predict(_ dataset: any Dataset, batchSize: Int = 256) -> Tensor {
        require(batchSize > 0, "Trainer.predict: batchSize must be positive, got \(batchSize)")
        return predictBatches(DataLoader(dataset, batchSize: batchSize, shuffle: false, seed: 0, prefetch: 1).lazy.map(\.input))
    }

    func predictBatches(_ inputs: some Sequence<Tensor>) -> Tensor {
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        let outputs = withoutGradients { inputs.map { model($0).detached() } }
        return outputs.count == 1 ? outputs[0] : Tensor.concat(outputs, axis: 0)
    }

    // MARK: Checkpoints

    /// Reads what `Checkpoint.encodeConfiguration` writes (non-finite numbers as "nan", "inf", "-inf").
    static var jsonDecoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    static func callbackKey(_ index: Int, _ cb: any Callback) -> String { "callback.\(index).\(type(of: cb))" }

    /// The full training state, as `fit` writes it after each epoch.
    public func checkpoint(callbacks: [any Callback] = []) throws -> Checkpoint {
        let opt = optimizer.stateDict()
        var extra = checkpointMetadata
        extra["history"] = try Checkpoint.encodeConfiguration(history)
        for (i, cb) in callbacks.enumerated() {
            if let r = cb as? any ResumableCallback { extra[Self.callbackKey(i, cb)] = try Checkpoint.encodeConfiguration(r.callbackState()) }
        }
        return Checkpoint(
            model: model, optimizer: CheckpointPart(tensors: opt.tensors, scalars: opt.scalars),
            scheduler: CheckpointPart(scalars: schedule?.stateDict() ?? [:]), epoch: epoch, globalStep: globalStep,
            rngState: randomGenerators.flatMap { Self.encode($0.state) },
            configuration: try configuration.map { try Checkpoint.encodeConfiguration($0) } ?? "{}", extra: extra)
    }

    func saveCheckpoint(to url: URL, callbacks: [any Callback]) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try checkpoint(callbacks: callbacks).save(to: url)
    }

    static func loadCheckpoint(_ url: URL) throws -> (checkpoint: Checkpoint, path: String) {
        var isDirectory: ObjCBool = false
        var file = url
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = url.appendingPathComponent("last.safetensors")
        }
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw TrainingError.resumeMismatch(path: file.path, reason: "no such file")
        }
        return (try Checkpoint.load(from: file), file.path)
    }

    static func configuration(of checkpoint: Checkpoint, path: String) throws -> TrainingConfiguration {
        do { return try checkpoint.configuration(as: TrainingConfiguration.self) } catch {
            throw TrainingError.resumeMismatch(path: path, reason: "its configuration is not a Trainer's (\(error))")
        }
    }

    func check(_ saved: TrainingConfiguration, against now: TrainingConfiguration, path: String) throws {
        func differ(_ what: String, _ a: Any, _ b: Any) -> TrainingError {
            .resumeMismatch(path: path, reason: "the checkpoint was trained with \(what) \(a), this run has \(b)")
        }
        if saved.model != now.model || saved.parameterCount != now.parameterCount {
            throw differ("model", "\(saved.model) (\(saved.parameterCount) parameters)", "\(now.model) (\(now.parameterCount) parameters)")
        }
        if saved.optimizer != now.optimizer { throw differ("optimizer", saved.optimizer, now.optimizer) }
        if saved.schedule != now.schedule { throw differ("schedule", saved.schedule ?? "none", now.schedule ?? "none") }
        if saved.trainSamples != now.trainSamples { throw differ("training samples:", saved.trainSamples, now.trainSamples) }
        if saved.batchSize != now.batchSize { throw differ("batch size", saved.batchSize, now.batchSize) }
        if saved.seed != now.seed || saved.shuffle != now.shuffle {
            throw differ("loader seed/shuffle", "\(saved.seed)/\(saved.shuffle)", "\(now.seed)/\(now.shuffle)")
        }
        if saved.clipGradNorm != now.clipGradNorm {
            throw differ("clipGradNorm", saved.clipGradNorm.map { "\($0)" } ?? "none", now.clipGradNorm.map { "\($0)" } ?? "none")
        }
    }

    func restore(_ c: Checkpoint, path: String) throws {
        let words = c.rngState
        guard words.count == 5 * randomGenerators.count else {
            throw TrainingError.resumeMismatch(path: path, reason: "it holds \(words.count / 5) random generator states, the trainer has \(randomGenerators.count)")
        }
        let states = try (0..<randomGenerators.count).map { i in
            guard let s = Self.decode(Array(words[(5 * i)..<(5 * i + 5)])) else {
                throw TrainingError.resumeMismatch(path: path, reason: "random generator state \(i) is malformed")
            }
            return s
        }
        try model.loadStateDict(c.model, strict: true)
        try optimizer.loadStateDict(OptimizerState(tensors: c.optimizer.tensors, scalars: c.optimizer.scalars))
        if let schedule { try schedule.loadStateDict(c.scheduler.scalars) }
        for (g, s) in zip(randomGenerators, states) { g.state = s }
        epoch = c.epoch
        globalStep = c.globalStep
        if let h = c.extra["history"] {
            history = try Self.jsonDecoder.decode(History.self, from: Data(h.utf8))
        }
    }

    /// A generator's state as five words: seed, offset, buffered count, then the buffered words in pairs.
    static func encode(_ s: RandomGenerator.State) -> [UInt64] {
        var b = s.buffered + Array(repeating: 0, count: 4 - s.buffered.count)
        b = Array(b.prefix(4))
        return [s.seed, s.offset, UInt64(s.buffered.count), UInt64(b[0]) | UInt64(b[1]) << 32, UInt64(b[2]) | UInt64(b[3]) << 32]
    }

    static func decode(_ w: [UInt64]) -> RandomGenerator.State? {
        guard w.count == 5, w[2] <= 4 else { return nil }
        let all = [UInt32(truncatingIfNeeded: w[3]), UInt32(truncatingIfNeeded: w[3] >> 32),
                   UInt32(truncatingIfNeeded: w[4]), UInt32(truncatingIfNeeded: w[4] >> 32)]
        return RandomGenerator.State(seed: w[0], offset: w[1], buffered: Array(all.prefix(Int(w[2]))))
    }
}
