import ArgumentParser
import Foundation
import Myelin

/// `myelin visualize filters|features`: what a network learned, as PNG grids.
struct VisualizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "visualize",
        abstract: "Draw a layer's filters or a layer's feature maps for an image, as a PNG grid.",
        subcommands: [Filters.self, Features.self])

    struct Filters: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw the filters of a convolution weight [out, in, kh, kw] from any safetensors file.",
            discussion: """
                One tile per filter: colour when the layer takes 3 channels, gray for 1; for more \
                channels a row of gray tiles per filter, one per input channel (--channels mean: \
                their average). Example: myelin visualize filters resnet18.safetensors --layer conv1.weight conv1.png
                """)

        @Argument(help: "A safetensors file (weights written by `myelin train`, or converted from PyTorch).") var weights: String
        @Option(help: "The weight tensor's name, such as conv1.weight (the 4-D tensors are listed when it is missing).") var layer: String
        @Argument(help: "The PNG file to write.") var output: String
        @Option(help: "How multi-channel filters are drawn: auto, rgb, mean, separate.") var channels: String = "auto"
        @Option(help: "perTile (each filter stretched to black...white) or global (one range for all).") var normalization: String = "perTile"
        @Option(help: "Pixels per weight (nearest neighbour).") var scale: Int = 8
        @Option(help: "Tiles per row (default: about the square root of the count).") var columns: Int?
        @Option(help: "Pixels between tiles.") var padding: Int = 2

        func run() throws {
            guard let mode = Visualize.FilterChannels(rawValue: channels) else {
                throw CLIError("--channels must be one of \(Visualize.FilterChannels.allCases.map(\.rawValue).joined(separator: ", ")), not \(channels)")
            }
            let norm = try parseNormalization(normalization)
            guard scale > 0, padding >= 0, (columns ?? 1) > 0 else { throw CLIError("--scale and --columns must be positive, --padding non-negative") }
            guard FileManager.default.fileExists(atPath: weights) else { throw CLIError("\(weights): no such file") }
            let (tensors, _) = try SafeTensors.read(contentsOf: URL(fileURLWithPath: weights))
            let fourD = tensors.filter { $0.value.rank == 4 }.keys.sorted()
            guard let w = tensors[layer] else {
                throw CLIError("\(weights) holds no tensor \"\(layer)\"; its 4-D (convolution) tensors are: \(fourD.isEmpty ? "none" : fourD.joined(separator: ", "))")
            }
            guard w.rank == 4, w.dtype.isFloatingPoint else {
                throw CLIError("\"\(layer)\" has shape \(w.shape) (\(w.dtype)), not a float convolution weight [out, in, kh, kw]; the 4-D tensors are: \(fourD.joined(separator: ", "))")
            }
            if mode == .rgb && w.shape[1] != 3 { throw CLIError("--channels rgb needs 3 input channels; \"\(layer)\" has \(w.shape[1])") }
            let grid = Visualize.filterGrid(w, channels: mode, normalization: norm, columns: columns, scale: scale, padding: padding)
            try Visualize.write(grid, to: URL(fileURLWithPath: output))
            print("\(layer) \(w.shape) → \(output) (\(grid.shape[1])×\(grid.shape[0]))")
        }
    }

    struct Features: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw the feature maps of one layer of a model for an input image.",
            discussion: """
                The image is converted and resized to the model's input. Layers are named as in the \
                state dict without the parameter (conv1, features.3, layer2.1); a layer the model \
                calls directly rather than through a Sequential cannot be observed, and the error \
                lists those that can. Example: myelin visualize features --model lenet5 \
                --weights best.safetensors --layer conv1 --image digit.png conv1.png
                """)

        @Option(help: "The model (lenet5, digits-cnn, resnet18, vgg11, ...); taken from the weights file when it carries a Myelin configuration.") var model: String?
        @Option(help: "Weights (safetensors); without them the model's initial random weights are shown.") var weights: String?
        @Option(help: "The layer whose output to draw.") var layer: String
        @Option(help: "The input image (PNG or JPEG).") var image: String
        @Argument(help: "The PNG file to write.") var output: String
        @Option(help: ArgumentHelp("The model's input shape CxHxW (default 1x28x28 for the small models, 3x224x224 otherwise).", valueName: "shape")) var input: String?
        @Option(help: "Number of classes the weights were trained for (default 10 for the small models, 1000 otherwise).") var classes: Int?
        @Option(help: "Draw only the first N maps.") var maxMaps: Int?
        @Option(help: "perTile or global.") var normalization: String = "perTile"
        @Option(help: "Pixels per activation (default: enough for about 64-pixel tiles).") var scale: Int?
        @Flag(help: "Invert the image (white digits on black, as MNIST) before the model.") var invert = false
        @Flag(help: "Scale the input with ImageNet's mean and std (for torchvision-trained weights).") var imagenetNormalize = false

        func run() throws {
            let norm = try parseNormalization(normalization)
            var state: [String: Tensor]?
            var configured: ModelSpec?
            if let weights {
                guard FileManager.default.fileExists(atPath: weights) else { throw CLIError("--weights \(weights): no such file") }
                let (tensors, meta) = try SafeTensors.read(contentsOf: URL(fileURLWithPath: weights))
                state = tensors
                configured = try meta[RunConfiguration.metadataKey].map { try RunConfiguration.from(json: $0).model }
            }
            let net: any UnaryLayer
            let shape: [Int]
            if let configured {
                net = try ModelZoo.make(configured)
                shape = configured.inputShape
            } else {
                guard let model else { throw CLIError("name the model with --model (the weights carry no Myelin configuration)") }
                if let small = ModelZoo.canonicalName(model) {
                    shape = try input.map(Summary.parseShape) ?? (small == "digits-cnn" ? [1, 8, 8] : [1, 28, 28])
                    net = try ModelZoo.make(ModelSpec(name: small, inputShape: shape, classes: classes ?? 10))
                } else if VisionModels.entry(model) != nil {
                    shape = try input.map(Summary.parseShape) ?? [3, 224, 224]
                    do { net = try VisionModels.make(model, classes: classes ?? 1000, inputShape: shape, includeTop: true) } catch let e as ModelZooError {
                        throw CLIError(e.description)
                    }
                } else {
                    throw CLIError("unknown model \"\(model)\" (models: \((ModelZoo.names + VisionModels.names).joined(separator: ", ")))")
                }
            }
            guard shape.count == 3 else { throw CLIError("the model takes rows of \(shape) features, not images") }
            if let state {
                do { try net.loadStateDict(state) } catch let report as StateDictReport {
                    throw CLIError("\(weights ?? "") does not fit the model: " + report.description.replacingOccurrences(of: "\n  ", with: "; "))
                }
            }
            net.eval()
            let names = net.namedModules().map(\.0).filter { !$0.isEmpty }
            guard names.contains(layer) else {
                throw CLIError("the model has no layer \"\(layer)\"; its layers are: \(names.joined(separator: ", "))")
            }
            var img = try ImageFile.read(contentsOf: URL(fileURLWithPath: image))
            img = ImageFile.resized(ImageFile.converted(img, channels: shape[0]), height: shape[1], width: shape[2])
            if invert { img = 1 - img }
            if imagenetNormalize { img = Normalize.imageNet(img) }
            let x = img.unsqueezed(axis: 0)
            let (_, features) = withoutGradients { FeatureExtractor(net, layers: [layer])(x) }
            guard let maps = features[layer] else {
                let seen = FeatureExtractor.observableLayers(net, input: x)
                throw CLIError("\"\(layer)\" is called directly by its parent, so its output cannot be observed; layers that can: \(seen.joined(separator: ", "))")
            }
            guard maps.rank == 4 else {
                throw CLIError("\"\(layer)\" outputs \(maps.shape), not feature maps [1, C, H, W]; choose a convolutional layer")
            }
            let s = scale ?? Swift.max(1, 64 / Swift.max(maps.shape[2], maps.shape[3]))
            let grid = Visualize.featureGrid(maps, normalization: norm, maxMaps: maxMaps, scale: s)
            try Visualize.write(grid, to: URL(fileURLWithPath: output))
            print("\(layer): \(maps.shape[1]) maps of \(maps.shape[2])×\(maps.shape[3]) → \(output) (\(grid.shape[1])×\(grid.shape[0]))")
        }
    }
}

private func parseNormalization(_ s: String) throws -> Visualize.Normalization {
    guard let n = Visualize.Normalization(rawValue: s) ?? Visualize.Normalization.allCases.first(where: { $0.rawValue.lowercased() == s.lowercased() || (s.lowercased() == "per-tile" && $0 == .perTile) }) else {
        throw CLIError("--normalization must be perTile or global, not \(s)")
    }
    return n
}
