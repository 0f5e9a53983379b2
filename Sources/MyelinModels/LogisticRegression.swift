import MyelinCore
import MyelinNN

/// Logistic regression: one linear layer producing logits, as the lectures' first
/// classifier. With 2 classes it outputs ONE logit per sample (train it with
/// `binaryCrossEntropyWithLogits` / `BCEWithLogitsLoss` on 0/1 targets; the
/// probability of class 1 is its sigmoid); with more classes it outputs one logit
/// per class (multinomial / softmax regression: train with `crossEntropy`).
///
/// Parameters (PyTorch names): "linear.weight" [outputs, inputs], "linear.bias" [outputs],
/// so `(inputs + 1) · outputs` in all, where outputs = 1 for 2 classes, else `classes`
/// (30 features, 2 classes: 31; 784 pixels, 10 classes: 7,850).
///
/// Input [N, inputs]; higher-rank input ([N, 1, 28, 28]) is flattened after the batch axis.
public final class LogisticRegression: Module, UnaryLayer {
    public let linear: Linear
    public let inputs: Int
    public let classes: Int

    public init(inputs: Int, classes: Int = 2, generator: RandomGenerator = .default) {
        require(inputs > 0, "LogisticRegression: inputs must be positive, got \(inputs)")
        require(classes >= 2, "LogisticRegression: classes must be at least 2, got \(classes)")
        self.inputs = inputs
        self.classes = classes
        linear = Linear(inputs, classes == 2 ? 1 : classes, generator: generator)
        super.init()
    }

    /// Logits per sample: 1 column for 2 classes, else `classes` columns.
    public var outputs: Int { classes == 2 ? 1 : classes }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let x = input.rank > 2 ? input.flattened(startAxis: 1) : input
        require(x.rank == 2 && x.shape[1] == inputs,
                "LogisticRegression(inputs: \(inputs), classes: \(classes)): input of shape \(input.shape) must be [N, \(inputs)]")
        return linear(x)
    }

    /// Class probabilities [N, classes] (sigmoid of the single logit for 2 classes, softmax otherwise).
    public func probabilities(_ input: Tensor) -> Tensor {
        classProbabilities(logits: self(input))
    }
}

/// Class probabilities from a classifier's logits: a single column is a binary logit
/// (→ [1 − σ, σ]), more columns are softmax'ed. Every model of the zoo follows this rule.
public func classProbabilities(logits: Tensor) -> Tensor {
    require(logits.rank == 2, "classProbabilities: logits must be [N, K], got shape \(logits.shape)")
    if logits.shape[1] == 1 {
        let p = logits.sigmoid()
        return Tensor.concat([1 - p, p], axis: 1)
    }
    return logits.softmax(axis: 1)
}
