import ArgumentParser
import Foundation
import Myelin

/// A short tour of tensors and gradients, ending with a small network trained
/// from scratch on real handwritten digits using nothing but tensors and backward().
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tour tensors and autograd, then train a small network on the UCI digits with plain tensors.")

    @Option(help: "Training epochs.") var epochs = 30
    @Option(help: "Mini-batch size.") var batchSize = 64
    @Option(help: "Learning rate of plain SGD.") var learningRate = 0.1
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
        manualSeed(seed)
        tour()
        try train()
    }

    func tour() {
        print("— Tensors and broadcasting —")
        let a = Tensor.arange(0, 6).reshaped([2, 3])
        let b = Tensor([10.0, 20.0, 30.0])
        print("a =", a)
        print("a + b =", a + b, " (b broadcast over the rows of a)")
        print("softmax(a, axis: 1) =", a.softmax(axis: 1))

        print("\n— Automatic differentiation —")
        let x = Tensor([0.5, -1.0, 2.0]).requiringGrad()
        let y = (x * x.sigmoid()).sum()  // SiLU summed: dy/dx = σ(x)(1 + x(1 − σ(x)))
        y.backward()
        let s = x.detached().sigmoid()
        print("d/dx Σ x·σ(x) by backward()   =", x.grad!)
        print("d/dx Σ x·σ(x) by the formula  =", s * (1 + x.detached() * (1 - s)))
        let check = checkGradients([Tensor.randn([3, 4]), Tensor.randn([4])]) { ($0[0] * $0[1]).tanh().logSoftmax(axis: 1) }
        print(check)
    }

    func train() throws {
        print("\n— Training a 64-32-10 network on the UCI handwritten digits (8×8 pixels) —")
        guard let url = Bundle.module.url(forResource: "digits", withExtension: "csv") else {
            throw ValidationError("the demo's digits.csv resource is missing from the build")
        }
        let (images, labels) = try Self.readDigits(url)
        let n = labels.count
        // A fixed shuffled split: 80% train, 20% test.
        let order = Tensor.randperm(n)
        let trainCount = n * 4 / 5
        let trainIdx = order[..<trainCount], testIdx = order[trainCount...]
        let xTrain = images.indexSelect(axis: 0, indices: trainIdx), yTrain = labels.indexSelect(axis: 0, indices: trainIdx)
        let xTest = images.indexSelect(axis: 0, indices: testIdx), yTest = labels.indexSelect(axis: 0, indices: testIdx)
        print("\(trainCount) training and \(n - trainCount) test images")

        // He-initialised weights, as PyTorch's Linear would be for ReLU nets.
        var w1 = (Tensor.randn([64, 32]) * (2.0 / 64).squareRoot()).requiringGrad()
        var b1 = Tensor.zeros([32]).requiringGrad()
        var w2 = (Tensor.randn([32, 10]) * (2.0 / 32).squareRoot()).requiringGrad()
        var b2 = Tensor.zeros([10]).requiringGrad()
        func logits(_ x: Tensor) -> Tensor { matmul((matmul(x, w1) + b1).relu(), w2) + b2 }
        func loss(_ x: Tensor, _ y: Tensor) -> Tensor {
            -(logits(x).logSoftmax(axis: 1) * y.oneHot(classes: 10)).sum(axis: 1).mean()
        }
        func accuracy(_ x: Tensor, _ y: Tensor) -> Double {
            withoutGradients { (logits(x).argmax(axis: 1) .== y).to(.float32).mean().itemDouble() }
        }
        let initial = withoutGradients { loss(xTrain, yTrain).item() }
        print(String(format: "initial loss %.3f (ln 10 = %.3f: the untrained net guesses uniformly)", initial, log(10.0)))

        let start = Date()
        for epoch in 1...epochs {
            let perm = Tensor.randperm(trainCount)
            var total = 0.0, batches = 0
            for lo in stride(from: 0, to: trainCount, by: batchSize) {
                let idx = perm[lo..<min(lo + batchSize, trainCount)]
                let l = loss(xTrain.indexSelect(axis: 0, indices: idx), yTrain.indexSelect(axis: 0, indices: idx))
                l.backward()
                // Plain SGD, written out: p ← p − lr·∂L/∂p, outside the graph.
                w1 = step(w1); b1 = step(b1); w2 = step(w2); b2 = step(b2)
                total += Double(l.item()); batches += 1
            }
            if epoch == 1 || epoch % 5 == 0 || epoch == epochs {
                print(String(format: "epoch %3d  loss %.4f  train acc %.3f  test acc %.3f",
                             epoch, total / Double(batches), accuracy(xTrain, yTrain), accuracy(xTest, yTest)))
            }
        }
        print(String(format: "trained in %.2f s; final test accuracy %.1f%%", Date().timeIntervalSince(start), 100 * accuracy(xTest, yTest)))
    }

    func step(_ p: Tensor) -> Tensor {
        guard let g = p.grad else { return p }
        return withoutGradients { (p - g * learningRate) }.requiringGrad()
    }

    /// Reads the digits table: 64 pixel columns (0–16) and a label column.
    static func readDigits(_ url: URL) throws -> (Tensor, Tensor) {
        let table = try CSVTable(contentsOf: url)
        let encoder = try TabularEncoder(fitting: table, target: "label", encodings: ["label": .index])
        let (features, target) = try encoder.encode(table)
        guard let labels = target else { throw ValidationError("digits.csv has no label column") }
        return (features / 16, labels)
    }
}
