import ArgumentParser
import Foundation
import Myelin

/// Loads a model from `--checkpoint` or `--weights`, rebuilding it from the configuration
/// saved beside the weights; `modelName` (when given) must agree, and is needed only for
/// weights files without a configuration (then `data`'s shape and classes are used).
func loadModel(checkpoint: String?, weights: String?, modelName: String?, options: ModelOptions,
               data: () throws -> LoadedData) throws -> (any UnaryLayer, RunConfiguration?, LoadedData?) {
    guard (checkpoint == nil) != (weights == nil) else { throw CLIError("give exactly one of --checkpoint FILE and --weights FILE") }
    let path = checkpoint ?? weights ?? ""
    guard FileManager.default.fileExists(atPath: path) else { throw CLIError("\(checkpoint != nil ? "--checkpoint" : "--weights") \(path): no such file") }
    let url = URL(fileURLWithPath: path)
    var state: [String: Tensor]
    var config: RunConfiguration?
    if checkpoint != nil {
        let ckpt = try Checkpoint.load(from: url)
        state = ckpt.model
        config = try RunConfiguration.from(checkpoint: ckpt, path: path)
    } else {
        let (tensors, meta) = try SafeTensors.read(contentsOf: url)
        state = tensors
        config = try meta[RunConfiguration.metadataKey].map { try RunConfiguration.from(json: $0) }
    }
    if let modelName {
        guard let canonical = ModelZoo.canonicalName(modelName) else {
            throw CLIError("unknown model \"\(modelName)\" (models: \(ModelZoo.allNames.joined(separator: ", ")))")
        }
        if let config, ModelZoo.canonicalName(config.model.name) != canonical {
            throw CLIError("\(path) holds a \(config.model.name), not a \(canonical)")
        }
    }
    var loaded: LoadedData?
    let spec: ModelSpec
    if let config {
        spec = config.model
    } else {
        guard let modelName, let canonical = ModelZoo.canonicalName(modelName) else {
            throw CLIError("\(path) carries no Myelin configuration; name the model (one of \(ModelZoo.allNames.joined(separator: ", ")))")
        }
        let d = try data()
        loaded = d
        spec = try options.spec(name: canonical, inputShape: d.sampleShape, classes: d.classes)
    }
    let model = try ModelZoo.make(spec)
    // Strict: missing, unexpected or mis-shaped tensors are an error naming them.
    do { try model.loadStateDict(state) } catch let report as StateDictReport {
        throw CLIError("\(path) does not fit \(spec.name): " + report.description.replacingOccurrences(of: "\n  ", with: "; ")
            .replacingOccurrences(of: "state dict does not match the model:", with: ""))
    }
    model.eval()
    return (model, config, loaded)
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy, loss and confusion matrix of a trained model on a data set's test split.")

    @Argument(help: "The model (optional when the file carries its configuration).")
    var model: String?
    @Option(help: "A checkpoint written by `myelin train` (last.safetensors).") var checkpoint: String?
    @Option(help: "A weights file (best.safetensors, or a PyTorch state dict in safetensors).") var weights: String?
    @Option(help: "mnist, digits or csv:PATH[:TARGET] (default: the data set the model was trained on).") var dataset: DatasetChoice?
    @Option(help: "Folder holding the data.") var data: String?
    @Option(help: "Evaluate the training split instead of the test split.") var split: String = "test"
    @Option(help: "Threads.") var threads: Int?
    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        guard (checkpoint == nil) != (weights == nil) else { throw ValidationError("give exactly one of --checkpoint FILE and --weights FILE") }
        guard split == "test" || split == "train" else { throw ValidationError("--split must be test or train, not \(split)") }
    }

    func run() throws {
        if let threads { Threading.threadCount = threads }
        var dataCache: LoadedData?
        func loadData(_ cfg: RunConfiguration?) throws -> LoadedData {
            if let dataCache { return dataCache }
            let choice: DatasetChoice
            if let dataset { choice = dataset } else if let s = cfg?.dataset, let c = DatasetChoice(argument: s) { choice = c } else {
                throw CLIError("--dataset is needed (the model file does not say what it was trained on)")
            }
            let d = try DataSources.load(choice, dataDir: data, csvPreprocessing: cfg?.csv, resize: cfg?.resize)
            dataCache = d
            return d
        }
        let (net, config, early) = try loadModel(checkpoint: checkpoint, weights: weights, modelName: model, options: modelOptions) {
            try loadData(nil)
        }
        let d = try early ?? loadData(config)
        if let config, Array(d.sampleShape) != config.model.inputShape {
            throw CLIError("\(config.model.name) takes samples of shape \(config.model.inputShape), but \(d.name) has \(d.sampleShape)")
        }
        let set: any Dataset = split == "test" ? d.test : d.train
        let names = config?.classNames ?? d.classNames
        let ev = evaluateClassifier(net, on: set)
        print("\(config?.model.name ?? model ?? "model") on \(d.name), \(split) split: \(ev.count) samples")
        print(String(format: "accuracy %.2f%%  loss %.4f", 100 * ev.accuracy, ev.loss))
        let k = Swift.max(names.count, (ev.predictions.max() ?? 0) + 1)
        let m = ev.confusionMatrix(classes: k)
        let label = names.count == k ? names : (0..<k).map(String.init)
        let width = Swift.max(5, (m.flatMap { $0 }.max() ?? 0).description.count + 1, (label.map(\.count).max() ?? 1) + 1)
        func pad(_ s: String) -> String { String(repeating: " ", count: Swift.max(0, width - s.count)) + s }
        print("confusion matrix (rows: true class, columns: predicted):")
        print(pad("") + label.map(pad).joined())
        for (i, row) in m.enumerated() { print(pad(label[i]) + row.map { pad(String($0)) }.joined()) }
    }
}

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
        for batch in DataLoader(dataset, batchSize: batchSize, shuffle: false, seed: 0, prefetch: 0) {  // a seed: no draw from the default generator
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
