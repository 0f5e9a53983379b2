import Foundation
import Myelin
import Testing

private let sharedData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("../shared/data").standardizedFileURL
private let mnistFolder = sharedData.appendingPathComponent("mnist")
private let haveMNIST = FileManager.default.fileExists(atPath: mnistFolder.appendingPathComponent("train-images-idx3-ubyte.gz").path)
private let breastCancer = sharedData.appendingPathComponent("tabular/breast_cancer.csv")
private let haveBreastCancer = FileManager.default.fileExists(atPath: breastCancer.path)

/// Loss of logits against labels: one column → BCE on the logit, more → cross-entropy.
private func loss(_ logits: Tensor, _ y: Tensor) -> Tensor {
    logits.shape[1] == 1 ? binaryCrossEntropyWithLogits(logits, y.to(.float32).reshaped([-1, 1])) : crossEntropy(logits, y)
}

private func accuracy(_ model: any UnaryLayer, _ x: Tensor, _ y: Tensor) -> Double {
    model.eval()
    defer { model.train() }
    return withoutGradients {
        let logits = model(x)
        let pred = logits.shape[1] == 1 ? (logits.reshaped([-1]) .> 0).to(.int64) : logits.argmax(axis: 1)
        return (pred .== y).to(.float32).mean().itemDouble()
    }
}

/// Mini-batch training with a seeded order; returns the mean loss of each epoch.
@discardableResult
private func fit(_ model: any UnaryLayer, _ optimizer: Optimizer, _ data: some Dataset, epochs: Int, batchSize: Int,
                   seed: UInt64 = 0, onBatch: (Double) -> Void = { _ in }) -> [Double] {
    let loader = DataLoader(data, batchSize: batchSize, shuffle: true, seed: seed)
    var means: [Double] = []
    model.train()
    for _ in 0..<epochs {
        var sum = 0.0, n = 0
        for batch in loader {
            let l = loss(model(batch.input), batch.target)
            optimizer.zeroGrad()
            l.backward()
            optimizer.step()
            sum += l.itemDouble()
            n += 1
            onBatch(l.itemDouble())
        }
        means.append(sum / Double(n))
    }
    return means
}

