import MyelinCore
import MyelinNN

/// A YOLOv1-style detector (Redmon, Divvala, Girshick and Farhadi, 2016): a convolutional
/// backbone, then a head that predicts, for each cell of an S×S grid, B boxes (x, y, w, h,
/// confidence) and C class probabilities: output [N, S, S, B·5 + C] (7×7×30 by default).
///
///     YOLOv1()                                   the paper's network for 448×448 images:
///                                                24 convolutions with leaky ReLU 0.1, 271,703,550 parameters
///     YOLOv1(classes: 3, backbone: ResNet(depth: 18, includeTop: false))   any feature extractor
///
/// Layout: `backbone` ("backbone.0.weight", ... for the paper's), `pool` (adaptive average
/// pooling of the feature map to S×S: the identity for the paper's 7×7 map at 448×448, and what
/// lets other backbones and image sizes fit), `head` (Flatten, Linear(channels·S·S, 4096),
/// LeakyReLU(0.1), Dropout(0.5), Linear(4096, S·S·(B·5 + C)); linear output, as the paper).
/// Each cell's vector is (x, y, w, h, confidence) for each box, then the class probabilities;
/// `decodeYOLOv1` turns it into boxes and `yoloV1Loss` trains it.
/// `includeTop: false` returns the backbone's feature map.
public final class YOLOv1: Module, UnaryLayer, SummaryTraceable {
    public let backbone: any UnaryLayer
    public let pool: AdaptiveAvgPool2D?
    public let head: Sequential?
    public let gridSize: Int, boxesPerCell: Int, classes: Int
    /// The backbone's output channels (found by tracing it on one input).
    public let backboneChannels: Int

    /// - Parameters:
    ///   - backbone: a feature extractor returning [N, C, H, W]; nil for the paper's.
    ///   - inputChannels, inputSize: the images the backbone is traced on to learn its output
    ///     channels (any size works afterwards: the pooling makes the grid).
    public init(classes: Int = 20, gridSize: Int = 7, boxesPerCell: Int = 2, backbone: (any UnaryLayer)? = nil,
                inputChannels: Int = 3, inputSize: Int = 448, hiddenFeatures: Int = 4096, dropout: Double = 0.5,
                includeTop: Bool = true, generator: RandomGenerator = .default) {
        require(classes > 0 && gridSize > 0 && boxesPerCell > 0 && hiddenFeatures > 0 && inputChannels > 0,
                "YOLOv1: classes \(classes), gridSize \(gridSize), boxesPerCell \(boxesPerCell), hiddenFeatures \(hiddenFeatures) "
                + "and inputChannels \(inputChannels) must be positive")
        let net = backbone ?? Self.paperBackbone(inputChannels: inputChannels, generator: generator)
        let shape = SummaryTracer().trace(net, name: "", input: [1, inputChannels, inputSize, inputSize])
        require(shape.count == 4, "YOLOv1: the backbone must return [N, C, H, W] feature maps, got shape \(shape) "
                + "(build it without its classifier, e.g. ResNet(depth: 18, includeTop: false))")
        self.backbone = net
        backboneChannels = shape[1]
        let s = gridSize, d = 5 * boxesPerCell + classes
        if includeTop {
            pool = AdaptiveAvgPool2D(IntPair(s))
            head = Sequential {
                Flatten()
                Linear(shape[1] * s * s, hiddenFeatures, generator: generator)
                LeakyReLU(negativeSlope: 0.1)
                Dropout(dropout, generator: generator)
                Linear(hiddenFeatures, s * s * d, generator: generator)
            }
        } else {
            pool = nil
            head = nil
        }
        (self.gridSize, self.boxesPerCell, self.classes) = (gridSize, boxesPerCell, classes)
        super.init()
    }

    /// The paper's figure 3: 24 convolutions ("same" padding, biases, leaky ReLU 0.1) and 4
    /// max-poolings; 448×448×3 → 7×7×1024, 60,155,968 parameters.
    public static func paperBackbone(inputChannels: Int = 3, generator: RandomGenerator = .default) -> Sequential {
        // (kernel, channels, stride); nil is a 2×2 max-pooling.
        typealias C = (k: Int, c: Int, s: Int)
        var spec: [C?] = [(7, 64, 2), nil, (3, 192, 1), nil, (1, 128, 1), (3, 256, 1), (1, 256, 1), (3, 512, 1), nil]
        for _ in 0..<4 { spec += [(1, 256, 1), (3, 512, 1)] }
        spec += [(1, 512, 1), (3, 1024, 1), nil]
        for _ in 0..<2 { spec += [(1, 512, 1), (3, 1024, 1)] }
        spec += [(3, 1024, 1), (3, 1024, 2), (3, 1024, 1), (3, 1024, 1)]
        var layers: [any UnaryLayer] = []
        var c = inputChannels
        for conv in spec {
            guard let conv else { layers.append(MaxPool2D(2)); continue }
            layers.append(Conv2D(c, conv.c, IntPair(conv.k), stride: IntPair(conv.s), padding: Padding2D.symmetric(conv.k / 2, conv.k / 2),
                                 generator: generator))
            layers.append(LeakyReLU(negativeSlope: 0.1))
            c = conv.c
        }
        return Sequential(layers)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let f = backbone.callWithHooks(input)
        guard let pool, let head else { return f }
        require(f.rank == 4, "YOLOv1: the backbone returned shape \(f.shape); it must return [N, C, H, W]")
        let y = head.callWithHooks(pool.callWithHooks(f))
        return y.reshaped([y.shape[0], gridSize, gridSize, 5 * boxesPerCell + classes])
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        let s = t.trace(backbone, name: "backbone", input: input)
        guard let pool, let head else { return s }
        let y = t.trace(head, name: "head", input: t.trace(pool, name: "pool", input: s))
        return [y[0], gridSize, gridSize, 5 * boxesPerCell + classes]
    }
}

extension VisionModels {
    static let yoloEntries: [VisionModelEntry] = [
        VisionModelEntry("yolov1", "YOLOv1 (the paper's 24-convolution network; 448×448, 7×7×(2·5 + classes) output)",
                         minimumSize: 31, defaultInputShape: [3, 448, 448], defaultClasses: 20) { o, g in
            YOLOv1(classes: o.classes, inputChannels: o.inputChannels, includeTop: o.includeTop, generator: g)
        },
    ]
}
