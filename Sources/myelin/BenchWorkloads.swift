import Foundation
import Myelin

/// Myelin's side of the workloads of shared/BENCHMARKS.md, each built once and returned as
/// the closure one call of which is timed (one training step, one inference; W8 is 1,000
/// steps). bench/peer_pytorch.py builds the same workloads in PyTorch under the same names
/// and parameters.
enum BenchWorkloads {
    struct UnknownWorkload: Error, CustomStringConvertible { let description: String }

    /// Builds workload `id` ("W1" ... "W8") with integer parameters (e.g. ["batch": 16]).
    static func make(_ id: String, _ parameters: [String: Int]) throws -> () -> Void {
        func p(_ key: String, _ fallback: Int) -> Int { parameters[key] ?? fallback }
        switch id {
        case "W1": return gemm(n: p("n", 1024))
        case "W2": return mlpStep(batch: p("batch", 128))
        case "W3": return leNetStep(batch: p("batch", 64))
        case "W4": return resNet18Step(batch: p("batch", 32))
        case "W5": return vgg16Inference(batch: p("batch", 1))
        case "W6": return charLSTMStep(batch: p("batch", 32), steps: p("steps", 100), symbols: p("symbols", 65), hidden: p("hidden", 256))
        case "W7": return transformerInference(batch: p("batch", 8), length: p("length", 128), layers: p("layers", 6),
                                               width: p("width", 384), heads: p("heads", 12), feedForward: p("ff", 1536))
        case "W8": return tinyNetSteps(batch: p("batch", 4), steps: p("steps", 1000))
        default: throw UnknownWorkload(description: "unknown workload \(id) (known: W1 ... W8)")
        }
    }

    /// Uniform class labels in 0..<classes from a fixed seed.
    static func labels(_ count: Int, classes: Int, seed: UInt64) -> Tensor {
        Tensor.randint(0, classes, [count], generator: RandomGenerator(seed: seed))
    }

    /// W1: C = A·B, n × n.
    static func gemm(n: Int) -> () -> Void {
        let a = BenchMath.randomNormal([n, n], seed: 1), b = BenchMath.randomNormal([n, n], seed: 2)
        return { _ = a.matmul(b) }
    }

    /// W2: MLP 784-256-128-10 with ReLU, softmax cross-entropy, SGD momentum 0.9.
    static func mlpStep(batch: Int) -> () -> Void {
        let g = RandomGenerator(seed: 2)
        let model = Sequential {
            Linear(784, 256, generator: g); ReLU(); Linear(256, 128, generator: g); ReLU(); Linear(128, 10, generator: g)
        }
        return classifierStep(model, input: BenchMath.randomNormal([batch, 784], seed: 1),
                              labels: labels(batch, classes: 10, seed: 3), optimizer: SGD(model.parameters(), learningRate: 0.01, momentum: 0.9))
    }

    /// W3: the LeNet-style CNN on 3×32×32, cross-entropy, SGD momentum 0.9.
    static func leNetStep(batch: Int) -> () -> Void {
        let g = RandomGenerator(seed: 3)
        let model = Sequential {
            Conv2D(3, 6, 5, generator: g); ReLU(); MaxPool2D(2)
            Conv2D(6, 16, 5, generator: g); ReLU(); MaxPool2D(2)
            Flatten()
            Linear(400, 120, generator: g); ReLU(); Linear(120, 84, generator: g); ReLU(); Linear(84, 10, generator: g)
        }
        return classifierStep(model, input: BenchMath.randomNormal([batch, 3, 32, 32], seed: 1),
                              labels: labels(batch, classes: 10, seed: 3), optimizer: SGD(model.parameters(), learningRate: 0.01, momentum: 0.9))
    }

    /// W4: ResNet-18 with the CIFAR stem, training mode (batch statistics), SGD momentum 0.9.
    static func resNet18Step(batch: Int) -> () -> Void {
        let model = ResNet(depth: 18, classes: 10, stem: .cifar, generator: RandomGenerator(seed: 4))
        model.train()
        return classifierStep(model, input: BenchMath.randomNormal([batch, 3, 32, 32], seed: 1),
                              labels: labels(batch, classes: 10, seed: 3), optimizer: SGD(model.parameters(), learningRate: 0.01, momentum: 0.9))
    }

