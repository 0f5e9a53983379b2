import Foundation
import Testing
import Myelin

@Suite struct CallbackTests {
    @Test func earlyStoppingCountsPatienceAndRestoresBestWeights() throws {
        let g = RandomGenerator(seed: 20)
        let model = S.mlp(generator: g)
        let trainer = S.trainer(model, generator: g)
        let es = EarlyStopping(monitor: "val_loss", patience: 2, restoreBestWeights: true, verbose: false)
        es.onTrainBegin(trainer)
        let losses = [1.0, 0.8, 0.9, 0.85, 0.7]
        var weightsAt: [[String: Tensor]] = []
        for (epoch, v) in losses.enumerated() where !trainer.stopTraining {
            // Each "epoch" changes the weights.
            for p in model.parameters() { p.assign(p.value + Double(epoch + 1)) }
            weightsAt.append(model.stateDict())
            try es.onEpochEnd(trainer, epoch: epoch, logs: ["val_loss": v])
        }
        // Epoch 1 is best; epochs 2 and 3 do not improve: stop after epoch 3 (patience 2).
        #expect(es.stoppedEpoch == 3)
        #expect(es.bestEpoch == 1 && es.best == 0.8)
        #expect(trainer.stopTraining)
        #expect(S.sameBits(model.stateDict(), weightsAt[1]))
        #expect(weightsAt.count == 4)
    }

    @Test func earlyStoppingInsideFit() throws {
        let g = RandomGenerator(seed: 21)
        let data = S.blobs(count: 96, seed: 22)
        let model = S.mlp(generator: g)
        let trainer = S.trainer(model, generator: g)
        var firstEpochWeights: [String: Tensor]?
        let capture = LambdaCallback(onEpochEnd: { t, e, _ in if e == 0 { firstEpochWeights = t.model.stateDict() } })
        // The training loss falls every epoch, so in mode max it never improves after epoch 0.
        let es = EarlyStopping(monitor: "loss", mode: .max, patience: 1, restoreBestWeights: true, verbose: false)
        let h = try trainer.fit(train: data, epochs: 10, batchSize: 16, seed: 0, callbacks: [capture, es], verbose: false)
        #expect(h.epochs == [0, 1])
        #expect(trainer.epoch == 2)
        #expect(es.stoppedEpoch == 1)
        let first = try #require(firstEpochWeights)
        #expect(S.sameBits(model.stateDict(), first))
    }

    @Test func earlyStoppingAutoMode() {
        #expect(EarlyStopping(monitor: "val_accuracy").mode == .max)
        #expect(EarlyStopping(monitor: "val_loss").mode == .min)
        #expect(EarlyStopping(monitor: "val_top5_accuracy").mode == .max)
    }

    @Test func modelCheckpointKeepsBestValidationModel() throws {
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let g = RandomGenerator(seed: 23)
        let train = S.blobs(count: 120, noise: 1.5, seed: 24), val = S.blobs(count: 60, noise: 1.5, seed: 25)
        let model = S.mlp(generator: g)
        let trainer = S.trainer(model, lr: 0.05, generator: g)
        var perEpoch: [[String: Tensor]] = []
        let capture = LambdaCallback(onEpochEnd: { t, _, _ in perEpoch.append(t.model.stateDict()) })
        let best = dir.appendingPathComponent("best.safetensors")
        let mc = ModelCheckpoint(best, monitor: "val_loss")
        let h = try trainer.fit(train: train, validation: val, epochs: 6, batchSize: 16, seed: 3,
                                callbacks: [capture, mc], verbose: false)
        let vals = h["val_loss"]
        let bestEpoch = vals.indices.min { vals[$0] < vals[$1] } ?? -1
        #expect(mc.bestEpoch == bestEpoch)
        #expect(mc.best == vals[bestEpoch])
        // A file is written only on improvement.
        var improvements = 0, running = Double.infinity
        for v in vals where v < running { improvements += 1; running = v }
        #expect(mc.saved.count == improvements)
        let ckpt = try Checkpoint.load(from: best)
        #expect(ckpt.epoch == bestEpoch + 1)
        #expect(S.sameBits(ckpt.model, perEpoch[bestEpoch]))
        #expect(ckpt.extra["monitor"] == "val_loss")
        // Loading it gives the best validation loss back.
        try ckpt.restore(into: model)
        #expect(abs((trainer.evaluate(val)["loss"] ?? 0) - vals[bestEpoch]) < 1e-6)
        #expect(AtomicFile.leftoverTemporaries(of: best).isEmpty)
    }

