import Foundation
import Testing
import Myelin

/// What an application (the `myelin` tool) needs beyond Keras' API: its own entries in
/// checkpoints and best-weights files, and binary classifiers with one logit per sample.
@Suite struct ApplicationHookTests {
    @Test func checkpointMetadataAndModelCheckpointMetadataAreSaved() throws {
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let g = RandomGenerator(seed: 31)
        let train = S.blobs(count: 48, seed: 32), val = S.blobs(count: 24, seed: 33)
        let trainer = S.trainer(S.mlp(generator: g), generator: g)
        trainer.checkpointMetadata = ["app.settings": "{\"a\":1}"]
        let best = dir.appendingPathComponent("best.safetensors")
        let mc = ModelCheckpoint(best, monitor: "val_accuracy", weightsOnly: true, metadata: ["app.settings": "{\"b\":2}"])
        try trainer.fit(train: train, validation: val, epochs: 2, batchSize: 16, seed: 0, callbacks: [mc],
                        checkpointDirectory: dir, verbose: false)
        let last = try Checkpoint.load(from: dir.appendingPathComponent("last.safetensors"))
        #expect(last.extra["app.settings"] == "{\"a\":1}")
        #expect(last.extra["history"] != nil)
        let (_, meta) = try SafeTensors.read(contentsOf: best)
        #expect(meta["app.settings"] == "{\"b\":2}")
        #expect(meta["epoch"] == String((mc.bestEpoch ?? -1) + 1))
    }

    @Test func singleLogitWithBinaryLabels() throws {
        let g = RandomGenerator(seed: 34)
        // Two well separated blobs, labels 0/1 as int64, one logit per sample.
        let x = Tensor.concat([Tensor.randn([20, 2], generator: g) - 2, Tensor.randn([20, 2], generator: g) + 2])
        let y = Tensor(Array(repeating: Int64(0), count: 20) + Array(repeating: Int64(1), count: 20))
        let model = Sequential { Linear(2, 1, generator: g) }
        let trainer = Trainer(model: model, loss: { binaryCrossEntropyWithLogits($0, $1.to(.float32).reshaped([-1, 1])) },
                              optimizer: Adam(model.parameters(), learningRate: 0.1),
                              metrics: [Accuracy(fromLogits: true)], randomGenerators: [g])
        trainer.log = { _ in }
        let h = try trainer.fit(x: x, y: y, epochs: 20, batchSize: 8, seed: 1, verbose: false)
        #expect((h["accuracy"].last ?? 0) > 0.95)

        // A label other than 0/1 is refused by the dry run, naming it.
        let bad = Tensor(Array(repeating: Int64(0), count: 39) + [Int64(2)])
        do {
            try trainer.fit(x: x, y: bad, epochs: 1, batchSize: 40, shuffle: false, seed: 1, verbose: false)
            Issue.record("fit should have thrown")
        } catch let e as TrainingError {
            #expect(e.description.contains("label is 2") && e.description.contains("0 or 1"))
        }
    }
}
