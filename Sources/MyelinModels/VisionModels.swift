import MyelinCore
import MyelinNN

/// One named model of the vision zoo: how to build it, and the smallest image it takes.
public struct VisionModelEntry: Sendable {
    public let name: String
    /// One line for help texts.
    public let summary: String
    /// The smallest height and width the model accepts (its pooling must not empty the maps).
    public let minimumSize: Int
    /// The input [C, H, W] and classes the model was designed for, when not ImageNet's
    /// 3×224×224 and 1000 (YOLOv1: 3×448×448 and 20 classes), for `myelin summary`'s defaults.
    public let defaultInputShape: [Int]?
    public let defaultClasses: Int?
    let build: @Sendable (_ options: VisionModelOptions, _ generator: RandomGenerator) -> any UnaryLayer

    public init(_ name: String, _ summary: String, minimumSize: Int, defaultInputShape: [Int]? = nil, defaultClasses: Int? = nil,
                build: @escaping @Sendable (_ options: VisionModelOptions, _ generator: RandomGenerator) -> any UnaryLayer) {
        self.name = name
        self.summary = summary
        self.minimumSize = minimumSize
        self.defaultInputShape = defaultInputShape
        self.defaultClasses = defaultClasses
        self.build = build
    }
}

/// What every vision model takes: classes, input channels and whether the classifier is
/// kept (`includeTop: false` is a feature extractor, as Keras' `include_top=False`).
public struct VisionModelOptions: Sendable {
    public var classes: Int
    public var inputChannels: Int
    public var includeTop: Bool
    /// The input's height and width, for models whose parameters depend on it (the Vision
    /// Transformer's position embeddings); nil: the model's default.
    public var imageSize: IntPair?
    public init(classes: Int = 1000, inputChannels: Int = 3, includeTop: Bool = true, imageSize: IntPair? = nil) {
        self.classes = classes
        self.inputChannels = inputChannels
        self.includeTop = includeTop
        self.imageSize = imageSize
    }
}

/// The vision models of the zoo by name, for `myelin summary` and `myelin train`:
///
///     let net = try VisionModels.make("resnet50", classes: 10, inputShape: [3, 64, 64])
///
/// Each family adds its entries in its own file (`static let resNetEntries`, ...).
public enum VisionModels {
    public static let catalogue: [VisionModelEntry] = alexNetEntries + vggEntries + resNetEntries + googLeNetEntries
        + denseNetEntries + mobileNetV2Entries + smallImageEntries + uNetEntries + yoloEntries + vitEntries

    public static var names: [String] { catalogue.map(\.name) }

    /// The canonical name: lower case, "_" → "-", hyphens optional ("resnet-50" → "resnet50",
    /// "mobilenetv2" → "mobilenet-v2"); nil when unknown.
    public static func canonicalName(_ name: String) -> String? {
        var n = name.lowercased().replacingOccurrences(of: "_", with: "-")
        if n.hasPrefix("resnet-") { n = "resnet" + n.dropFirst(7) }
        if names.contains(n) { return n }
        // Hyphens are optional: "mobilenetv2", "densenet-121".
        let bare = n.replacingOccurrences(of: "-", with: "")
        return names.first { $0.replacingOccurrences(of: "-", with: "") == bare }
    }

    public static func entry(_ name: String) -> VisionModelEntry? {
        guard let n = canonicalName(name) else { return nil }
        return catalogue.first { $0.name == n }
    }

