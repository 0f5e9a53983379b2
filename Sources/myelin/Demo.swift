import ArgumentParser
import Foundation
import Myelin

/// A short tour of tensors and gradients, ending with a small network trained
/// from scratch on real handwritten digits: a small CNN trained with Adam in mini-batches,
/// keeping the weights that did best on a validation split.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tour tensors and autograd, then train a small CNN on the UCI digits embedded in the program.")

    @Option(help: "Training epochs.") var epochs = 40
    @Option(help: "Mini-batch size.") var batchSize = 32
    @Option(help: "Learning rate of Adam.") var learningRate = 3e-3
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Folder for the curves picture and the weights.") var output = "runs/demo"

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
        print("\n— Training a small CNN on the UCI handwritten digits (8×8 pixels, embedded in the program) —")
        let (images, labels) = try DataSources.embeddedDigits()
        let all = TensorDataset(inputs: images, targets: labels)
        // Fixed splits: 20% test, then 10% of the rest for validation (keep-the-best).
        let (rest, test) = trainValidationSplit(all, validationFraction: 0.2, seed: seed)
        let (train, validation) = trainValidationSplit(rest, validationFraction: 0.1, seed: seed &+ 1)
        let model = DigitsCNN()
        print("DigitsCNN: \(model.parameterCount) parameters; \(train.count) training, \(validation.count) validation, \(test.count) test images")
        let optimizer = Adam(model.trainableParameters(), learningRate: learningRate)
        let trainer = Trainer(model: model, loss: CrossEntropyLoss(), optimizer: optimizer)
        trainer.log = { _ in }  // the dry-run line
        let before = trainer.evaluate(test)
        print(String(format: "untrained: test loss %.3f (ln 10 = %.3f), accuracy %.1f%%", before["loss"] ?? .nan, log(10.0),
                     100 * (before["accuracy"] ?? 0)))
        // Keep-the-best: the weights of the best validation epoch go to the weights file.
        let folder = URL(fileURLWithPath: output)
        let weightsURL = folder.appendingPathComponent("digits-cnn.safetensors")
        // The run's settings go into the weights file, so `myelin predict --weights` rebuilds the model.
        let settings = RunConfiguration(
            model: ModelSpec(name: "digits-cnn", inputShape: [1, 8, 8], classes: 10), dataset: "digits",
            classNames: (0...9).map(String.init), csv: nil, epochs: epochs, batchSize: batchSize, optimizer: "adam",
            learningRate: learningRate, momentum: 0, weightDecay: 0, schedule: "none", seed: seed, validationFraction: 0.1)
        let best = ModelCheckpoint(weightsURL, monitor: "val_accuracy", saveBestOnly: true, weightsOnly: true,
                                   metadata: [RunConfiguration.metadataKey: try settings.json()])
        let curves = CurvesCallback(directory: folder, name: "curves", title: "DigitsCNN on the UCI digits", everyEpoch: false)
        let start = Date()
        try trainer.fit(train: train, validation: validation, epochs: epochs, batchSize: batchSize, seed: seed,
                        callbacks: [ProgressDisplay(mode: .perEpoch), best, curves])
        let seconds = Date().timeIntervalSince(start)
        try loadWeights(into: model, from: weightsURL)
        let result = trainer.evaluate(test)
        let accuracy = result["accuracy"] ?? 0
        print(String(format: "trained in %.1f s; best validation accuracy %.2f%%; test accuracy %.2f%% (%d/%d images)",
                     seconds, 100 * best.best, 100 * accuracy, Int((accuracy * Double(test.count)).rounded()), test.count))
        let urls = (png: folder.appendingPathComponent("curves.png"), svg: folder.appendingPathComponent("curves.svg"))
        print("curves: \(urls.png.path) (and \(urls.svg.lastPathComponent)); weights: \(weightsURL.path)")
    }

}
