import MyelinCore
import MyelinNN

/// One layer of a dense block, torchvision's `_DenseLayer`: BN → ReLU → 1×1 conv to
/// bnSize·growthRate channels → BN → ReLU → 3×3 conv to growthRate channels (→ dropout).
/// It maps all the features so far, [N, C, H, W], to the growthRate new ones; the block
/// concatenates.
public final class DenseLayer: Module, UnaryLayer, SummaryTraceable {
    public let norm1: BatchNorm2D
    public let conv1: Conv2D
    public let norm2: BatchNorm2D
    public let conv2: Conv2D
    public let dropout: Dropout?

    public init(_ inChannels: Int, growthRate: Int, bnSize: Int = 4, dropRate: Double = 0, generator: RandomGenerator = .default) {
        norm1 = BatchNorm2D(inChannels)
        conv1 = Conv2D(inChannels, bnSize * growthRate, 1, bias: false, generator: generator)
        norm2 = BatchNorm2D(bnSize * growthRate)
        conv2 = Conv2D(bnSize * growthRate, growthRate, 3, padding: 1, bias: false, generator: generator)
        dropout = dropRate > 0 ? Dropout(dropRate, generator: generator) : nil
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = conv2(norm2(conv1(norm1(x).relu())).relu())
        return dropout.map { $0(y) } ?? y
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        var s = t.trace(norm1, name: "norm1", input: input)
        s = t.trace(conv1, name: "conv1", input: s)
        s = t.trace(norm2, name: "norm2", input: s)
        return t.trace(conv2, name: "conv2", input: s)
    }
}

/// A dense block, torchvision's `_DenseBlock`: each layer sees the concatenation of the
/// block's input and every earlier layer's output; the block returns all of them joined,
/// inChannels + layers·growthRate channels. Layers are named "denselayer1", "denselayer2", ...
public final class DenseBlock: Module, UnaryLayer, SummaryTraceable {
    public let layers: [DenseLayer]

    public init(layers count: Int, inChannels: Int, growthRate: Int, bnSize: Int = 4, dropRate: Double = 0,
                generator: RandomGenerator = .default) {
        require(count >= 1, "DenseBlock: needs at least one layer, got \(count)")
        layers = (0..<count).map {
            DenseLayer(inChannels + $0 * growthRate, growthRate: growthRate, bnSize: bnSize, dropRate: dropRate, generator: generator)
        }
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        // torchvision concatenates the list of all features before each layer; growing one
        // tensor gives the same values with the same copies.
        layers.reduce(input) { x, layer in Tensor.concat([x, layer.callWithHooks(x)], axis: 1) }
    }

    override public func namedChildren() -> [(String, Module)] {
        layers.enumerated().map { ("denselayer\($0.offset + 1)", $0.element) }
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        layers.enumerated().reduce(input) { s, e in
            Concatenate.joinedShape([s, t.trace(e.element, name: "denselayer\(e.offset + 1)", input: s)], axis: 1)
        }
    }
}

/// Between dense blocks, torchvision's `_Transition`: BN → ReLU → 1×1 conv (compressing
/// the channels) → 2×2 average pooling with stride 2.
public final class DenseTransition: Module, UnaryLayer, SummaryTraceable {
    public let norm: BatchNorm2D
    public let conv: Conv2D
    public let pool: AvgPool2D

    public init(_ inChannels: Int, _ outChannels: Int, generator: RandomGenerator = .default) {
        norm = BatchNorm2D(inChannels)
        conv = Conv2D(inChannels, outChannels, 1, bias: false, generator: generator)
        pool = AvgPool2D(2, stride: 2)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { pool(conv(norm(x).relu())) }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        let s = t.trace(conv, name: "conv", input: t.trace(norm, name: "norm", input: input))
        return t.trace(pool, name: "pool", input: s)
    }
}

