import MyelinCore
import MyelinNN

/// Where a downsampling bottleneck block strides: torchvision's "v1.5" puts stride 2 in
/// the 3×3 convolution (more accurate, 4.09 GMACs for ResNet-50); the paper's original
/// "v1" in the first 1×1 (3.86 GMACs, the paper's "3.8 × 10⁹ FLOPs").
public enum ResNetVariant: String, Sendable, CaseIterable {
    case v1, v1_5 = "v1.5"
}

/// ResNet's two-convolution block (ResNet-18/34): 3×3 → BN → ReLU → 3×3 → BN, plus the
/// shortcut (a strided 1×1 convolution and BN in `downsample` when the shape changes), → ReLU.
public final class BasicBlock: Module, UnaryLayer, SummaryTraceable {
    public static let expansion = 1
    public let conv1: Conv2D, bn1: BatchNorm2D
    public let conv2: Conv2D, bn2: BatchNorm2D
    public let downsample: Sequential?

    public init(_ inChannels: Int, _ planes: Int, stride: Int = 1, generator: RandomGenerator = .default) {
        conv1 = Conv2D(inChannels, planes, 3, stride: IntPair(stride), padding: 1, bias: false, generator: generator)
        bn1 = BatchNorm2D(planes)
        conv2 = Conv2D(planes, planes, 3, padding: 1, bias: false, generator: generator)
        bn2 = BatchNorm2D(planes)
        downsample = resNetShortcut(inChannels, planes, stride: stride, generator: generator)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = bn2(conv2(bn1(conv1(x)).relu()))
        return (y + (downsample.map { $0(x) } ?? x)).relu()
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        let s = t.traceChain([("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)], input: input)
        if let downsample { _ = t.trace(downsample, name: "downsample", input: input) }
        return s
    }
}

/// ResNet's bottleneck block (ResNet-50/101/152): 1×1 → 3×3 → 1×1 (4× wider), each with BN,
/// ReLU between, plus the shortcut, → ReLU. The stride sits in the 3×3 (v1.5) or the first 1×1 (v1).
public final class Bottleneck: Module, UnaryLayer, SummaryTraceable {
    public static let expansion = 4
    public let conv1: Conv2D, bn1: BatchNorm2D
    public let conv2: Conv2D, bn2: BatchNorm2D
    public let conv3: Conv2D, bn3: BatchNorm2D
    public let downsample: Sequential?

    public init(_ inChannels: Int, _ planes: Int, stride: Int = 1, variant: ResNetVariant = .v1_5,
                generator: RandomGenerator = .default) {
        let s1 = variant == .v1 ? stride : 1, s2 = variant == .v1 ? 1 : stride
        conv1 = Conv2D(inChannels, planes, 1, stride: IntPair(s1), bias: false, generator: generator)
        bn1 = BatchNorm2D(planes)
        conv2 = Conv2D(planes, planes, 3, stride: IntPair(s2), padding: 1, bias: false, generator: generator)
        bn2 = BatchNorm2D(planes)
        conv3 = Conv2D(planes, planes * Self.expansion, 1, bias: false, generator: generator)
        bn3 = BatchNorm2D(planes * Self.expansion)
        downsample = resNetShortcut(inChannels, planes * Self.expansion, stride: stride, generator: generator)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = bn1(conv1(x)).relu()
        y = bn2(conv2(y)).relu()
        y = bn3(conv3(y))
        return (y + (downsample.map { $0(x) } ?? x)).relu()
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        let s = t.traceChain([("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2), ("conv3", conv3), ("bn3", bn3)],
                             input: input)
        if let downsample { _ = t.trace(downsample, name: "downsample", input: input) }
        return s
    }
}

/// The projection shortcut ("downsample.0" conv, "downsample.1" BN) when the shape changes.
func resNetShortcut(_ inChannels: Int, _ outChannels: Int, stride: Int, generator: RandomGenerator) -> Sequential? {
    guard stride != 1 || inChannels != outChannels else { return nil }
    return Sequential {
        Conv2D(inChannels, outChannels, 1, stride: IntPair(stride), bias: false, generator: generator)
        BatchNorm2D(outChannels)
    }
}

/// ResNet (He, Zhang, Ren and Sun, 2015) with torchvision's names ("conv1", "bn1",
/// "layer1.0.conv1", "layer2.0.downsample.0", "fc"), so torchvision weights load by name.
///
///     ResNet(depth: 18)   11,689,512 parameters, 1.81 GMACs at 224×224
///     ResNet(depth: 34)   21,797,672             3.66
///     ResNet(depth: 50)   25,557,032             4.09 (v1.5); 3.86 (v1)
///     ResNet(depth: 101)  44,549,160             7.80 (v1.5); 7.57 (v1)
///     ResNet(depth: 152)  60,192,808            11.51 (v1.5); 11.28 (v1)
///
/// `includeTop: false` leaves out the average pooling and `fc`: a feature extractor
/// returning [N, 512·expansion, H/32, W/32].
///
/// `stem: .cifar` is the common adaptation to 32×32 images (BENCHMARKS.md's W4): a 3×3
/// stride-1 "conv1" and no max-pool, so the stages see 32, 16, 8 and 4 pixels.
/// ResNet-18 with it and 10 classes has 11,173,962 parameters.
public final class ResNet: Module, UnaryLayer, SummaryTraceable {
    public enum Block: Sendable { case basic, bottleneck }
    /// The layers before the stages: ImageNet's 7×7/2 convolution and 3×3/2 max-pool, or a 3×3/1 convolution.
    public enum Stem: String, Sendable { case imagenet, cifar }

    public let conv1: Conv2D
    public let bn1: BatchNorm2D
    /// nil with the CIFAR stem.
    public let maxpool: MaxPool2D?
    public let layer1: Sequential, layer2: Sequential, layer3: Sequential, layer4: Sequential
    public let avgpool: AdaptiveAvgPool2D?
    public let fc: Linear?
    public let block: Block
    public let blocks: [Int]
    public let variant: ResNetVariant
    public let classes: Int
    public let stem: Stem

    /// Blocks per stage for each depth.
    public static let depths: [Int: (Block, [Int])] = [
        18: (.basic, [2, 2, 2, 2]), 34: (.basic, [3, 4, 6, 3]),
        50: (.bottleneck, [3, 4, 6, 3]), 101: (.bottleneck, [3, 4, 23, 3]), 152: (.bottleneck, [3, 8, 36, 3]),
    ]

    public init(block: Block, blocks: [Int], classes: Int = 1000, includeTop: Bool = true, variant: ResNetVariant = .v1_5,
                inputChannels: Int = 3, stem: Stem = .imagenet, generator: RandomGenerator = .default) {
        require(blocks.count == 4 && blocks.allSatisfy { $0 >= 1 }, "ResNet: blocks must be four positive counts, got \(blocks)")
        require(classes > 0 && inputChannels > 0, "ResNet: classes and inputChannels must be positive")
        switch stem {
        case .imagenet:
            conv1 = Conv2D(inputChannels, 64, 7, stride: 2, padding: 3, bias: false, generator: generator)
            maxpool = MaxPool2D(3, stride: 2, padding: 1)
        case .cifar:
            conv1 = Conv2D(inputChannels, 64, 3, stride: 1, padding: 1, bias: false, generator: generator)
            maxpool = nil
        }
        bn1 = BatchNorm2D(64)
        let expansion = block == .basic ? BasicBlock.expansion : Bottleneck.expansion
        var inChannels = 64
        func stage(_ planes: Int, _ count: Int, stride: Int) -> Sequential {
            var layers: [any UnaryLayer] = []
            for i in 0..<count {
                let s = i == 0 ? stride : 1
                layers.append(block == .basic
                    ? BasicBlock(inChannels, planes, stride: s, generator: generator)
                    : Bottleneck(inChannels, planes, stride: s, variant: variant, generator: generator))
                inChannels = planes * expansion
            }
            return Sequential(layers)
        }
        layer1 = stage(64, blocks[0], stride: 1)
        layer2 = stage(128, blocks[1], stride: 2)
        layer3 = stage(256, blocks[2], stride: 2)
        layer4 = stage(512, blocks[3], stride: 2)
        avgpool = includeTop ? AdaptiveAvgPool2D(1) : nil
        fc = includeTop ? Linear(512 * expansion, classes, generator: generator) : nil
        self.block = block
        self.blocks = blocks
        self.variant = variant
        self.classes = classes
        self.stem = stem
        super.init()
    }

    /// ResNet-18, -34, -50, -101 or -152.
    public convenience init(depth: Int, classes: Int = 1000, includeTop: Bool = true, variant: ResNetVariant = .v1_5,
                            inputChannels: Int = 3, stem: Stem = .imagenet, generator: RandomGenerator = .default) {
        guard let (block, blocks) = Self.depths[depth] else {
            requirementFailure("ResNet: depth must be 18, 34, 50, 101 or 152, got \(depth)")
        }
        self.init(block: block, blocks: blocks, classes: classes, includeTop: includeTop, variant: variant,
                  inputChannels: inputChannels, stem: stem, generator: generator)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        // callWithHooks: forward hooks see the stem and the head (the stages are Sequentials).
        var x = bn1.callWithHooks(conv1.callWithHooks(input)).relu()
        if let maxpool { x = maxpool.callWithHooks(x) }
        x = layer4(layer3(layer2(layer1(x))))
        return classify(x, pool: avgpool, classifier: fc)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        var chain: [(String, any UnaryLayer)] = [("conv1", conv1), ("bn1", bn1)]
        if let maxpool { chain.append(("maxpool", maxpool)) }
        chain += [("layer1", layer1), ("layer2", layer2), ("layer3", layer3), ("layer4", layer4)]
        let s = t.traceChain(chain, input: input)
        return t.traceHead(s, pool: avgpool, classifier: fc, name: "fc")
    }
}
