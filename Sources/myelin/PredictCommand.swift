import ArgumentParser
import Foundation
import Myelin

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify an image (PNG/JPEG) or the rows of a CSV file with a trained model; prints the class and top-3 probabilities.")

    @Argument(help: ArgumentHelp("[MODEL] INPUT: the model (optional when the weights carry their configuration), then an image file (.png, .jpg) or a CSV file with a header.", valueName: "model-and-input"))
    var arguments: [String] = []

    var model: String? { arguments.count == 2 ? arguments[0] : nil }
    var input: String { arguments.last ?? "" }
    @Option(help: "A weights file written by `myelin train` (best.safetensors).") var weights: String?
    @Option(help: "A checkpoint written by `myelin train` (last.safetensors).") var checkpoint: String?
    @Option(help: "Image resizing: nearest or bilinear.") var resize: String = "bilinear"
    @Flag(help: "Invert gray levels (for dark digits on a light background; MNIST is light on dark).") var invert = false
    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        guard (1...2).contains(arguments.count) else {
            throw ValidationError("expected [MODEL] INPUT (an image or CSV file), got \(arguments.count) argument(s)")
        }
        guard (checkpoint == nil) != (weights == nil) else { throw ValidationError("give exactly one of --weights FILE and --checkpoint FILE") }
        guard ImageFile.Interpolation(rawValue: resize) != nil else { throw ValidationError("--resize must be nearest or bilinear, not \(resize)") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: input) else { throw CLIError("\(input): no such file") }
        let (net, config, _) = try loadModel(checkpoint: checkpoint, weights: weights, modelName: model, options: modelOptions) {
            throw CLIError("\(weights ?? checkpoint ?? "") carries no Myelin configuration (write it with `myelin train`)")
        }
        guard let config else { throw CLIError("the model file carries no configuration") }
        let shape = config.model.inputShape
        let url = URL(fileURLWithPath: input)
        let x: Tensor, labels: [String]
        if input.lowercased().hasSuffix(".csv") {
            guard let pre = config.csv else {
                throw CLIError("\(config.model.name) was trained on images [\(shape.map(String.init).joined(separator: ", "))], not on CSV rows")
            }
            let table = try CSVTable(contentsOf: url)
            x = try pre.encodeFeatures(table)
            labels = table.lineNumbers.map { "line \($0)" }
        } else {
            guard shape.count == 3 else {
                throw CLIError("\(config.model.name) was trained on table rows of \(shape[0]) features, not on images; give a CSV file")
            }
            var img = try ImageFile.read(contentsOf: url)
            let original = img.shape
            img = ImageFile.converted(img, channels: shape[0])
            img = ImageFile.resized(img, height: shape[1], width: shape[2], interpolation: ImageFile.Interpolation(rawValue: resize) ?? .bilinear)
            if invert { img = 1 - img }
            print("\(input): \(original[2])×\(original[1]), \(original[0]) channel(s) → \(shape[1])×\(shape[2]), \(shape[0]) channel(s)")
            x = img.unsqueezed(axis: 0)
            labels = []
        }
        let probs = withoutGradients { classProbabilities(logits: net(x)) }
        let k = probs.shape[1], p = probs.scalars(as: Float.self)
        let names = config.classNames.count == k ? config.classNames : (0..<k).map(String.init)
        for r in 0..<probs.shape[0] {
            let row = Array(p[(r * k)..<((r + 1) * k)])
            let top = row.indices.sorted { row[$0] > row[$1] }.prefix(3)
            let best = top.first ?? 0
            let list = top.map { "\(names[$0]) " + String(format: "%.1f%%", 100 * row[$0]) }.joined(separator: ", ")
            let prefix = labels.isEmpty ? "" : "\(labels[r]): "
            print("\(prefix)class \(names[best])   (top 3: \(list))")
        }
    }
}