/// DenseNet's `features`, named as torchvision's ordered `nn.Sequential`: "conv0", "norm0",
/// "pool0", "denseblock1", "transition1", ..., "denseblockN", "norm5" (norm5 whatever the
/// number of blocks, as torchvision). It ends with the final batch norm, before the ReLU.
public final class DenseNetFeatures: Module, UnaryLayer, SummaryTraceable {
    public let conv0: Conv2D
    public let norm0: BatchNorm2D
    public let pool0: MaxPool2D
    public let blocks: [DenseBlock]
    public let transitions: [DenseTransition]
    public let norm5: BatchNorm2D

    init(conv0: Conv2D, norm0: BatchNorm2D, blocks: [DenseBlock], transitions: [DenseTransition], norm5: BatchNorm2D) {
        self.conv0 = conv0
        self.norm0 = norm0
        pool0 = MaxPool2D(3, stride: 2, padding: 1)
        self.blocks = blocks
        self.transitions = transitions
        self.norm5 = norm5
        super.init()
    }

    /// The layers in order with torchvision's names (its parameter-free "relu0" is a call here).
    public var namedLayers: [(String, any UnaryLayer)] {
        var out: [(String, any UnaryLayer)] = [("conv0", conv0), ("norm0", norm0), ("pool0", pool0)]
        for (i, block) in blocks.enumerated() {
            out.append(("denseblock\(i + 1)", block))
            if i < transitions.count { out.append(("transition\(i + 1)", transitions[i])) }
        }
        out.append(("norm5", norm5))
        return out
    }

    override public func namedChildren() -> [(String, Module)] {
        namedLayers.map { ($0.0, $0.1) }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        // Children run through callWithHooks, so forward hooks can observe each of them.
        var x = pool0.callWithHooks(norm0.callWithHooks(conv0.callWithHooks(input)).relu())
        for (i, block) in blocks.enumerated() {
            x = block.callWithHooks(x)
            if i < transitions.count { x = transitions[i].callWithHooks(x) }
        }
        return norm5.callWithHooks(x)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        namedLayers.reduce(input) { s, e in t.trace(e.1, name: e.0, input: s) }
    }
}

/// DenseNet (Huang, Liu, van der Maaten and Weinberger, 2017), DenseNet-BC with torchvision's
/// layout and names ("features.conv0.weight", "features.denseblock1.denselayer1.norm1.running_mean",
/// "features.transition1.conv.weight", "features.norm5.weight", "classifier.weight"), so a
/// torchvision state dict saved as safetensors loads by name:
///
///     DenseNet(depth: 121)   7,978,856 parameters   2,834,161,664 MACs at 224×224
///     DenseNet(depth: 169)  14,149,480              3,359,843,328
///     DenseNet(depth: 201)  20,013,928              4,291,365,888
///     DenseNet(depth: 161)  28,681,000              7,727,907,072
///
/// Each layer adds `growthRate` channels; its bottleneck 1×1 convolution has bnSize·growthRate
/// (4·k) channels; each transition keeps `compression` (0.5) of the channels and halves the
/// size. The forward pass is torchvision's: features → ReLU → global average pooling →
/// `classifier`. `includeTop: false` returns the features after that ReLU, [N, C, H/32, W/32]
/// (as Keras' include_top=False; `features(x)` alone is torchvision's `model.features`, before
/// the ReLU). Four blocks need images of at least 29×29.
/// Weights start as torchvision's: He-normal convolutions (fan in), batch norm 1 and 0, classifier bias 0.
public final class DenseNet: Module, UnaryLayer, SummaryTraceable {
    public let features: DenseNetFeatures
    public let avgpool: AdaptiveAvgPool2D?
    public let classifier: Linear?
    public let growthRate: Int
    public let blockConfig: [Int]
    public let classes: Int
    /// Channels of the features: 1024 for DenseNet-121.
    public let featureChannels: Int

    /// (growth rate, layers per block, channels of the first convolution) of torchvision's models.
    public static let configurations: [Int: (growthRate: Int, blockConfig: [Int], initFeatures: Int)] = [
        121: (32, [6, 12, 24, 16], 64), 169: (32, [6, 12, 32, 32], 64),
        201: (32, [6, 12, 48, 32], 64), 161: (48, [6, 12, 36, 24], 96),
    ]