    @Test func modelCheckpointEveryEpochWithTemplate() throws {
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let g = RandomGenerator(seed: 26)
        let trainer = S.trainer(S.mlp(generator: g), generator: g)
        let mc = ModelCheckpoint(dir.appendingPathComponent("w-{epoch}.safetensors"), monitor: "loss", saveBestOnly: false, weightsOnly: true)
        try trainer.fit(train: S.blobs(count: 48, seed: 27), epochs: 3, batchSize: 16, seed: 0, callbacks: [mc], verbose: false)
        #expect(mc.saved.map(\.lastPathComponent) == ["w-001.safetensors", "w-002.safetensors", "w-003.safetensors"])
        let restored = S.mlp(generator: RandomGenerator(seed: 99))
        try loadWeights(into: restored, from: mc.saved[2])
        #expect(S.sameBits(restored.stateDict(), trainer.model.stateDict()))
    }

    @Test func csvLoggerWritesOneRowPerEpoch() throws {
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let g = RandomGenerator(seed: 28)
        let trainer = S.trainer(S.mlp(generator: g), generator: g)
        let url = dir.appendingPathComponent("logs/train.csv")
        let h = try trainer.fit(train: S.blobs(count: 64, seed: 29), validation: S.blobs(count: 30, seed: 30), epochs: 3,
                                batchSize: 16, seed: 0, callbacks: [CSVLogger(url)], verbose: false)
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "epoch,accuracy,loss,lr,time,val_accuracy,val_loss")
        for (e, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",").map(String.init)
            #expect(f.count == 7)
            #expect(f[0] == String(e))
            #expect(Double(f[2]) == h["loss"][e])
            #expect(Double(f[6]) == h["val_loss"][e])
        }
    }

    @Test func progressDisplayOneLinePerEpochWhenNotATerminal() throws {
        let g = RandomGenerator(seed: 31)
        let trainer = S.trainer(S.mlp(generator: g), generator: g)
        var text = ""
        let progress = ProgressDisplay(mode: .perEpoch, output: { text += $0 })
        try trainer.fit(train: S.blobs(count: 64, seed: 32), validation: S.blobs(count: 30, seed: 33), epochs: 2,
                        batchSize: 16, seed: 0, callbacks: [progress], verbose: true)
        #expect(!text.contains("\r"))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        for (e, line) in lines.enumerated() {
            #expect(line.hasPrefix("Epoch \(e + 1)/2 - 4/4 - "))
            #expect(line.contains(" samples/s - loss: "))
            #expect(line.contains(" - accuracy: ") && line.contains(" - val_loss: ") && line.contains(" - val_accuracy: "))
            #expect(line.hasSuffix(" - lr: 0.01"))
            // e.g. "Epoch 1/2 - 4/4 - 0.0s - 12000 samples/s - loss: 1.0123 - accuracy: 0.5000 - ..."
            let parts = line.components(separatedBy: " - ")
            #expect(parts.count == 9)
            #expect(parts[4].hasPrefix("loss: ") && parts[4].count == "loss: 0.0000".count)
        }
    }

    @Test func progressDisplayPerStepRewritesOneLine() throws {
        let g = RandomGenerator(seed: 34)
        let trainer = S.trainer(S.mlp(generator: g), generator: g)
        var chunks: [String] = []
        let progress = ProgressDisplay(mode: .perStep, updateInterval: 0, output: { chunks.append($0) })
        try trainer.fit(train: S.blobs(count: 64, seed: 35), epochs: 1, batchSize: 16, seed: 0, callbacks: [progress], verbose: false)
        // Four step updates and the epoch line.
        #expect(chunks.count == 5)
        #expect(chunks[0].hasPrefix("\r\u{1B}[2KEpoch 1/1 - 1/4 ["))
        #expect(chunks[0].contains("ETA ") && chunks[0].contains("samples/s") && chunks[0].contains("loss: "))
        #expect(chunks[3].contains("4/4 [====================]"))
        #expect(chunks[4].hasSuffix("\n") && !chunks[0].contains("\n"))
    }

    @Test func reduceLROnPlateauCallbackAndLambdaStop() throws {
        let g = RandomGenerator(seed: 36)
        let trainer = S.trainer(S.mlp(generator: g), generator: g)
        let plateau = ReduceLROnPlateauCallback(monitor: "loss", mode: .max, factor: 0.5, patience: 0, verbose: false)
        let stop = LambdaCallback(onEpochEnd: { t, e, _ in if e == 3 { t.stopTraining = true } })
        let h = try trainer.fit(train: S.blobs(count: 64, seed: 37), epochs: 10, batchSize: 16, seed: 0,
                                callbacks: [plateau, stop], verbose: false)
        #expect(h["lr"] == [0.01, 0.01, 0.005, 0.0025])
        #expect(trainer.epoch == 4)
        // A callback can also stop in the middle of an epoch.
        var steps = 0
        let midStop = LambdaCallback(onBatchEnd: { t, s, _ in steps += 1; if s == 1 { t.stopTraining = true } })
        try trainer.fit(train: S.blobs(count: 64, seed: 37), epochs: 3, batchSize: 16, seed: 0, callbacks: [midStop], verbose: false)
        #expect(steps == 2 && trainer.globalStep == 2 && trainer.epoch == 1)
    }

    @Test func curvesAreWrittenAsPNGAndSVG() throws {
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let g = RandomGenerator(seed: 38)
        let trainer = S.trainer(S.mlp(generator: g), generator: g)
        try trainer.fit(train: S.blobs(count: 64, seed: 39), validation: S.blobs(count: 30, seed: 40), epochs: 3,
                        batchSize: 16, seed: 0, curvesDirectory: dir, verbose: false)
        let png = try Data(contentsOf: dir.appendingPathComponent("curves.png"))
        #expect(Array(png.prefix(8)) == PNG.signature)
        let svg = try String(contentsOf: dir.appendingPathComponent("curves.svg"), encoding: .utf8)
        #expect(svg.contains("<svg") && svg.contains("validation") && svg.contains("Accuracy"))
        #expect(!svg.contains(">lr<") && !svg.contains(">time<"))
    }

    @Test func terminateOnNaN() throws {
        let g = RandomGenerator(seed: 41)
        let model = S.mlp(generator: g)
        // An absurd learning rate with plain SGD blows the loss up.
        let trainer = Trainer(model: model, loss: { mseLoss($0, $1) * 1e30 }, optimizer: SGD(model.parameters(), learningRate: 1e30),
                              metrics: [], randomGenerators: [g])
        var messages: [String] = []
        trainer.log = { messages.append($0) }
        let data = S.blobs(count: 64, seed: 42)
        let x = data.inputs, y = withoutGradients { data.targets.oneHot(classes: 3) }
        try trainer.fit(x: x, y: y, epochs: 5, batchSize: 8, seed: 0, callbacks: [TerminateOnNaN()], verbose: false)
        #expect(trainer.epoch == 1)
        #expect(trainer.globalStep < 8)
        #expect(messages.contains { $0.contains("training stopped") })
    }
}
