import ArgumentParser
import Foundation
import Myelin

/// Everything a run was made with, saved in checkpoints and weights files (JSON), so
/// `evaluate`, `predict` and `--resume` rebuild the same model and data encoding.
struct RunConfiguration: Codable {
    var model: ModelSpec
    var dataset: String
    var classNames: [String]
    var csv: CSVPreprocessing?
    var epochs: Int
    var batchSize: Int
    var optimizer: String
    var learningRate: Double
    var momentum: Double
    var weightDecay: Double
    var schedule: String
    var seed: UInt64
    var validationFraction: Double
    /// Images resized to [H, W] before training (`--resize`); evaluate and predict do the same.
    var resize: [Int]? = nil
    /// Only this many training samples were used (`--train-limit`).
    var trainLimit: Int? = nil
    /// The weights the run started from (`--init-from`), for the record.
    var initFrom: String? = nil

    static let metadataKey = "myelin.configuration"

    func json() throws -> String { try Checkpoint.encodeConfiguration(self) }
    static func from(json: String) throws -> RunConfiguration {
        try JSONDecoder().decode(RunConfiguration.self, from: Data(json.utf8))
    }

    /// The configuration in a checkpoint of `myelin train` (in its extra entries; the
    /// checkpoint's own configuration is the Trainer's).
    static func from(checkpoint: Checkpoint, path: String) throws -> RunConfiguration {
        guard let json = checkpoint.extra[metadataKey] else {
            throw CLIError("\(path) was not written by `myelin train` (it carries no \(metadataKey))")
        }
        return try from(json: json)
    }

    /// The configuration saved in a weights file's metadata, if any.
    static func from(weights url: URL) throws -> RunConfiguration? {
        let (_, meta) = try SafeTensors.read(contentsOf: url)
        return try meta[metadataKey].map { try from(json: $0) }
    }
}

enum OptimizerChoice: String, ExpressibleByArgument, CaseIterable { case sgd, adam, adamw, rmsprop }
enum ScheduleChoice: String, ExpressibleByArgument, CaseIterable { case none, step, cosine, onecycle, plateau }

/// Options shared by the model-building commands.
struct ModelOptions: ParsableArguments {
    @Option(help: "MLP hidden widths, comma-separated.")
    var hidden: String = "128,64"
    @Option(help: "MLP activation: \(ActivationKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var activation: String = "relu"
    @Option(help: "Dropout probability (default: the model's own: MLP 0, digits-cnn 0.25).")
    var dropout: Double?

    func spec(name: String, inputShape: [Int], classes: Int) throws -> ModelSpec {
        let widths = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths.isEmpty, widths.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw CLIError("--hidden \(hidden): expected positive widths separated by commas, e.g. 128,64")
        }
        guard let act = ActivationKind(rawValue: activation) else {
            throw CLIError("--activation \(activation): expected one of \(ActivationKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return ModelSpec(name: name, inputShape: inputShape, classes: classes, hidden: widths.compactMap { $0 },
                         activation: act, dropout: dropout)
    }
}

/// Builds the model and checks it on one real batch before any training (a dry run), so
/// a shape that does not fit fails at once with one line naming the shapes.
func buildAndCheckModel(_ spec: ModelSpec, data: LoadedData) throws -> any UnaryLayer {
    let model = try ModelZoo.make(spec)
    let n = Swift.min(2, data.train.count)
    guard n > 0 else { throw CLIError("\(data.name): the training data is empty") }
    let sample = data.train.batch(Array(0..<n))
    guard Array(sample.input.shape.dropFirst()) == spec.inputShape else {
        throw CLIError("\(spec.name) was built for samples of shape \(spec.inputShape), but \(data.name) has \(Array(sample.input.shape.dropFirst()))")
    }
    model.eval()
    let out = withoutGradients { model(sample.input) }
    model.train()
    let expected = spec.classes == 2 && ModelZoo.canonicalName(spec.name) == "logreg" ? 1 : spec.classes
    guard out.shape == [n, expected] else {
        throw CLIError("\(spec.name): a dry run on \(sample.input.shape) gave output \(out.shape), expected [\(n), \(expected)] for \(spec.classes) classes")
    }
    return model
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model of the zoo on a data set.",
        discussion: "Models: " + ModelZoo.catalogue.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")
            + "; and the vision zoo: " + VisionModels.names.joined(separator: ", ")
            + ". Transfer learning: --init-from W.safetensors --new-head --freeze-backbone trains a new head on a pretrained"
            + " backbone; a second run --init-from that run's best.safetensors with a smaller --lr fine-tunes everything."
            + " Writes last.safetensors (a resumable checkpoint), best.safetensors, curves.png/.svg and history.csv into --output.")

