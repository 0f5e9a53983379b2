import Foundation
import Testing
import Myelin

typealias S = TrainTestSupport

@Suite struct TrainerTests {
    @Test func fitLearnsSeparableProblemAndLogsKerasHistory() throws {
        let g = RandomGenerator(seed: 1)
        let train = S.blobs(count: 240, seed: 10), val = S.blobs(count: 90, seed: 11)
        let model = S.mlp(generator: g)
        let trainer = S.trainer(model, generator: g)
        var lines: [String] = []
        trainer.log = { lines.append($0) }
        let history = try trainer.fit(train: train, validation: val, epochs: 8, batchSize: 32, seed: 5, verbose: false)
        #expect(Set(history.keys) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"])
        #expect(history.epochs == Array(0..<8))
        for k in history.keys { #expect(history[k].count == 8) }
        #expect(history["val_accuracy"].last ?? 0 >= 0.95)
        #expect(history["accuracy"].last ?? 0 >= 0.9)
        #expect((history["loss"].last ?? 9) < (history["loss"].first ?? 0))
        #expect(history["lr"].allSatisfy { $0 == 0.01 })
        #expect(trainer.epoch == 8 && trainer.globalStep == 8 * 8)
        // The dry run announced the shapes.
        #expect(lines.first == "dry run: input [32, 4] → output [32, 3] (target int64 [32])")
        // evaluate in eval mode reproduces the last validation logs; the model is back in training mode.
        let eval = trainer.evaluate(val, batchSize: 64)
        #expect(abs((eval["loss"] ?? 0) - (history["val_loss"].last ?? 1)) < 1e-6)
        #expect(eval["accuracy"] == history["val_accuracy"].last)
        #expect(model.training)
        // predict: batched outputs equal one forward pass.
        let p = trainer.predict(val.inputs, batchSize: 7)
        #expect(p.shape == [90, 3])
        model.eval()
        let direct = withoutGradients { model(val.inputs) }
        model.train()
        #expect(p.scalars(as: Float.self) == direct.scalars(as: Float.self))
        #expect(trainer.predict(val, batchSize: 50).shape == [90, 3])
    }

    @Test func validationSplitAndTensorFit() throws {
        let g = RandomGenerator(seed: 2)
        let data = S.blobs(count: 200, seed: 12)
        let trainer = S.trainer(S.mlp(generator: g), generator: g)
        let h = try trainer.fit(x: data.inputs, y: data.targets, validationSplit: 0.25, epochs: 3, batchSize: 25, seed: 1, verbose: false)
        #expect(h["val_loss"].count == 3)
        #expect(trainer.samplesPerEpoch == 150 && trainer.stepsPerEpoch == 6)
        #expect(trainer.configuration?.validationSamples == 50)
        #expect(throws: TrainingError.self) {
            try trainer.fit(train: data, validation: data, validationSplit: 0.2, epochs: 1, verbose: false)
        }
    }

    @Test func dryRunRejectsTooFewClasses() throws {
        let g = RandomGenerator(seed: 3)
        let data = S.blobs(count: 60, classes: 3, seed: 13)
        // Two outputs for three classes: label 2 is out of range.
        let trainer = S.trainer(S.mlp(classes: 2, generator: g), generator: g)
        do {
            try trainer.fit(train: data, epochs: 1, batchSize: 16, seed: 0, verbose: false)
            Issue.record("fit should have thrown")
        } catch let e as TrainingError {
            let text = e.description
            #expect(text.contains("input [16, 4]") && text.contains("output [16, 2]") && text.contains("[16]"))
            #expect(text.contains("label is 2") && text.contains("2 classes"))
        }
        #expect(trainer.globalStep == 0)
    }

