import MyelinCore
import MyelinNN

/// A VGG-style network for small images (MNIST's 28×28, CIFAR's 32×32): VGG's recipe of
/// stacked 3×3 convolutions with batch norm and ReLU, halved by 2×2 max-pooling, then a
/// small classifier. With the default widths [32, 64, 128], two convolutions per stage:
///
///     features    32@H×W → 32 → pool → 64@H/2 → 64 → pool → 128@H/4 → 128 → pool   (H/8)
///     avgpool     global average → 128
///     classifier  Linear(128, 256) → ReLU → Dropout(0.5) → Linear(256, classes)
///
/// 1×28×28, 10 classes: 323,914 parameters, 38.4 M MACs. Names follow torchvision's VGG
/// ("features.0.weight", "classifier.3.bias"). `includeTop: false` keeps `features` only.
public final class SmallVGG: Module, UnaryLayer, SummaryTraceable {
    public let features: Sequential
    public let avgpool: GlobalAvgPool2D?
    public let classifier: Sequential?
    public let classes: Int

    /// The smallest input side: each of the stages halves it.
    public static func minimumSize(stages: Int) -> Int { 1 << stages }

    public init(classes: Int = 10, inputChannels: Int = 1, widths: [Int] = [32, 64, 128], convolutionsPerStage: Int = 2,
                hidden: Int = 256, dropout: Double = 0.5, includeTop: Bool = true, generator: RandomGenerator = .default) {
        require(classes > 0 && inputChannels > 0 && hidden > 0, "SmallVGG: classes, inputChannels and hidden must be positive")
        require(!widths.isEmpty && widths.allSatisfy { $0 > 0 } && convolutionsPerStage > 0,
                "SmallVGG: widths must be positive and non-empty (got \(widths)), convolutionsPerStage positive")
        var layers: [any UnaryLayer] = []
        var c = inputChannels
        for width in widths {
            for _ in 0..<convolutionsPerStage {
                layers += [Conv2D(c, width, 3, padding: 1, bias: false, generator: generator), BatchNorm2D(width), ReLU()]
                c = width
            }
            layers.append(MaxPool2D(2))
        }
        features = Sequential(layers)
        if includeTop {
            avgpool = GlobalAvgPool2D()
            classifier = Sequential {
                Linear(c, hidden, generator: generator); ReLU(); Dropout(dropout, generator: generator)
                Linear(hidden, classes, generator: generator)
            }
        } else {
            avgpool = nil
            classifier = nil
        }
        self.classes = classes
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        classify(features.callWithHooks(input), pool: avgpool, classifier: classifier)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        t.traceHead(t.trace(features, name: "features", input: input), pool: avgpool, classifier: classifier, name: "classifier")
    }
}

/// The ResNets of the paper's CIFAR-10 experiments (He et al. 2015, section 4.2): a 3×3
/// convolution with 16 filters, three stages of n basic blocks at 16, 32 and 64 filters
/// (feature maps 32, 16, 8 on CIFAR), global average pooling and a linear classifier:
/// depth 6n + 2, so ResNet-20, -32, -44, -56 and -110.
///
/// The shortcut of a downsampling block is the paper's option A by default (identity on
/// every second pixel, zero-padded to the new width: no parameters), or option B (a 1×1
/// projection with batch norm, as the ImageNet ResNets). With option A and 10 classes on
/// 3×32×32, ResNet-20 has 269,722 parameters and ResNet-56 853,018 (the paper's 0.27 M and
/// 0.85 M). Names: "conv1", "bn1", "layer1.0.conv1", ..., "fc".
public final class CIFARResNet: Module, UnaryLayer, SummaryTraceable {
    public enum Shortcut: String, Sendable, CaseIterable {
        /// Identity on every second pixel, zero-padded channels.
        case a = "A"
        /// A strided 1×1 convolution with batch norm.
        case b = "B"
    }

    public let conv1: Conv2D
    public let bn1: BatchNorm2D
    public let layer1: Sequential, layer2: Sequential, layer3: Sequential
    public let avgpool: GlobalAvgPool2D?
    public let fc: Linear?
    public let depth: Int
    public let classes: Int