    /// Builds `name` for images of `inputShape` ([C, H, W]; its C becomes the input
    /// channels), or throws `ModelZooError` for an unknown name or an input too small.
    public static func make(_ name: String, classes: Int = 1000, inputShape: [Int] = [3, 224, 224], includeTop: Bool = true,
                            generator: RandomGenerator = .default) throws -> any UnaryLayer {
        guard let entry = entry(name) else {
            throw ModelZooError("unknown model \"\(name)\" (models: \(names.joined(separator: ", ")))")
        }
        guard classes >= 1 else { throw ModelZooError("\(entry.name): classes must be positive, got \(classes)") }
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelZooError("\(entry.name) takes images [C, H, W], not shape \(inputShape)")
        }
        guard inputShape[1] >= entry.minimumSize && inputShape[2] >= entry.minimumSize else {
            throw ModelZooError("\(entry.name) needs images of at least \(entry.minimumSize)×\(entry.minimumSize), "
                                + "got \(inputShape[1])×\(inputShape[2])")
        }
        let options = VisionModelOptions(classes: classes, inputChannels: inputShape[0], includeTop: includeTop,
                                         imageSize: IntPair(inputShape[1], inputShape[2]))
        return entry.build(options, generator)
    }
}

extension VisionModels {
    static let alexNetEntries: [VisionModelEntry] = [
        VisionModelEntry("alexnet", "AlexNet, torchvision's variant (64 first-layer filters, 61.1 M parameters)", minimumSize: 63) { o, g in
            AlexNet(classes: o.classes, variant: .torchvision, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
        },
        VisionModelEntry("alexnet-original", "AlexNet as in the paper (96 first-layer filters, 55×55×96)", minimumSize: 63) { o, g in
            AlexNet(classes: o.classes, variant: .original, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
        },
        VisionModelEntry("alexnet-original-lrn", "AlexNet as in the paper, with local response normalisation", minimumSize: 63) { o, g in
            AlexNet(classes: o.classes, variant: .original, lrn: true, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
        },
    ]

    static let vggEntries: [VisionModelEntry] = {
        var out: [VisionModelEntry] = []
        for cfg in VGG.Configuration.allCases {
            for bn in [false, true] {
                out.append(VisionModelEntry("vgg-\(cfg.rawValue.lowercased())" + (bn ? "-bn" : ""),
                                            "VGG configuration \(cfg.rawValue) (\(cfg.depth) weight layers)" + (bn ? " with batch norm" : ""),
                                            minimumSize: 32) { o, g in
                    VGG(cfg, batchNorm: bn, classes: o.classes, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
                })
            }
        }
        for (depth, cfg) in [(11, VGG.Configuration.a), (13, .b), (16, .d), (19, .e)] {
            for bn in [false, true] {
                out.append(VisionModelEntry("vgg\(depth)" + (bn ? "-bn" : ""), "VGG-\(depth)" + (bn ? " with batch norm" : "")
                                            + " (configuration \(cfg.rawValue))", minimumSize: 32) { o, g in
                    VGG(cfg, batchNorm: bn, classes: o.classes, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
                })
            }
        }
        return out
    }()

    static let resNetEntries: [VisionModelEntry] = {
        var out: [VisionModelEntry] = []
        for depth in [18, 34, 50, 101, 152] {
            out.append(VisionModelEntry("resnet\(depth)", "ResNet-\(depth), torchvision's v1.5", minimumSize: 1) { o, g in
                ResNet(depth: depth, classes: o.classes, includeTop: o.includeTop, variant: .v1_5, inputChannels: o.inputChannels, generator: g)
            })
        }
        for depth in [18, 34] {
            out.append(VisionModelEntry("resnet\(depth)-cifar", "ResNet-\(depth) with a 3×3 stride-1 stem and no max-pool, for 32×32 images",
                                        minimumSize: 1) { o, g in
                ResNet(depth: depth, classes: o.classes, includeTop: o.includeTop, inputChannels: o.inputChannels, stem: .cifar, generator: g)
            })
        }
        for depth in [50, 101, 152] {
            out.append(VisionModelEntry("resnet\(depth)-v1", "ResNet-\(depth) as in the paper (stride in the first 1×1)", minimumSize: 1) { o, g in
                ResNet(depth: depth, classes: o.classes, includeTop: o.includeTop, variant: .v1, inputChannels: o.inputChannels, generator: g)
            })
        }
        return out
    }()
}