    @Test func dryRunRejectsBroadcastingRegressionTarget() throws {
        let g = RandomGenerator(seed: 4)
        let x = Tensor.randn([12, 3], generator: g)
        let y = Tensor.randn([12], generator: g)
        let model = Sequential { Linear(3, 1, generator: g) }
        let trainer = Trainer(model: model, loss: MSELoss(), optimizer: SGD(model.parameters(), learningRate: 0.1),
                              metrics: [], randomGenerators: [g])
        trainer.log = { _ in }
        #expect {
            try trainer.fit(x: x, y: y, epochs: 1, batchSize: 8, seed: 0, verbose: false)
        } throws: { error in
            guard let e = error as? TrainingError, case .shapeMismatch(let input, let output, let target, _) = e else { return false }
            return input == [8, 3] && output == [8, 1] && target == [8] && e.description.contains("broadcast")
        }
    }

    @Test func dryRunRejectsSampleMixingModel() throws {
        let g = RandomGenerator(seed: 5)
        let data = S.blobs(count: 32, seed: 14)
        // A reshape that folds the batch into the features.
        final class Folding: Module, UnaryLayer {
            let inner: Linear
            init(_ g: RandomGenerator) { inner = Linear(8, 3, generator: g); super.init() }
            func callAsFunction(_ x: Tensor) -> Tensor { inner(x.reshaped([-1, 8])) }
        }
        let model = Folding(g)
        let trainer = Trainer(model: model, loss: CrossEntropyLoss(), optimizer: SGD(model.parameters(), learningRate: 0.1),
                              randomGenerators: [g])
        trainer.log = { _ in }
        #expect(throws: TrainingError.shapeMismatch(input: [8, 4], output: [4, 3], target: [8],
                                                     reason: "the batch has 8 samples but the output has 4 rows; a reshape or flatten in the model mixes samples")) {
            try trainer.fit(train: data, epochs: 1, batchSize: 8, seed: 0, verbose: false)
        }
    }

    @Test func schedulesStepPerEpochAndPerBatch() throws {
        let data = S.blobs(count: 64, seed: 15)
        do {
            let g = RandomGenerator(seed: 6)
            let t = S.trainer(S.mlp(generator: g), lr: 0.1, generator: g) { StepLR($0, stepSize: 1, gamma: 0.5) }
            let h = try t.fit(train: data, epochs: 3, batchSize: 16, seed: 0, verbose: false)
            #expect(h["lr"] == [0.1, 0.05, 0.025])
            #expect(t.optimizer.learningRate == 0.0125)
        }
        do {
            let g = RandomGenerator(seed: 7)
            let t = S.trainer(S.mlp(generator: g), lr: 0.1, generator: g) { StepLR($0, stepSize: 1, gamma: 0.5, interval: .batch) }
            try t.fit(train: data, epochs: 2, batchSize: 16, seed: 0, verbose: false)
            #expect(t.optimizer.learningRate == 0.1 * pow(0.5, 8))
        }
        do {
            // ReduceLROnPlateau as the schedule, fed "loss" (no validation data), mode max:
            // the falling loss never "improves", so the rate is cut after every epoch after the first.
            let g = RandomGenerator(seed: 8)
            let t = S.trainer(S.mlp(generator: g), lr: 0.01, generator: g) { ReduceLROnPlateau($0, mode: .max, factor: 0.5, patience: 0) }
            let h = try t.fit(train: data, epochs: 4, batchSize: 16, seed: 0, verbose: false)
            #expect(h["lr"] == [0.01, 0.01, 0.005, 0.0025])
        }
    }

    @Test func clipGradNormIsApplied() throws {
        let g = RandomGenerator(seed: 9)
        let data = S.blobs(count: 32, seed: 16)
        let model = S.mlp(generator: g)
        let trainer = Trainer(model: model, loss: CrossEntropyLoss(), optimizer: SGD(model.parameters(), learningRate: 0.1),
                              clipGradNorm: 1e-3, randomGenerators: [g])
        trainer.log = { _ in }
        var norms: [Double] = []
        let probe = LambdaCallback(onBatchEnd: { t, _, _ in
            // After the step the gradients are still there: their norm was clipped.
            let sq = t.model.parameters().compactMap(\.grad).map { $0.square().sum().itemDouble() }.reduce(0, +)
            norms.append(sq.squareRoot())
        })
        try trainer.fit(train: data, epochs: 1, batchSize: 8, seed: 0, callbacks: [probe], verbose: false)
        #expect(norms.count == 4)
        #expect(norms.allSatisfy { $0 <= 1.0001e-3 })
    }

    @Test(.enabled(if: S.hasTabular("breast_cancer.csv"), "needs ../shared/data/tabular"))
    func mlpOnBreastCancerReaches95Percent() throws {
        let table = try CSVTable(contentsOf: S.tabular("breast_cancer.csv"))
        let label = table.header.last ?? ""
        let (data, encoder) = try table.dataset(target: label, categories: [label: ["malignant", "benign"]])
        #expect(encoder.classes == ["malignant", "benign"])
        let (trainPart, valPart) = trainValidationSplit(data, validationFraction: 0.2, seed: 0)
        // Standardised with the training split's statistics only.
        let scaler = Standardizer(fitting: trainPart.all().input)
        let train = scaler.transform(trainPart), val = scaler.transform(valPart)
        let g = RandomGenerator(seed: 42)
        let model = Sequential {
            Linear(30, 32, generator: g); ReLU()
            Dropout(0.2, generator: g)
            Linear(32, 2, generator: g)
        }
        let trainer = Trainer(model: model, loss: CrossEntropyLoss(), optimizer: Adam(model.parameters(), learningRate: 1e-3),
                              metrics: [Accuracy(), F1Score()], randomGenerators: [g])
        trainer.log = { _ in }
        let h = try trainer.fit(train: train, validation: val, epochs: 30, batchSize: 32, seed: 1, verbose: false)
        let acc = h["val_accuracy"].last ?? 0
        #expect(acc >= 0.95, "validation accuracy \(acc)")
        #expect(h["val_f1"].last ?? 0 >= 0.94)
    }
}