    /// `widths` are the three stages' filters (the paper's 16, 32, 64; wider for a wide ResNet).
    public init(depth: Int = 20, classes: Int = 10, inputChannels: Int = 3, widths: [Int] = [16, 32, 64], shortcut: Shortcut = .a,
                includeTop: Bool = true, generator: RandomGenerator = .default) {
        require(depth >= 8 && (depth - 2) % 6 == 0, "CIFARResNet: depth must be 6n + 2 (20, 32, 44, 56, 110, ...), got \(depth)")
        require(classes > 0 && inputChannels > 0, "CIFARResNet: classes and inputChannels must be positive")
        require(widths.count == 3 && widths.allSatisfy { $0 > 0 }, "CIFARResNet: widths must be three positive filter counts, got \(widths)")
        let n = (depth - 2) / 6
        conv1 = Conv2D(inputChannels, widths[0], 3, padding: 1, bias: false, generator: generator)
        bn1 = BatchNorm2D(widths[0])
        var inChannels = widths[0]
        func stage(_ planes: Int, stride: Int) -> Sequential {
            var blocks: [any UnaryLayer] = []
            for i in 0..<n {
                blocks.append(CIFARBasicBlock(inChannels, planes, stride: i == 0 ? stride : 1, shortcut: shortcut, generator: generator))
                inChannels = planes
            }
            return Sequential(blocks)
        }
        layer1 = stage(widths[0], stride: 1)
        layer2 = stage(widths[1], stride: 2)
        layer3 = stage(widths[2], stride: 2)
        avgpool = includeTop ? GlobalAvgPool2D() : nil
        fc = includeTop ? Linear(widths[2], classes, generator: generator) : nil
        self.depth = depth
        self.classes = classes
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        // Through callWithHooks, so forward hooks (feature maps) can observe each child.
        var x = bn1.callWithHooks(conv1.callWithHooks(input)).relu()
        x = layer3.callWithHooks(layer2.callWithHooks(layer1.callWithHooks(x)))
        return classify(x, pool: avgpool, classifier: fc)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        let s = t.traceChain([("conv1", conv1), ("bn1", bn1), ("layer1", layer1), ("layer2", layer2), ("layer3", layer3)], input: input)
        return t.traceHead(s, pool: avgpool, classifier: fc, name: "fc")
    }
}

/// CIFAR-ResNet's block: 3×3 → BN → ReLU → 3×3 → BN, plus the shortcut, → ReLU.
public final class CIFARBasicBlock: Module, UnaryLayer, SummaryTraceable {
    public let conv1: Conv2D, bn1: BatchNorm2D
    public let conv2: Conv2D, bn2: BatchNorm2D
    /// Option B's projection; nil for the identity and for option A.
    public let downsample: Sequential?
    /// Option A: channels of zeros added on each side of the subsampled input.
    public let zeroPadding: Int
    public let stride: Int

    public init(_ inChannels: Int, _ planes: Int, stride: Int, shortcut: CIFARResNet.Shortcut, generator: RandomGenerator) {
        conv1 = Conv2D(inChannels, planes, 3, stride: IntPair(stride), padding: 1, bias: false, generator: generator)
        bn1 = BatchNorm2D(planes)
        conv2 = Conv2D(planes, planes, 3, padding: 1, bias: false, generator: generator)
        bn2 = BatchNorm2D(planes)
        let changes = stride != 1 || inChannels != planes
        if changes && shortcut == .b {
            downsample = resNetShortcut(inChannels, planes, stride: stride, generator: generator)
            zeroPadding = 0
        } else {
            downsample = nil
            require(!changes || (planes - inChannels) % 2 == 0 && planes >= inChannels,
                    "CIFARBasicBlock: option A pads channels evenly, it cannot go from \(inChannels) to \(planes)")
            zeroPadding = changes ? (planes - inChannels) / 2 : 0
        }
        self.stride = stride
        super.init()
    }

    func shortcut(_ x: Tensor) -> Tensor {
        if let downsample { return downsample(x) }
        guard stride != 1 || zeroPadding != 0 else { return x }
        let sub = stride == 1 ? x : x[.ellipsis, .stride(by: stride), .stride(by: stride)]
        return sub.padded([(0, 0), (zeroPadding, zeroPadding), (0, 0), (0, 0)])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = bn2(conv2(bn1(conv1(x)).relu()))
        return (y + shortcut(x)).relu()
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        let s = t.traceChain([("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)], input: input)
        if let downsample { _ = t.trace(downsample, name: "downsample", input: input) }
        return s
    }
}

extension VisionModels {
    static let smallImageEntries: [VisionModelEntry] = {
        var out = [VisionModelEntry("vgg-small", "a VGG-style CNN for 28×28 or 32×32 images (3 stages of two 3×3 convs with BN)",
                                    minimumSize: SmallVGG.minimumSize(stages: 3),
                                    defaultInputShape: [1, 28, 28], defaultClasses: 10) { o, g in
            SmallVGG(classes: o.classes, inputChannels: o.inputChannels, includeTop: o.includeTop, generator: g)
        }]
        for depth in [20, 32, 44, 56, 110] {
            out.append(VisionModelEntry("resnet\(depth)", "ResNet-\(depth) of the paper's CIFAR-10 experiments (16/32/64 filters, option A)",
                                        minimumSize: 1, defaultInputShape: [3, 32, 32], defaultClasses: 10) { o, g in
                CIFARResNet(depth: depth, classes: o.classes, inputChannels: o.inputChannels, includeTop: o.includeTop, generator: g)
            })
        }
        return out
    }()
}
