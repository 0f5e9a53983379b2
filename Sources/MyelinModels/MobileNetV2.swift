import MyelinCore
import MyelinNN

/// Convolution (no bias, "same" padding for odd kernels) → batch norm → ReLU6, torchvision's
/// `Conv2dNormActivation` as MobileNetV2 uses it: a `Sequential` named "0", "1", "2".
func convBNReLU6(_ inChannels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1, groups: Int = 1,
                 generator: RandomGenerator) -> Sequential {
    Sequential {
        Conv2D(inChannels, outChannels, IntPair(kernel), stride: IntPair(stride), padding: .symmetric((kernel - 1) / 2, (kernel - 1) / 2),
               groups: groups, bias: false, generator: generator)
        BatchNorm2D(outChannels)
        ReLU6()
    }
}

/// MobileNetV2's inverted residual block, torchvision's `InvertedResidual`, all in `conv`:
/// a 1×1 expansion to t·in channels with ReLU6 (left out when t = 1), a 3×3 depthwise
/// convolution (carrying the stride) with ReLU6, and a linear 1×1 projection with batch
/// norm; the input is added back when the stride is 1 and the channels do not change.
public final class InvertedResidual: Module, UnaryLayer, SummaryTraceable {
    public let conv: Sequential
    public let useResidual: Bool

    public init(_ inChannels: Int, _ outChannels: Int, stride: Int, expandRatio: Int, generator: RandomGenerator = .default) {
        require(stride == 1 || stride == 2, "InvertedResidual: stride must be 1 or 2, got \(stride)")
        require(expandRatio >= 1, "InvertedResidual: expandRatio must be at least 1, got \(expandRatio)")
        let hidden = inChannels * expandRatio
        var layers: [any UnaryLayer] = []
        if expandRatio != 1 { layers.append(convBNReLU6(inChannels, hidden, kernel: 1, generator: generator)) }
        layers.append(convBNReLU6(hidden, hidden, stride: stride, groups: hidden, generator: generator))
        layers.append(Conv2D(hidden, outChannels, 1, bias: false, generator: generator))
        layers.append(BatchNorm2D(outChannels))
        conv = Sequential(layers)
        useResidual = stride == 1 && inChannels == outChannels
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { useResidual ? x + conv(x) : conv(x) }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] { t.trace(conv, name: "conv", input: input) }
}

/// MobileNetV2 (Sandler, Howard, Zhu, Zhmoginov and Chen, 2018) with torchvision's layout and
/// names ("features.0.0.weight", "features.1.conv.0.0.weight", "features.18.1.running_var",
/// "classifier.1.weight"), so a torchvision state dict saved as safetensors loads by name:
///
///     MobileNetV2()   3,504,872 parameters, 300,774,272 MACs at 224×224
///
/// `widthMultiplier` scales every layer's channels, rounded as torchvision's `_make_divisible`
/// (to multiples of `roundNearest`, 8, never more than 10% down); the last convolution keeps
/// 1280 channels below a multiplier of 1. Dropout 0.2 before the classifier.
/// `includeTop: false` returns the last convolution's [N, 1280, ⌈H/32⌉, ⌈W/32⌉] (as Keras'
/// include_top=False). Every convolution is padded, so any image size runs.
/// Weights start as torchvision's: He-normal convolutions (fan out), batch norm 1 and 0,
/// classifier weight N(0, 0.01²) and bias 0.
public final class MobileNetV2: Module, UnaryLayer, SummaryTraceable {
    public let features: Sequential
    public let avgpool: AdaptiveAvgPool2D?
    public let classifier: Sequential?
    public let classes: Int
    /// Channels of the last convolution (1280 unless widthMultiplier > 1).
    public let lastChannels: Int

    /// One row of the paper's table 2: expansion t, output channels c, repeats n, first stride s.
    public struct Stage: Sendable, Equatable {
        public var expansion: Int, channels: Int, repeats: Int, stride: Int
        public init(_ expansion: Int, _ channels: Int, _ repeats: Int, _ stride: Int) {
            self.expansion = expansion
            self.channels = channels
            self.repeats = repeats
            self.stride = stride
        }
    }

