import MyelinCore
import MyelinNN

/// VGG (Simonyan and Zisserman, 2014) in the configurations of the paper's table 1, with
/// torchvision's layout and names ("features.N", "classifier.N"), with or without batch
/// normalisation after each convolution:
///
///     A      VGG-11  132,863,336 parameters at 1000 classes
///     A-LRN  A with local response normalisation after the first convolution's ReLU
///            (AlexNet's size 5, α 10⁻⁴, β 0.75, k 2); the same 132,863,336 parameters
///     B      VGG-13  133,047,848
///     C      VGG-16 with a 1×1 convolution ending blocks 3, 4 and 5
///     D      VGG-16  138,357,544
///     E      VGG-19  143,667,240
///
/// In A-LRN the normalisation is "features.2" (after conv 0 and its ReLU), so the later
/// indices are one more than A's; torchvision has no A-LRN. Its α follows PyTorch's
/// `nn.LocalResponseNorm`, which divides α by the size (as Caffe): the paper's formula
/// without that division would be α = 5·10⁻⁴ here.
/// `includeTop: false` keeps only `features`: [N, 512, H/32, W/32].
public final class VGG: Module, UnaryLayer, SummaryTraceable {
    public enum Configuration: String, Sendable, CaseIterable {
        case a = "A", aLRN = "A-LRN", b = "B", c = "C", d = "D", e = "E"

        /// Depth in weight layers: 11, 11, 13, 16, 16, 19.
        public var depth: Int { [11, 11, 13, 16, 16, 19][Self.allCases.firstIndex(of: self) ?? 0] }

        /// A-LRN: local response normalisation after the first convolution's ReLU.
        public var localResponseNorm: Bool { self == .aLRN }

        /// Convolutions as (output channels, kernel size); nil is a 2×2 max-pooling.
        public var layers: [(channels: Int, kernel: Int)?] {
            func conv(_ c: Int, _ k: Int = 3) -> (channels: Int, kernel: Int)? { (c, k) }
            switch self {
            case .a, .aLRN:
                return [conv(64), nil, conv(128), nil, conv(256), conv(256), nil, conv(512), conv(512), nil,
                        conv(512), conv(512), nil]
            case .b:
                return [conv(64), conv(64), nil, conv(128), conv(128), nil, conv(256), conv(256), nil,
                        conv(512), conv(512), nil, conv(512), conv(512), nil]
            case .c, .d:
                let k = self == .c ? 1 : 3
                return [conv(64), conv(64), nil, conv(128), conv(128), nil, conv(256), conv(256), conv(256, k), nil,
                        conv(512), conv(512), conv(512, k), nil, conv(512), conv(512), conv(512, k), nil]
            case .e:
                return [conv(64), conv(64), nil, conv(128), conv(128), nil] + Array(repeating: conv(256), count: 4) + [nil]
                    + Array(repeating: conv(512), count: 4) + [nil] + Array(repeating: conv(512), count: 4) + [nil]
            }
        }
    }

    public let features: Sequential
    public let avgpool: AdaptiveAvgPool2D?
    public let classifier: Sequential?
    public let configuration: Configuration
    public let batchNorm: Bool
    public let classes: Int

    public init(_ configuration: Configuration, batchNorm: Bool = false, classes: Int = 1000, includeTop: Bool = true,
                inputChannels: Int = 3, dropout: Double = 0.5, generator: RandomGenerator = .default) {
        require(classes > 0 && inputChannels > 0, "VGG: classes and inputChannels must be positive")
        var layers: [any UnaryLayer] = []
        var c = inputChannels
        var lrnPending = configuration.localResponseNorm
        for spec in configuration.layers {
            guard let spec else { layers.append(MaxPool2D(2)); continue }
            layers.append(Conv2D(c, spec.channels, IntPair(spec.kernel), padding: .symmetric(spec.kernel / 2, spec.kernel / 2),
                                 generator: generator))
            if batchNorm { layers.append(BatchNorm2D(spec.channels)) }
            layers.append(ReLU())
            if lrnPending {
                layers.append(LocalResponseNorm(5, alpha: 1e-4, beta: 0.75, k: 2))
                lrnPending = false
            }
            c = spec.channels
        }
        features = Sequential(layers)
        if includeTop {
            avgpool = AdaptiveAvgPool2D(7)
            classifier = Sequential {
                Linear(512 * 7 * 7, 4096, generator: generator); ReLU(); Dropout(dropout, generator: generator)
                Linear(4096, 4096, generator: generator); ReLU(); Dropout(dropout, generator: generator)
                Linear(4096, classes, generator: generator)
            }
        } else {
            avgpool = nil
            classifier = nil
        }
        self.configuration = configuration
        self.batchNorm = batchNorm
        self.classes = classes
        super.init()
    }

    /// VGG-11, -13, -16, -19 (configurations A, B, D, E).
    public convenience init(depth: Int, batchNorm: Bool = false, classes: Int = 1000, includeTop: Bool = true,
                            generator: RandomGenerator = .default) {
        let byDepth: [Int: Configuration] = [11: .a, 13: .b, 16: .d, 19: .e]
        guard let cfg = byDepth[depth] else { requirementFailure("VGG: depth must be 11, 13, 16 or 19, got \(depth)") }
        self.init(cfg, batchNorm: batchNorm, classes: classes, includeTop: includeTop, generator: generator)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        classify(features.callWithHooks(input), pool: avgpool, classifier: classifier)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        t.traceHead(t.trace(features, name: "features", input: input), pool: avgpool, classifier: classifier, name: "classifier")
    }
}
