import MyelinCore
import MyelinNN

/// A small CNN for 8×8 digit images (the UCI / scikit-learn digits), 1 × 8 × 8 → logits:
///
///     conv1 Conv2D(1, 16, 3, padding 1)  → ReLU → MaxPool 2   (16@8×8 → 16@4×4)
///     conv2 Conv2D(16, 32, 3, padding 1) → ReLU → MaxPool 2   (32@4×4 → 32@2×2)
///     fc1   Linear(128, 64) → ReLU → Dropout(dropout)
///     fc2   Linear(64, classes)
///
/// Parameters ("conv1.weight", ..., "fc2.bias"), 10 classes:
/// 160 + 4,640 + 8,256 + 650 = **13,706**.
public final class DigitsCNN: Module, UnaryLayer {
    public let conv1: Conv2D
    public let conv2: Conv2D
    public let fc1: Linear
    public let dropout: Dropout
    public let fc2: Linear
    public let inputChannels: Int, classes: Int

    public init(inputChannels: Int = 1, classes: Int = 10, dropout: Double = 0.25, generator: RandomGenerator = .default) {
        require(inputChannels > 0 && classes > 0, "DigitsCNN: inputChannels and classes must be positive")
        self.inputChannels = inputChannels
        self.classes = classes
        conv1 = Conv2D(inputChannels, 16, 3, padding: 1, generator: generator)
        conv2 = Conv2D(16, 32, 3, padding: 1, generator: generator)
        fc1 = Linear(32 * 2 * 2, 64, generator: generator)
        self.dropout = Dropout(dropout, generator: generator)
        fc2 = Linear(64, classes, generator: generator)
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        require(input.rank == 4 && input.shape[1] == inputChannels && input.shape[2] == 8 && input.shape[3] == 8,
                "DigitsCNN: input of shape \(input.shape) must be [N, \(inputChannels), 8, 8]")
        var x = maxPool2d(conv1(input).relu(), kernelSize: 2)
        x = maxPool2d(conv2(x).relu(), kernelSize: 2)
        x = dropout(fc1(x.flattened(startAxis: 1)).relu())
        return fc2(x)
    }
}
