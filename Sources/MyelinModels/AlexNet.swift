import MyelinCore
import MyelinNN

/// AlexNet (Krizhevsky, Sutskever and Hinton, 2012), with torchvision's layout and
/// parameter names ("features.0.weight", "classifier.6.bias", ...), so torchvision's
/// weights saved as safetensors load by name.
///
/// `.torchvision` (default) is torchvision's single-GPU variant: 64, 192, 384, 256, 256
/// filters, 61,100,840 parameters at 1000 classes. `.original` has the paper's 96, 256,
/// 384, 384, 256 filters (one tower, no grouping, no local response normalisation); on
/// 3×224×224 its activations are 55×55×96, 27×27×96, 27×27×256, 13×13×256, 13×13×384,
/// 13×13×384, 13×13×256, 6×6×256, 4096, 4096, classes.
///
/// `lrn: true` adds the paper's local response normalisation after the first two ReLUs
/// (size 5, α 10⁻⁴, β 0.75, k 2, in PyTorch's convention that divides α by the size), as
/// "features.2" and "features.6": the later indices shift, and the shapes stay the same.
///
/// `includeTop: false` leaves out the pooling and classifier: a feature extractor
/// returning [N, 256, H', W'] (6×6 at 224×224).
public final class AlexNet: Module, UnaryLayer, SummaryTraceable {
    public enum Variant: String, Sendable, CaseIterable {
        case torchvision, original
    }

    public let features: Sequential
    public let avgpool: AdaptiveAvgPool2D?
    public let classifier: Sequential?
    public let variant: Variant
    public let classes: Int
    public let lrn: Bool

    public init(classes: Int = 1000, variant: Variant = .torchvision, lrn: Bool = false, includeTop: Bool = true,
                inputChannels: Int = 3, dropout: Double = 0.5, generator: RandomGenerator = .default) {
        require(classes > 0 && inputChannels > 0, "AlexNet: classes and inputChannels must be positive")
        let w = variant == .torchvision ? [64, 192, 384, 256, 256] : [96, 256, 384, 384, 256]
        features = Sequential {
            Conv2D(inputChannels, w[0], 11, stride: 4, padding: 2, generator: generator); ReLU()
            if lrn { LocalResponseNorm(5, alpha: 1e-4, beta: 0.75, k: 2) }
            MaxPool2D(3, stride: 2)
            Conv2D(w[0], w[1], 5, padding: 2, generator: generator); ReLU()
            if lrn { LocalResponseNorm(5, alpha: 1e-4, beta: 0.75, k: 2) }
            MaxPool2D(3, stride: 2)
            Conv2D(w[1], w[2], 3, padding: 1, generator: generator); ReLU()
            Conv2D(w[2], w[3], 3, padding: 1, generator: generator); ReLU()
            Conv2D(w[3], w[4], 3, padding: 1, generator: generator); ReLU()
            MaxPool2D(3, stride: 2)
        }
        if includeTop {
            avgpool = AdaptiveAvgPool2D(6)
            classifier = Sequential {
                Dropout(dropout, generator: generator)
                Linear(w[4] * 36, 4096, generator: generator); ReLU()
                Dropout(dropout, generator: generator)
                Linear(4096, 4096, generator: generator); ReLU()
                Linear(4096, classes, generator: generator)
            }
        } else {
            avgpool = nil
            classifier = nil
        }
        self.variant = variant
        self.classes = classes
        self.lrn = lrn
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        classify(features.callWithHooks(input), pool: avgpool, classifier: classifier)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        t.traceHead(t.trace(features, name: "features", input: input), pool: avgpool, classifier: classifier, name: "classifier")
    }
}
