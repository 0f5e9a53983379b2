import ArgumentParser
import Foundation
import Myelin

/// `myelin summary MODEL [--input 3x224x224] [--classes N]`: the layer table and totals.
struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's layers with output shapes, parameters and multiply-accumulates, and the totals.",
        discussion: "Models: \((VisionModels.names + ModelZoo.names).joined(separator: ", ")).")

    @Argument(help: "The model (resnet50, resnet50-v1, vgg16, vgg16-bn, vgg-c, alexnet, alexnet-original, lenet5, ...).")
    var model: String
    @Option(help: ArgumentHelp("One sample's shape, CxHxW (default 3x224x224; 3x448x448 for yolov1, 1x572x572 for unet-paper, 1x28x28 for lenet5, 1x8x8 for digits-cnn).", valueName: "shape"))
    var input: String?
    @Option(help: "Number of classes (default 1000; 20 for yolov1, 2 for the U-Nets, 10 for the small models).") var classes: Int?
    @Option(help: "Batch size of the traced input.") var batchSize: Int = 1
    @Option(help: "Show nesting down to this depth (0: the model's direct children).") var depth: Int?
    @Flag(help: "Leave out the classifier (feature extractor, as Keras' include_top=False).") var noTop = false

    func validate() throws {
        if let classes, classes < 1 { throw ValidationError("--classes must be positive, got \(classes)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        if let depth, depth < 0 { throw ValidationError("--depth must be ≥ 0, got \(depth)") }
        if let input { _ = try Self.parseShape(input) }
    }

    static func parseShape(_ s: String) throws -> [Int] {
        let parts = s.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--input must be sizes joined by x, such as 3x224x224, not \(s)")
        }
        return parts.compactMap { $0 }
    }

    func run() throws {
        let net: any UnaryLayer
        let shape: [Int]
        if VisionModels.entry(model) == nil, let small = ModelZoo.canonicalName(model) {
            guard !noTop else { throw CLIError("--no-top applies to the ImageNet models (\(VisionModels.names.joined(separator: ", ")))") }
            let defaults: [String: [Int]] = ["digits-cnn": [1, 8, 8], "logreg": [784], "mlp": [784]]
            shape = try input.map(Self.parseShape) ?? defaults[small] ?? [1, 28, 28]
            net = try ModelZoo.make(ModelSpec(name: small, inputShape: shape, classes: classes ?? 10))
        } else {
            guard let entry = VisionModels.entry(model) else {
                throw CLIError("unknown model \"\(model)\" (models: \((VisionModels.names + ModelZoo.names).joined(separator: ", ")))")
            }
            shape = try input.map(Self.parseShape) ?? entry.defaultInputShape ?? [3, 224, 224]
            do {
                net = try VisionModels.make(model, classes: classes ?? entry.defaultClasses ?? 1000, inputShape: shape, includeTop: !noTop)
            } catch let e as ModelZooError {
                throw CLIError(e.description)
            }
        }
        net.eval()  // the inference pass, as papers count it (GoogLeNet's auxiliary classifiers run only in training)
        let summary = ModelSummary(net, inputShape: shape, batchSize: batchSize)
        print(summary.table(maxDepth: depth ?? .max))
    }
}