    /// The paper's (and torchvision's) seven stages.
    public static let defaultStages: [Stage] = [
        Stage(1, 16, 1, 1), Stage(6, 24, 2, 2), Stage(6, 32, 3, 2), Stage(6, 64, 4, 2),
        Stage(6, 96, 3, 1), Stage(6, 160, 3, 2), Stage(6, 320, 1, 1),
    ]

    /// torchvision's `_make_divisible`: `value` rounded to the nearest multiple of `divisor`
    /// (at least `minValue`, the divisor by default), one step up if that lost more than 10%.
    public static func makeDivisible(_ value: Double, _ divisor: Int, minValue: Int? = nil) -> Int {
        var v = Swift.max(minValue ?? divisor, Int(value + Double(divisor) / 2) / divisor * divisor)
        if Double(v) < 0.9 * value { v += divisor }
        return v
    }

    public init(classes: Int = 1000, widthMultiplier: Double = 1, roundNearest: Int = 8, stages: [Stage] = MobileNetV2.defaultStages,
                dropout: Double = 0.2, includeTop: Bool = true, inputChannels: Int = 3, generator: RandomGenerator = .default) {
        require(classes > 0 && inputChannels > 0, "MobileNetV2: classes and inputChannels must be positive, got \(classes) and \(inputChannels)")
        require(widthMultiplier > 0 && widthMultiplier.isFinite, "MobileNetV2: widthMultiplier must be positive, got \(widthMultiplier)")
        require(roundNearest >= 1, "MobileNetV2: roundNearest must be at least 1, got \(roundNearest)")
        require(!stages.isEmpty && stages.allSatisfy { $0.expansion >= 1 && $0.channels >= 1 && $0.repeats >= 1 && ($0.stride == 1 || $0.stride == 2) },
                "MobileNetV2: stages need expansion, channels and repeats ≥ 1 and stride 1 or 2, got \(stages)")
        let g = generator
        var channels = Self.makeDivisible(32 * widthMultiplier, roundNearest)
        let last = Self.makeDivisible(1280 * Swift.max(1, widthMultiplier), roundNearest)
        var layers: [any UnaryLayer] = [convBNReLU6(inputChannels, channels, stride: 2, generator: g)]
        for stage in stages {
            let out = Self.makeDivisible(Double(stage.channels) * widthMultiplier, roundNearest)
            for i in 0..<stage.repeats {
                layers.append(InvertedResidual(channels, out, stride: i == 0 ? stage.stride : 1, expandRatio: stage.expansion, generator: g))
                channels = out
            }
        }
        layers.append(convBNReLU6(channels, last, kernel: 1, generator: g))
        features = Sequential(layers)
        avgpool = includeTop ? AdaptiveAvgPool2D(1) : nil
        classifier = includeTop ? Sequential { Dropout(dropout, generator: g); Linear(last, classes, generator: g) } : nil
        self.classes = classes
        lastChannels = last
        super.init()
        for (_, m) in namedModules() {
            if let c = m as? Conv2D { Init.kaimingNormal(c.$weight, mode: .fanOut, generator: g) }
            if let l = m as? Linear {
                Init.normal(l.$weight, std: 0.01, generator: g)
                if let b = l.bias { Init.zeros(b) }
            }
        }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        classify(features.callWithHooks(input), pool: avgpool, classifier: classifier)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        t.traceHead(t.trace(features, name: "features", input: input), pool: avgpool, classifier: classifier, name: "classifier")
    }
}

extension VisionModels {
    static let mobileNetV2Entries: [VisionModelEntry] = [
        VisionModelEntry("mobilenet-v2", "MobileNetV2 (width 1.0, 3.5 M parameters)", minimumSize: 1) { o, g in
            MobileNetV2(classes: o.classes, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
        },
    ]
}