@Suite("Model zoo")
struct ModelTests {
    @Test("LeNet-5: 61,706 parameters on 28×28 with padding 2 (and on 32×32), PyTorch names, output shapes")
    func lenet5() {
        let m = LeNet5()
        #expect(m.parameterCount == 61_706)
        #expect(LeNet5(inputSize: 32).parameterCount == 61_706)
        #expect(LeNet5(style: .classic).parameterCount == 61_706)
        let shapes = Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.0, $0.1.shape) })
        #expect(shapes == ["conv1.weight": [6, 1, 5, 5], "conv1.bias": [6], "conv2.weight": [16, 6, 5, 5], "conv2.bias": [16],
                           "fc1.weight": [120, 400], "fc1.bias": [120], "fc2.weight": [84, 120], "fc2.bias": [84],
                           "fc3.weight": [10, 84], "fc3.bias": [10]])
        #expect(m(Tensor.randn([2, 1, 28, 28])).shape == [2, 10])
        #expect(LeNet5(style: .classic)(Tensor.randn([3, 1, 28, 28])).shape == [3, 10])
        // RGB 32×32 (CIFAR-sized), 100 classes: conv1 has 3 input channels, padding 0.
        let rgb = LeNet5(inputChannels: 3, classes: 100, inputSize: 32)
        #expect(rgb.parameterCount == 61_706 + 2 * 150 + 84 * 90 + 90)
        #expect(rgb(Tensor.randn([1, 3, 32, 32])).shape == [1, 100])
        #expect(LeNet5.featureSize(inputSize: 28, padding: 2) == 5)
        #expect(LeNet5.featureSize(inputSize: 8, padding: 0) == 0)
    }

    @Test("DigitsCNN: 13,706 parameters, 8×8 in, 10 logits out; dropout only in training")
    func digitsCNN() {
        let m = DigitsCNN()
        #expect(m.parameterCount == 13_706)
        #expect(m.namedParameters().map(\.0) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                                  "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        let x = Tensor.randn([4, 1, 8, 8])
        #expect(m(x).shape == [4, 10])
        m.eval()
        let a = m(x), b = m(x)
        #expect(a.scalars(as: Float.self) == b.scalars(as: Float.self))
    }

    @Test("MLP: widths, parameter count, names counting the parameter-free layers, dropout layers")
    func mlp() {
        let m = MLP(inputs: 784, hidden: [128, 64], outputs: 10)
        #expect(m.parameterCount == 109_386)
        #expect(MLP.parameterCount(inputs: 784, hidden: [128, 64], outputs: 10) == 109_386)
        #expect(m.namedParameters().map(\.0) == ["layers.1.weight", "layers.1.bias", "layers.3.weight", "layers.3.bias",
                                                  "layers.5.weight", "layers.5.bias"])
        // Images are flattened.
        #expect(m(Tensor.randn([2, 1, 28, 28])).shape == [2, 10])
        let d = MLP(inputs: 30, hidden: [16], outputs: 2, activation: .tanh, dropout: 0.5)
        #expect(d.layers.count == 5)  // Flatten, Linear, Tanh, Dropout, Linear
        #expect(d.parameterCount == 31 * 16 + 17 * 2)
        #expect(d(Tensor.randn([3, 30])).shape == [3, 2])
    }

    @Test("LogisticRegression: one logit for 2 classes, softmax logits for more")
    func logistic() {
        let b = LogisticRegression(inputs: 30, classes: 2)
        #expect(b.parameterCount == 31)
        #expect(b.outputs == 1)
        let x = Tensor.randn([5, 30])
        #expect(b(x).shape == [5, 1])
        let p = b.probabilities(x)
        #expect(p.shape == [5, 2])
        let rowSums = p.sum(axis: 1).scalars(as: Float.self)
        #expect(rowSums.allSatisfy { abs($0 - 1) < 1e-6 })
        // σ(logit) is the probability of class 1.
        let logit = b(x).reshaped([-1]).sigmoid().scalars(as: Float.self)
        #expect(zip(logit, p[.all, 1].scalars(as: Float.self)).allSatisfy { abs($0 - $1) < 1e-6 })
        let m = LogisticRegression(inputs: 784, classes: 10)
        #expect(m.parameterCount == 7_850)
        #expect(m(Tensor.randn([2, 1, 28, 28])).shape == [2, 10])
        #expect(m.namedParameters().map(\.0) == ["linear.weight", "linear.bias"])
    }

    @Test("ModelZoo builds by name and rejects inputs that do not fit, with one-line messages")
    func zoo() throws {
        #expect(try ModelZoo.make(ModelSpec(name: "lenet5", inputShape: [1, 28, 28], classes: 10)).parameterCount == 61_706)
        #expect(try ModelZoo.make(ModelSpec(name: "LeNet-5", inputShape: [1, 32, 32], classes: 10)).parameterCount == 61_706)
        #expect(try ModelZoo.make(ModelSpec(name: "digits-cnn", inputShape: [1, 8, 8], classes: 10)).parameterCount == 13_706)
        #expect(try ModelZoo.make(ModelSpec(name: "logreg", inputShape: [30], classes: 2)).parameterCount == 31)
        #expect(try ModelZoo.make(ModelSpec(name: "mlp", inputShape: [1, 28, 28], classes: 10)).parameterCount == 109_386)
        func message(_ spec: ModelSpec) -> String {
            do { _ = try ModelZoo.make(spec); return "" } catch { return String(describing: error) }
        }
        #expect(message(ModelSpec(name: "lenet5", inputShape: [30], classes: 2)).contains("needs images [C, H, W]"))
        #expect(message(ModelSpec(name: "lenet5", inputShape: [1, 8, 8], classes: 10)).contains("at least 12×12"))
        #expect(message(ModelSpec(name: "digits-cnn", inputShape: [1, 28, 28], classes: 10)).contains("needs 8×8"))
        #expect(message(ModelSpec(name: "resnet", inputShape: [1, 28, 28], classes: 10)).contains("unknown model"))
        #expect(message(ModelSpec(name: "mlp", inputShape: [30], classes: 1)).contains("at least 2 classes"))
        for m in [message(ModelSpec(name: "lenet5", inputShape: [30], classes: 2))] { #expect(!m.contains("\n")) }
    }

    @Test("a wrong input shape stops with a message naming the model and the shapes")
    func wrongShape() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LeNet5()(Tensor.zeros([2, 1, 32, 32]))
        }.map { result in
            let text = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(text.contains("LeNet5") && text.contains("[2, 1, 32, 32]") && text.contains("[N, 1, 28, 28]"))
        }
    }

    @Test("LeNet-5 learns from one short epoch on 5,000 real MNIST images",
          .enabled(if: haveMNIST, "../shared/data/mnist is absent: skipping the real-MNIST training check"))
    func lenetLearnsMNIST() throws {
        let trainSet = try MNIST(folder: mnistFolder, split: .train)
        let testSet = try MNIST(folder: mnistFolder, split: .test)
        let train = trainSet.subset(Array(0..<5000))
        let test = testSet.batch(Array(0..<1000))
        let model = LeNet5(generator: RandomGenerator(seed: 0))
        let before = withoutGradients { loss(model(test.input), test.target).itemDouble() }
        #expect(abs(before - log(10.0)) < 0.2, "an untrained net guesses about uniformly: \(before)")
        var losses: [Double] = []
        fit(model, Adam(model.trainableParameters(), learningRate: 2e-3), train, epochs: 1, batchSize: 32) { losses.append($0) }
        let lastTen = losses.suffix(10).reduce(0, +) / 10
        let testLoss = withoutGradients { model.eval(); return loss(model(test.input), test.target).itemDouble() }
        let acc = accuracy(model, test.input, test.target)
        print("LeNet-5, 1 epoch on 5,000 MNIST images: last-10-batch loss \(lastTen), test loss \(testLoss), test accuracy \(acc) on 1,000")
        #expect(lastTen < 0.7)
        #expect(testLoss < 0.7)
        #expect(acc >= 0.85)
    }

    @Test("logistic regression and an MLP on breast_cancer.csv: ≥ 94% and ≥ 95% validation accuracy",
          .enabled(if: haveBreastCancer, "../shared/data/tabular/breast_cancer.csv is absent: skipping"))
    func breastCancerModels() throws {
        let table = try CSVTable(contentsOf: breastCancer)
        let (all, encoder) = try table.dataset(target: "label", encodings: ["label": .index])
        #expect(encoder.classes?.count == 2)
        let (trainPart, valPart) = trainValidationSplit(all, validationFraction: 0.2, seed: 7)
        let scaler = Standardizer(fitting: trainPart.all().input)  // fitted on the training split only
        let train = scaler.transform(trainPart), val = scaler.transform(valPart)
        let features = all.inputs.shape[1]

        let gen = RandomGenerator(seed: 1)  // tests run in parallel: no shared default generator
        let logreg = LogisticRegression(inputs: features, classes: 2, generator: gen)
        fit(logreg, Adam(logreg.trainableParameters(), learningRate: 1e-2), train, epochs: 30, batchSize: 32)
        let accLR = accuracy(logreg, val.inputs, val.targets)

        let mlp = MLP(inputs: features, hidden: [32, 16], outputs: 2, generator: gen)
        fit(mlp, Adam(mlp.trainableParameters(), learningRate: 1e-3), train, epochs: 40, batchSize: 32)
        let accMLP = accuracy(mlp, val.inputs, val.targets)
        print("breast_cancer.csv (\(train.count) train / \(val.count) validation): logistic regression \(accLR), MLP \(accMLP)")
        #expect(accLR >= 0.94)
        #expect(accMLP >= 0.95)
    }
}