    /// Any configuration; DenseNet-121's by default. `dropRate` is the dropout after each dense layer.
    public init(growthRate: Int = 32, blockConfig: [Int] = [6, 12, 24, 16], initFeatures: Int = 64, bnSize: Int = 4,
                compression: Double = 0.5, dropRate: Double = 0, classes: Int = 1000, includeTop: Bool = true,
                inputChannels: Int = 3, generator: RandomGenerator = .default) {
        require(growthRate > 0 && initFeatures > 0 && bnSize > 0,
                "DenseNet: growthRate, initFeatures and bnSize must be positive, got \(growthRate), \(initFeatures), \(bnSize)")
        require(!blockConfig.isEmpty && blockConfig.allSatisfy { $0 >= 1 }, "DenseNet: blockConfig must be positive layer counts, got \(blockConfig)")
        require(compression > 0 && compression <= 1, "DenseNet: compression must be in (0, 1], got \(compression)")
        require(dropRate >= 0 && dropRate < 1, "DenseNet: dropRate must be in [0, 1), got \(dropRate)")
        require(classes > 0 && inputChannels > 0, "DenseNet: classes and inputChannels must be positive, got \(classes) and \(inputChannels)")
        let g = generator
        let conv0 = Conv2D(inputChannels, initFeatures, 7, stride: 2, padding: 3, bias: false, generator: g)
        var channels = initFeatures
        var blocks: [DenseBlock] = [], transitions: [DenseTransition] = []
        for (i, count) in blockConfig.enumerated() {
            blocks.append(DenseBlock(layers: count, inChannels: channels, growthRate: growthRate, bnSize: bnSize, dropRate: dropRate, generator: g))
            channels += count * growthRate
            if i < blockConfig.count - 1 {
                let out = Int(Double(channels) * compression)  // torchvision: num_features // 2
                require(out >= 1, "DenseNet: compression \(compression) leaves no channels after block \(i + 1)")
                transitions.append(DenseTransition(channels, out, generator: g))
                channels = out
            }
        }
        features = DenseNetFeatures(conv0: conv0, norm0: BatchNorm2D(initFeatures), blocks: blocks, transitions: transitions,
                                    norm5: BatchNorm2D(channels))
        avgpool = includeTop ? AdaptiveAvgPool2D(1) : nil
        classifier = includeTop ? Linear(channels, classes, generator: g) : nil
        self.growthRate = growthRate
        self.blockConfig = blockConfig
        self.classes = classes
        featureChannels = channels
        super.init()
        for (_, m) in namedModules() {
            if let c = m as? Conv2D { Init.kaimingNormal(c.$weight, generator: g) }
        }
        if let bias = classifier?.bias { Init.zeros(bias) }
    }

    /// DenseNet-121, -169, -201 or -161.
    public convenience init(depth: Int, classes: Int = 1000, includeTop: Bool = true, dropRate: Double = 0,
                            inputChannels: Int = 3, generator: RandomGenerator = .default) {
        guard let c = Self.configurations[depth] else {
            requirementFailure("DenseNet: depth must be 121, 161, 169 or 201, got \(depth)")
        }
        self.init(growthRate: c.growthRate, blockConfig: c.blockConfig, initFeatures: c.initFeatures, dropRate: dropRate,
                  classes: classes, includeTop: includeTop, inputChannels: inputChannels, generator: generator)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        classify(features.callWithHooks(input).relu(), pool: avgpool, classifier: classifier)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        t.traceHead(t.trace(features, name: "features", input: input), pool: avgpool, classifier: classifier, name: "classifier")
    }
}

extension VisionModels {
    static let denseNetEntries: [VisionModelEntry] = [121, 169, 201, 161].compactMap { depth in
        guard let c = DenseNet.configurations[depth] else { return nil }
        return VisionModelEntry("densenet\(depth)", "DenseNet-\(depth) (growth rate \(c.growthRate), blocks \(c.blockConfig.map(String.init).joined(separator: "-")))",
                                minimumSize: 29) { o, g in
            DenseNet(depth: depth, classes: o.classes, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
        }
    }
}