    static func classifierStep(_ model: any UnaryLayer & Module, input: Tensor, labels: Tensor, optimizer: Optimizer) -> () -> Void {
        {
            optimizer.zeroGrad()
            crossEntropy(model(input), labels).backward()
            optimizer.step()
        }
    }

    /// W5: VGG-16 (configuration D) inference.
    static func vgg16Inference(batch: Int) -> () -> Void {
        let model = VGG(.d, generator: RandomGenerator(seed: 5))
        model.eval()
        let x = BenchMath.randomNormal([batch, 3, 224, 224], seed: 1)
        return { withoutGradients { _ = model(x) } }
    }

    /// W6: one-hot characters → 2-layer LSTM → Linear, cross-entropy over every step, Adam, clipping at norm 5.
    static func charLSTMStep(batch: Int, steps: Int, symbols: Int, hidden: Int) -> () -> Void {
        let g = RandomGenerator(seed: 6)
        let lstm = LSTM(inputSize: symbols, hiddenSize: hidden, numLayers: 2, generator: g)
        let head = Linear(hidden, symbols, generator: g)
        let parameters = lstm.parameters() + head.parameters()
        let optimizer = Adam(parameters, learningRate: 1e-3)
        let tokens = Tensor.randint(0, symbols, [steps + 1, batch], generator: RandomGenerator(seed: 3))
        let x = tokens[0..<steps].oneHot(classes: symbols).to(.float32)          // [T, N, symbols]
        let y = tokens[1..<(steps + 1)].reshaped([steps * batch])
        return {
            optimizer.zeroGrad()
            let logits = head(lstm(x).output).reshaped([steps * batch, symbols])
            crossEntropy(logits, y).backward()
            _ = clipGradNorm(parameters, maxNorm: 5)
            optimizer.step()
        }
    }

    /// W7: a MiniLM-shaped post-norm encoder (GELU, eps 1e-12) on a padded batch, inference.
    static func transformerInference(batch: Int, length: Int, layers: Int, width: Int, heads: Int, feedForward: Int) -> () -> Void {
        let generator = RandomGenerator(seed: 7)
        let encoder = TransformerEncoder(count: layers) {
            TransformerEncoderLayer(dModel: width, heads: heads, feedForward: feedForward, dropout: 0, activation: .gelu,
                                    layerNormEps: 1e-12, batchFirst: true, generator: generator)
        }
        encoder.eval()
        let x = BenchMath.randomNormal([batch, length, width], seed: 1)
        let mask = paddingMask(lengths: transformerLengths(batch: batch, length: length), length: length)
        return { withoutGradients { _ = encoder(x, keyPaddingMask: mask) } }
    }

    /// The real lengths of W7's sequences, from `length` down to about half of it (the peer's formula).
    static func transformerLengths(batch: Int, length: Int) -> [Int] {
        (0..<batch).map { i in Swift.max(1, length - (i * length) / (2 * batch)) }
    }

    /// [N, L] bool, true at padded positions (nn.MultiheadAttention's key_padding_mask).
    static func paddingMask(lengths: [Int], length: Int) -> Tensor {
        var padding = [Bool](repeating: false, count: lengths.count * length)
        for (b, l) in lengths.enumerated() { for t in l..<length { padding[b * length + t] = true } }
        return Tensor(padding.map { $0 ? 1.0 : 0.0 }, shape: [lengths.count, length]).to(.bool)
    }

    /// W8: Linear 4→16, tanh, Linear 16→1, sigmoid, binary cross-entropy, SGD; `steps` steps per call.
    static func tinyNetSteps(batch: Int, steps: Int) -> () -> Void {
        let g = RandomGenerator(seed: 8)
        let model = Sequential { Linear(4, 16, generator: g); Tanh(); Linear(16, 1, generator: g); Sigmoid() }
        let optimizer = SGD(model.parameters(), learningRate: 0.1)
        let x = BenchMath.randomNormal([batch, 4], seed: 1)
        let y = labels(batch, classes: 2, seed: 3).to(.float32).reshaped([batch, 1])
        return {
            for _ in 0..<steps {
                optimizer.zeroGrad()
                binaryCrossEntropy(model(x), y).backward()
                optimizer.step()
            }
        }
    }
}