    @Argument(help: "The model: \(ModelZoo.allNames.joined(separator: ", ")), charlm (with --text), or seqclass (with --plays, --classes).")
    var model: String

    @Option(help: "mnist, digits (embedded 8×8), cifar10, cifar100, folder:PATH, or csv:PATH[:TARGET] (target: last column by default).")
    var dataset: DatasetChoice?

    @OptionGroup(title: "charlm (the character-level language model: LSTM or Transformer)") var charLM: CharLMOptions
    @OptionGroup(title: "seqclass (speeches of the plays classified by genre or play)") var seqClass: SeqClassOptions

    @Option(help: "Folder holding the data (mnist: its files or a mnist/ folder; default: MYELIN_DATA, ../shared/data).")
    var data: String?

    @Option(help: "Epochs.") var epochs: Int = 10
    @Option(help: "Mini-batch size.") var batchSize: Int = 64
    @Option(help: "sgd, adam, adamw or rmsprop.") var optimizer: OptimizerChoice = .adam
    @Option(help: "Learning rate (default: 1e-3 for adam/adamw/rmsprop, 0.05 for sgd).") var lr: Double?
    @Option(help: "Momentum (sgd, rmsprop).") var momentum: Double = 0.9
    @Option(help: "Weight decay.") var weightDecay: Double = 0
    @Option(help: "none, step (÷10 every third of the epochs), cosine, onecycle, plateau.") var schedule: ScheduleChoice = .none
    @Option(help: "Random seed (initial weights, shuffling, dropout).") var seed: UInt64 = 0
    @Option(help: "Fraction of the training data held out for validation; 0 validates on the test split.")
    var validationFraction: Double = 0.1
    @Option(help: "Output folder.") var output: String = "runs/train"
    @Option(help: "Continue from a checkpoint (last.safetensors, or its folder) of an earlier run.") var resume: String?
    @Option(help: "Threads (default: MYELIN_NUM_THREADS or all cores).") var threads: Int?
    @Option(help: ArgumentHelp("Resize images to HxW (bilinear), e.g. 28x28 to feed the 8×8 digits to an MNIST model.", valueName: "HxW"))
    var resize: String?
    @Option(help: "Train on only this many samples of the training split (a seeded random choice).") var trainLimit: Int?
    @Option(help: "Start from these weights (a safetensors state dict, e.g. another run's best.safetensors), loaded by name.")
    var initFrom: String?
    @Flag(help: "With --init-from: leave out the pretrained head (the model's last layer with parameters) and start a new one.")
    var newHead = false
    @Flag(help: "Train only the head: every other layer is frozen (no updates, batch norm statistics kept).")
    var freezeBackbone = false
    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        if let resize { _ = try parseSize(resize, option: "--resize") }
        if let trainLimit { guard trainLimit >= 1 else { throw ValidationError("--train-limit must be at least 1, not \(trainLimit)") } }
        if newHead && initFrom == nil { throw ValidationError("--new-head needs --init-from (the pretrained weights)") }
        if ["charlm", "seqclass"].contains(model.lowercased()) { return }
        guard dataset != nil else { throw ValidationError("--dataset is needed (mnist, digits, cifar10, folder:PATH, csv:PATH)") }
        guard ModelZoo.canonicalName(model) != nil else {
            throw ValidationError("unknown model \"\(model)\" (models: \(ModelZoo.allNames.joined(separator: ", ")))")
        }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, not \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, not \(batchSize)") }
        if let lr { guard lr > 0 && lr.isFinite else { throw ValidationError("--lr must be positive, not \(lr)") } }
        guard momentum >= 0 && momentum < 1 else { throw ValidationError("--momentum must be in [0, 1), not \(momentum)") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay must be non-negative, not \(weightDecay)") }
        guard validationFraction >= 0 && validationFraction < 1 else {
            throw ValidationError("--validation-fraction must be in [0, 1), not \(validationFraction)")
        }
        if let threads { guard threads >= 1 else { throw ValidationError("--threads must be at least 1, not \(threads)") } }
    }

