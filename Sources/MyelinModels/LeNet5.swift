import MyelinCore
import MyelinNN

/// LeNet-5 (LeCun et al., 1998) as modern courses teach it:
///
///     C1  Conv2D(inputChannels, 6, 5, padding p)  → activation → pool 2×2   (28×28 + padding 2: 6@28×28 → 6@14×14)
///     C3  Conv2D(6, 16, 5)                        → activation → pool 2×2   (16@10×10 → 16@5×5)
///     F5  Linear(16·5·5, 120)                     → activation
///     F6  Linear(120, 84)                         → activation
///     out Linear(84, classes)                     (logits)
///
/// `.modern` (default) uses ReLU and max-pooling; `.classic` the original's tanh and
/// average pooling (without its trainable subsampling coefficients and RBF output).
/// The padding defaults to what brings the input toward the original 32×32 (2 for MNIST's 28×28, at most 2),
/// so inputs must be at least 12×12.
///
/// Parameter names follow the usual PyTorch definition: "conv1.weight", "conv1.bias",
/// "conv2.*", "fc1.*", "fc2.*", "fc3.*". On 1×28×28 input with padding 2 (or 1×32×32),
/// 10 classes: 156 + 2,416 + 48,120 + 10,164 + 850 = **61,706 parameters**.
public final class LeNet5: Module, UnaryLayer {
    public enum Style: String, Sendable, Codable, CaseIterable {
        /// ReLU and max-pooling.
        case modern
        /// tanh and average pooling, as in the 1998 paper.
        case classic
    }

    public let conv1: Conv2D
    public let conv2: Conv2D
    public let fc1: Linear
    public let fc2: Linear
    public let fc3: Linear
    public let style: Style
    public let inputChannels: Int, classes: Int, inputSize: Int
    let pool: any UnaryLayer

    public init(inputChannels: Int = 1, classes: Int = 10, inputSize: Int = 28, padding: Int? = nil,
                style: Style = .modern, generator: RandomGenerator = .default) {
        require(inputChannels > 0 && classes > 0, "LeNet5: inputChannels and classes must be positive")
        let pad = padding ?? LeNet5.defaultPadding(inputSize: inputSize)
        let afterPool2 = LeNet5.featureSize(inputSize: inputSize, padding: pad)
        require(pad >= 0 && afterPool2 >= 1,
                "LeNet5: input size \(inputSize) with padding \(pad) is too small (C3's output after pooling would be \(afterPool2)×\(afterPool2)); use inputs of at least 12×12 + padding")
        self.inputChannels = inputChannels
        self.classes = classes
        self.inputSize = inputSize
        self.style = style
        conv1 = Conv2D(inputChannels, 6, 5, padding: .symmetric(pad, pad), generator: generator)
        conv2 = Conv2D(6, 16, 5, generator: generator)
        fc1 = Linear(16 * afterPool2 * afterPool2, 120, generator: generator)
        fc2 = Linear(120, 84, generator: generator)
        fc3 = Linear(84, classes, generator: generator)
        pool = style == .modern ? MaxPool2D(2) : AvgPool2D(2)
        super.init()
    }

    /// 2 for 28×28 (bringing it to the original 32×32), 0 for 32×32 and larger; at most 2.
    public static func defaultPadding(inputSize: Int) -> Int { Swift.min(2, Swift.max(0, (32 - inputSize + 1) / 2)) }

    /// The side of C3's pooled output for a square input: ((s + 2p − 4) / 2 − 4) / 2.
    public static func featureSize(inputSize: Int, padding: Int) -> Int {
        let c1 = inputSize + 2 * padding - 4
        guard c1 >= 2 else { return 0 }
        let c3 = c1 / 2 - 4
        return c3 >= 2 ? c3 / 2 : 0
    }

    func act(_ x: Tensor) -> Tensor { style == .modern ? x.relu() : x.tanh() }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        require(input.rank == 4 && input.shape[1] == inputChannels && input.shape[2] == inputSize && input.shape[3] == inputSize,
                "LeNet5(inputChannels: \(inputChannels), inputSize: \(inputSize)): input of shape \(input.shape) must be [N, \(inputChannels), \(inputSize), \(inputSize)]")
        // callWithHooks: forward hooks see each layer (feature maps, FeatureExtractor).
        var x = pool(act(conv1.callWithHooks(input)))
        x = pool(act(conv2.callWithHooks(x)))
        x = x.flattened(startAxis: 1)
        x = act(fc1.callWithHooks(x))
        x = act(fc2.callWithHooks(x))
        return fc3.callWithHooks(x)
    }
}
