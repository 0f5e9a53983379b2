import MyelinCore
import MyelinNN

/// What builds a zoo model: its name and the data it will see. Codable, so a checkpoint
/// or weights file can carry it and `evaluate`/`predict` rebuild the same model.
public struct ModelSpec: Codable, Sendable, Equatable {
    /// A name from `ModelZoo.names` (aliases accepted).
    public var name: String
    /// One sample's shape: `[C, H, W]` for images, `[F]` for table rows.
    public var inputShape: [Int]
    public var classes: Int
    /// MLP hidden widths.
    public var hidden: [Int]
    public var activation: ActivationKind
    /// Dropout probability; nil: the model's default (MLP 0, digits-cnn 0.25).
    public var dropout: Double?

    public init(name: String, inputShape: [Int], classes: Int, hidden: [Int] = [128, 64],
                activation: ActivationKind = .relu, dropout: Double? = nil) {
        self.name = name
        self.inputShape = inputShape
        self.classes = classes
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
    }
}

/// A model name, input or option that does not fit (a CNN given table rows, a LeNet-5
/// given 4×4 images): thrown before anything is built, with a one-line message.
public struct ModelZooError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The named models the command line trains: `ModelZoo.make(spec)`.
public enum ModelZoo {
    /// Canonical names, with one-line summaries for help texts.
    public static let catalogue: [(name: String, summary: String)] = [
        ("logreg", "logistic regression: one linear layer (1 logit for 2 classes, else softmax)"),
        ("mlp", "multi-layer perceptron (--hidden, --activation, --dropout)"),
        ("lenet5", "LeNet-5 with ReLU and max-pooling (61,706 parameters on MNIST)"),
        ("lenet5-classic", "LeNet-5 with tanh and average pooling, as in 1998"),
        ("digits-cnn", "a small CNN for 8×8 digit images (13,706 parameters)"),
    ]
    public static var names: [String] { catalogue.map(\.name) }

    static let aliases: [String: String] = [
        "logistic": "logreg", "logistic-regression": "logreg", "logisticregression": "logreg",
        "lenet": "lenet5", "lenet-5": "lenet5", "lenet5-modern": "lenet5", "lenet-classic": "lenet5-classic",
        "digitscnn": "digits-cnn", "digits_cnn": "digits-cnn", "cnn-digits": "digits-cnn",
    ]

    /// Every name `make` accepts: the small models above, then the vision zoo's.
    public static var allNames: [String] { names + VisionModels.names }

    /// The canonical name for `name` (case-insensitive, aliases resolved), or nil; vision
    /// models ("resnet18", "vgg-small", ...) included.
    public static func canonicalName(_ name: String) -> String? {
        let n = name.lowercased()
        if names.contains(n) { return n }
        return aliases[n] ?? VisionModels.canonicalName(n)
    }

    /// Builds the model, checking that its input fits `spec.inputShape` first.
    public static func make(_ spec: ModelSpec, generator: RandomGenerator = .default) throws -> any UnaryLayer {
        guard let name = canonicalName(spec.name) else {
            throw ModelZooError("unknown model \"\(spec.name)\" (models: \(allNames.joined(separator: ", ")))")
        }
        let shape = spec.inputShape
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else {
            throw ModelZooError("\(name): the input shape \(shape) is empty or has a zero size")
        }
        if let p = spec.dropout, !(p >= 0 && p < 1) { throw ModelZooError("\(name): dropout must be in [0, 1), got \(p)") }
        guard spec.classes >= 2 else { throw ModelZooError("\(name): needs at least 2 classes, the data has \(spec.classes)") }
        if VisionModels.entry(name) != nil {
            // The vision zoo (resnet18, vgg-small, ...) on images of any channels and size.
            return try VisionModels.make(name, classes: spec.classes, inputShape: shape, generator: generator)
        }
        let features = shape.reduce(1, *)
        func image(_ what: String) throws -> (c: Int, h: Int, w: Int) {
            guard shape.count == 3 else {
                throw ModelZooError("\(name) needs images [C, H, W], but the data's samples have shape \(shape) (\(what))")
            }
            return (shape[0], shape[1], shape[2])
        }
        switch name {
        case "logreg":
            return LogisticRegression(inputs: features, classes: spec.classes, generator: generator)
        case "mlp":
            guard spec.hidden.allSatisfy({ $0 > 0 }) else { throw ModelZooError("mlp: hidden widths must be positive, got \(spec.hidden)") }
            return MLP(inputs: features, hidden: spec.hidden, outputs: spec.classes, activation: spec.activation,
                       dropout: spec.dropout ?? 0, generator: generator)
        case "lenet5", "lenet5-classic":
            let (c, h, w) = try image("use mlp or logreg for table rows")
            guard h == w else { throw ModelZooError("\(name) needs square images, the data's are \(h)×\(w)") }
            let pad = LeNet5.defaultPadding(inputSize: h)
            guard LeNet5.featureSize(inputSize: h, padding: pad) >= 1 else {
                throw ModelZooError("\(name) needs images of at least 12×12, the data's are \(h)×\(w); use digits-cnn for 8×8 digits")
            }
            return LeNet5(inputChannels: c, classes: spec.classes, inputSize: h, style: name == "lenet5" ? .modern : .classic,
                          generator: generator)
        case "digits-cnn":
            let (c, h, w) = try image("use mlp or logreg for table rows")
            guard h == 8 && w == 8 else {
                throw ModelZooError("digits-cnn needs 8×8 images, the data's are \(h)×\(w); use lenet5 for 28×28")
            }
            return DigitsCNN(inputChannels: c, classes: spec.classes, dropout: spec.dropout ?? 0.25,
                             generator: generator)
        default:
            throw ModelZooError("unknown model \"\(spec.name)\"")
        }
    }
}