    func run() throws {
        if let threads { Threading.threadCount = threads }
        if model.lowercased() == "charlm" {
            try charLM.train(batchSize: batchSize == 64 ? nil : batchSize, learningRate: lr, weightDecay: weightDecay,
                             dropout: modelOptions.dropout, seed: seed, output: output)
            return
        }
        if model.lowercased() == "seqclass" {
            try seqClass.train(epochs: epochs, batchSize: batchSize, learningRate: lr, clip: charLM.clip, seed: seed, output: output)
            return
        }
        guard let dataset else { throw CLIError("--dataset is needed") }
        let name = ModelZoo.canonicalName(model) ?? model
        let learningRate = lr ?? (optimizer == .sgd ? 0.05 : 1e-3)

        var resumeURL: URL?
        var csvPre: CSVPreprocessing?
        var size = try resize.map { try parseSize($0, option: "--resize") }
        var limit = trainLimit
        if let resume {
            var url = URL(fileURLWithPath: resume)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: resume, isDirectory: &isDirectory) else { throw CLIError("--resume \(resume): no such file") }
            if isDirectory.boolValue { url = url.appendingPathComponent("last.safetensors") }
            guard FileManager.default.fileExists(atPath: url.path) else { throw CLIError("--resume \(resume): no last.safetensors in it") }
            let ckpt = try Checkpoint.load(from: url)
            let cfg = try RunConfiguration.from(checkpoint: ckpt, path: url.path)
            guard ModelZoo.canonicalName(cfg.model.name) == name else {
                throw CLIError("--resume \(resume) holds a \(cfg.model.name), not a \(name)")
            }
            csvPre = cfg.csv
            // The data must be what the run started with.
            size = cfg.resize
            limit = cfg.trainLimit
            resumeURL = url
            print("resuming from \(url.path) after epoch \(ckpt.epoch) (step \(ckpt.globalStep))")
        }
        let data = try DataSources.load(dataset, dataDir: data, csvPreprocessing: csvPre, resize: size)
        manualSeed(seed)
        let spec = try modelOptions.spec(name: name, inputShape: data.sampleShape, classes: data.classes)
        let net = try buildAndCheckModel(spec, data: data)
        if let initFrom, resumeURL == nil { try initialize(net, from: initFrom) }
        if freezeBackbone {
            guard let head = net.headName else { throw CLIError("\(name) has no layer with parameters to keep training") }
            net.freeze(except: [head])
            print("froze everything but \(head): \(net.trainableParameterCount) of \(net.parameterCount) parameters train")
        }

        // Validation: a seeded split of the training data, or the test split.
        var trainPart: any Dataset
        let validation: any Dataset, valName: String
        if validationFraction > 0 {
            let (t, v) = trainValidationSplit(data.train, validationFraction: validationFraction, seed: seed &+ 1)
            (trainPart, validation, valName) = (t, v, "val")
        } else {
            (trainPart, validation, valName) = (data.train, data.test, "test")
        }
        if let limit, limit < trainPart.count {
            let order = RandomGenerator(seed: seed &+ 2).permutation(trainPart.count)
            trainPart = Subset(trainPart, indices: Array(order.prefix(limit)))
        }

