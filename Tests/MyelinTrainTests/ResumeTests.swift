import Foundation
import Testing
import Myelin

@Suite struct ResumeTests {
    /// A fresh set-up: an MLP with dropout (so the random stream matters), Adam (moments
    /// and step counts matter) and a step schedule (its counters matter). `initSeed`
    /// changes the initial weights, as a restarted process would.
    static func setup(initSeed: UInt64) -> Trainer {
        let g = RandomGenerator(seed: initSeed)
        let model = S.mlp(hidden: 24, dropout: 0.3, generator: g)
        let trainer = S.trainer(model, lr: 0.02, generator: g, metrics: [Accuracy(), F1Score()]) { StepLR($0, stepSize: 2, gamma: 0.5) }
        return trainer
    }

    @Test func resumedRunIsBitForBitTheUninterruptedOne() throws {
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = S.blobs(count: 150, noise: 1.2, seed: 50), val = S.blobs(count: 45, noise: 1.2, seed: 51)
        let epochs = 5, k = 2

        // Uninterrupted.
        let a = Self.setup(initSeed: 7)
        let ha = try a.fit(train: train, validation: val, epochs: epochs, batchSize: 16, shuffle: true, seed: 9, verbose: false)

        // k epochs with checkpoints, then a "crash".
        let b = Self.setup(initSeed: 7)
        let csv = dir.appendingPathComponent("log.csv")
        try b.fit(train: train, validation: val, epochs: k, batchSize: 16, shuffle: true, seed: 9,
                  callbacks: [CSVLogger(csv), EarlyStopping(monitor: "val_loss", patience: 100, verbose: false)],
                  checkpointDirectory: dir, verbose: false)
        let saved = try Checkpoint.load(from: dir.appendingPathComponent("last.safetensors"))
        #expect(saved.epoch == k)
        #expect(saved.globalStep == k * 10)
        #expect(!saved.optimizer.tensors.isEmpty && saved.scheduler.scalars["last_epoch"] == Double(k))
        let config = try saved.configuration(as: TrainingConfiguration.self)
        #expect(config.seed == 9 && config.loaderEpoch == k && config.batchSize == 16)
        #expect(saved.extra.keys.contains { $0.hasPrefix("callback.1.EarlyStopping") })

        // New objects with different initial weights, resumed from the checkpoint directory.
        let c = Self.setup(initSeed: 12345)
        #expect(!S.sameBits(c.model.stateDict(), b.model.stateDict()))
        let es = EarlyStopping(monitor: "val_loss", patience: 100, verbose: false)
        let hc = try c.fit(train: train, validation: val, epochs: epochs, batchSize: 16, shuffle: true, seed: 9,
                           callbacks: [CSVLogger(csv), es], resumeFrom: dir, verbose: false)

        #expect(S.sameBits(c.model.stateDict(), a.model.stateDict()))
        let oa = a.optimizer.stateDict(), oc = c.optimizer.stateDict()
        #expect(S.sameBits(oa.tensors, oc.tensors) && oa.scalars == oc.scalars)
        #expect(c.optimizer.learningRate == a.optimizer.learningRate)
        #expect(c.epoch == epochs && c.globalStep == a.globalStep)
        #expect(c.randomGenerators[0].state == a.randomGenerators[0].state)
        // The history carries on: the same numbers except the wall-clock times.
        #expect(hc.epochs == Array(0..<epochs))
        for key in ["loss", "accuracy", "f1", "val_loss", "val_accuracy", "lr"] { #expect(hc[key] == ha[key], "\(key)") }
        // The CSV log has every epoch once.
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rows.map { $0.split(separator: ",")[0] } == ["0", "1", "2", "3", "4"])
    }

    @Test func resumeRefusesADifferentSetUp() throws {
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = S.blobs(count: 48, seed: 52)
        let b = Self.setup(initSeed: 1)
        try b.fit(train: train, epochs: 1, batchSize: 16, seed: 3, checkpointDirectory: dir, verbose: false)
        let c = Self.setup(initSeed: 2)
        #expect {
            try c.fit(train: train, epochs: 2, batchSize: 8, seed: 3, resumeFrom: dir, verbose: false)
        } throws: { error in
            (error as? TrainingError)?.description.contains("batch size 16, this run has 8") ?? false
        }
        // A different model is refused by name and parameter count.
        let g = RandomGenerator(seed: 3)
        let other = S.trainer(S.mlp(hidden: 8, generator: g), generator: g) { StepLR($0, stepSize: 2, gamma: 0.5) }
        #expect {
            try other.fit(train: train, epochs: 2, batchSize: 16, seed: 3, resumeFrom: dir, verbose: false)
        } throws: { error in
            (error as? TrainingError)?.description.contains("parameters") ?? false
        }
        #expect(throws: TrainingError.self) {
            try c.fit(train: train, epochs: 2, batchSize: 16, resumeFrom: dir.appendingPathComponent("missing.safetensors"), verbose: false)
        }
    }

    @Test func nonFiniteValuesSurviveTheCheckpoint() throws {
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = S.blobs(count: 32, seed: 54)
        let b = Self.setup(initSeed: 1)
        // A metric that is NaN, and an early stopping that has seen only NaN (best stays +inf).
        let es = EarlyStopping(monitor: "nan_metric", patience: 100, verbose: false)
        final class NaNMetric: Metric {
            let name = "nan_metric"
            func reset() {}
            func update(output: Tensor, target: Tensor) {}
            func results() -> [String: Double] { [name: .nan] }
        }
        b.metrics.append(NaNMetric())
        try b.fit(train: train, epochs: 1, batchSize: 16, seed: 3, callbacks: [es], checkpointDirectory: dir, verbose: false)
        #expect(es.best == .infinity)
        let c = Self.setup(initSeed: 2)
        c.metrics.append(NaNMetric())
        let es2 = EarlyStopping(monitor: "nan_metric", patience: 100, verbose: false)
        let h = try c.fit(train: train, epochs: 2, batchSize: 16, seed: 3, callbacks: [es2], resumeFrom: dir, verbose: false)
        #expect(h["nan_metric"].count == 2 && h["nan_metric"].allSatisfy(\.isNaN))
        #expect(es2.best == .infinity && es2.wait == 2)
    }

    @Test func resumeWithADataLoader() throws {
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = S.blobs(count: 64, seed: 53)
        let a = Self.setup(initSeed: 4)
        try a.fit(train: DataLoader(train, batchSize: 16, shuffle: true, seed: 21), epochs: 3, verbose: false)
        let b = Self.setup(initSeed: 4)
        try b.fit(train: DataLoader(train, batchSize: 16, shuffle: true, seed: 21), epochs: 1, checkpointDirectory: dir, verbose: false)
        let c = Self.setup(initSeed: 5)
        let loader = DataLoader(train, batchSize: 16, shuffle: true, seed: 21)
        try c.fit(train: loader, epochs: 3, resumeFrom: dir, verbose: false)
        #expect(S.sameBits(c.model.stateDict(), a.model.stateDict()))
        #expect(loader.epoch == 3)
        // A loader with another seed would see other batches: refused.
        let d = Self.setup(initSeed: 5)
        #expect(throws: TrainingError.self) {
            try d.fit(train: DataLoader(train, batchSize: 16, shuffle: true, seed: 22), epochs: 3, resumeFrom: dir, verbose: false)
        }
    }
}
