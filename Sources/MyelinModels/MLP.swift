import MyelinCore
import MyelinNN

/// The activation between an MLP's layers.
public enum ActivationKind: String, Sendable, Codable, CaseIterable {
    case relu, tanh, sigmoid, gelu, leakyRelu = "leaky_relu", elu

    /// A new layer computing this activation.
    public func layer() -> any UnaryLayer {
        switch self {
        case .relu: ReLU()
        case .tanh: Tanh()
        case .sigmoid: Sigmoid()
        case .gelu: GELU()
        case .leakyRelu: LeakyReLU()
        case .elu: ELU()
        }
    }
}

/// A multi-layer perceptron: Flatten, then for each hidden width Linear → activation
/// (→ Dropout when `dropout` > 0), then a Linear output layer giving logits.
///
/// As PyTorch's `nn.Sequential(nn.Flatten(), nn.Linear(...), nn.ReLU(), ...)` held in a
/// property `layers`, parameters are named "layers.1.weight", "layers.1.bias", ... (the
/// indices count the parameter-free layers too, as in PyTorch). Parameters:
/// Σ (fanIn + 1) · fanOut over the linear layers: `MLP(inputs: 784, hidden: [128, 64], outputs: 10)`
/// has 785·128 + 129·64 + 65·10 = 109,386.
public final class MLP: Module, UnaryLayer {
    public let layers: Sequential
    public let inputs: Int, hidden: [Int], outputs: Int
    public let activation: ActivationKind
    public let dropout: Double

    public init(inputs: Int, hidden: [Int], outputs: Int, activation: ActivationKind = .relu, dropout: Double = 0,
                generator: RandomGenerator = .default) {
        require(inputs > 0 && outputs > 0 && hidden.allSatisfy { $0 > 0 },
                "MLP: layer widths must be positive, got inputs \(inputs), hidden \(hidden), outputs \(outputs)")
        require(dropout >= 0 && dropout < 1, "MLP: dropout must be in [0, 1), got \(dropout)")
        self.inputs = inputs
        self.hidden = hidden
        self.outputs = outputs
        self.activation = activation
        self.dropout = dropout
        var list: [any UnaryLayer] = [Flatten()]
        var width = inputs
        for h in hidden {
            list.append(Linear(width, h, generator: generator))
            list.append(activation.layer())
            if dropout > 0 { list.append(Dropout(dropout, generator: generator)) }
            width = h
        }
        list.append(Linear(width, outputs, generator: generator))
        layers = Sequential(list)
        super.init()
    }

    /// The number of parameters an MLP of these widths has (weights and biases).
    public static func parameterCount(inputs: Int, hidden: [Int], outputs: Int) -> Int {
        let widths = [inputs] + hidden + [outputs]
        return zip(widths, widths.dropFirst()).reduce(0) { $0 + ($1.0 + 1) * $1.1 }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        require(input.rank >= 2 && input.count / Swift.max(input.shape[0], 1) == inputs,
                "MLP(inputs: \(inputs)): input of shape \(input.shape) must be [N, \(inputs)] (or [N, ...] with \(inputs) values per sample)")
        return layers(input)
    }
}