        let params = net.trainableParameters()
        let opt: Optimizer = switch optimizer {
        case .sgd: SGD(params, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        case .adam: Adam(params, learningRate: learningRate, weightDecay: weightDecay)
        case .adamw: AdamW(params, learningRate: learningRate, weightDecay: weightDecay)
        case .rmsprop: RMSProp(params, learningRate: learningRate, weightDecay: weightDecay, momentum: momentum)
        }
        let stepsPerEpoch = (trainPart.count + batchSize - 1) / batchSize
        let sched: (any LearningRateSchedule)? = switch schedule {
        case .none: nil
        case .step: StepLR(opt, stepSize: Swift.max(1, epochs / 3), gamma: 0.1)
        case .cosine: CosineAnnealingLR(opt, tMax: epochs * stepsPerEpoch, interval: .batch)
        case .onecycle: OneCycleLR(opt, maxLearningRate: learningRate, totalSteps: epochs * stepsPerEpoch)
        case .plateau: ReduceLROnPlateau(opt, factor: 0.5, patience: 2)
        }

        let config = RunConfiguration(model: spec, dataset: dataset.description, classNames: data.classNames, csv: data.csv,
                                      epochs: epochs, batchSize: batchSize, optimizer: optimizer.rawValue, learningRate: learningRate,
                                      momentum: momentum, weightDecay: weightDecay, schedule: schedule.rawValue, seed: seed,
                                      validationFraction: validationFraction, resize: size, trainLimit: limit, initFrom: initFrom)
        let meta = [RunConfiguration.metadataKey: try config.json()]
        // One logit per sample (binary logreg): accuracy thresholds sigmoid(logit) at 0.5.
        let trainer = Trainer(model: net, loss: classifierLoss, optimizer: opt, schedule: sched,
                              metrics: [Accuracy(fromLogits: true)], scheduleMonitor: "val_loss")
        trainer.checkpointMetadata = meta

        let out = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        print("\(name): \(net.parameterCount) parameters; \(data.name): \(trainPart.count) train, \(validation.count) \(valName == "val" ? "validation" : "test (used for validation)"), \(data.test.count) test; \(optimizer.rawValue) lr \(learningRate), batch \(batchSize), \(Threading.threadCount) thread(s)")
        let bestURL = out.appendingPathComponent("best.safetensors")
        let lastURL = out.appendingPathComponent("last.safetensors")
        let best = ModelCheckpoint(bestURL, monitor: "val_accuracy", saveBestOnly: true, weightsOnly: true, metadata: meta)
        let callbacks: [any Callback] = [ProgressDisplay(mode: .perEpoch), best,
                                         CSVLogger(out.appendingPathComponent("history.csv"))]
        let t0 = Date()
        try trainer.fit(train: trainPart, validation: validation, epochs: epochs, batchSize: batchSize, shuffle: true, seed: seed,
                        callbacks: callbacks, checkpointDirectory: out, curvesDirectory: out, resumeFrom: resumeURL)
        let elapsed = Date().timeIntervalSince(t0)
        // Keep-the-best: evaluate the weights of the best validation epoch.
        if FileManager.default.fileExists(atPath: bestURL.path) { try loadWeights(into: net, from: bestURL) }
        let test = evaluateClassifier(net, on: data.test)
        print("best \(valName) accuracy " + String(format: "%.2f%%; test accuracy of the best model %.2f%% (loss %.4f) on %d samples; %.1f s",
                                                   100 * best.best, 100 * test.accuracy, test.loss, test.count, elapsed))
        if !trainer.history.epochs.isEmpty {
            print("wrote \(out.appendingPathComponent("curves.png").path) and \(out.appendingPathComponent("curves.svg").path)")
        }
        print("wrote \(bestURL.path), \(lastURL.path) and \(out.appendingPathComponent("history.csv").path)")
    }
}

extension Train {
    /// `--init-from`: loads the pretrained tensors by name; with `--new-head` the head is
    /// left out (new classes), otherwise every tensor must fit.
    func initialize(_ net: any UnaryLayer, from path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError("--init-from \(path): no such file") }
        let (state, _) = try SafeTensors.read(contentsOf: URL(fileURLWithPath: path))
        let head = newHead ? net.headName.map { [$0] } ?? [] : []
        do {
            let report = try net.loadPretrained(state, skipping: head)
            print("initialised \(report.loaded.count) tensors from \(path)" + (head.isEmpty ? "" : "; new head: \(head[0])"))
        } catch let report as StateDictReport {
            var hint = ""
            if !newHead, let h = net.headName, report.mismatched.contains(where: { $0.name.hasPrefix(h + ".") }) {
                hint = " (the head \(h) differs: add --new-head to start a new one)"
            }
            throw CLIError("--init-from \(path) does not fit \(model): " + report.description.replacingOccurrences(of: "\n  ", with: "; ")
                .replacingOccurrences(of: "state dict does not match the model:", with: "") + hint)
        }
    }
}

/// "28x28" → [28, 28].
func parseSize(_ s: String, option: String) throws -> [Int] {
    let parts = s.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
    guard parts.count == 2, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("\(option) must be HxW with positive sizes, such as 28x28, not \(s)")
    }
    return parts.compactMap { $0 }
}
