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
        config = try RunConfiguration.from(json: ckpt.configuration)
    } else {
        let (tensors, meta) = try SafeTensors.read(contentsOf: url)
        state = tensors
        config = try meta[RunConfiguration.metadataKey].map { try RunConfiguration.from(json: $0) }
    }
    if let modelName {
        guard let canonical = ModelZoo.canonicalName(modelName) else {
            throw CLIError("unknown model \"\(modelName)\" (models: \(ModelZoo.names.joined(separator: ", ")))")
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
            throw CLIError("\(path) carries no Myelin configuration; name the model (one of \(ModelZoo.names.joined(separator: ", ")))")
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
    @Option(help: "A checkpoint written by `myelin train` (last.ckpt).") var checkpoint: String?
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
            let d = try DataSources.load(choice, dataDir: data, csvPreprocessing: cfg?.csv)
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
