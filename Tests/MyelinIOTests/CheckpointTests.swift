import Foundation
import Testing
import Myelin

struct TrainConfig: Codable, Equatable {
    var model = "mlp"
    var learningRate = 0.001
    var batchSize = 64
    var epochs = 10
}

func sampleCheckpoint(epoch: Int = 3, scale: Double = 1) -> Checkpoint {
    let net = makeNet()
    let moments = net.stateDict().filter { $0.value.dtype == .float32 }.mapValues { $0 * scale }
    var optimizer = CheckpointPart(tensors: moments.reduce(into: [:]) { $0["exp_avg." + $1.key] = $1.value })
    optimizer.scalars = ["lr": 0.1 + 0.2, "step": 1200, "beta1": 0.9, "eps": 1e-8, "tiny": .leastNonzeroMagnitude,
                         "best": .infinity, "worst": -.infinity, "unset": .nan, "negzero": -0.0]
    let scheduler = CheckpointPart(tensors: ["history": Tensor([0.5, 0.25, 0.125], shape: [3], dtype: .float64)],
                                   scalars: ["last_epoch": Double(epoch), "base_lr": .pi])
    return Checkpoint(model: net, optimizer: optimizer, scheduler: scheduler, epoch: epoch, globalStep: epoch * 400,
                      rngState: [0, 1, UInt64.max, 0x0123_4567_89AB_CDEF],
                      configuration: (try? Checkpoint.encodeConfiguration(TrainConfig())) ?? "{}",
                      extra: ["git": "abc123", "val_accuracy": "0.9731"])
}

@Suite struct CheckpointTests {
    @Test func roundTripIsExact() throws {
        let scratch = Scratch()
        let url = scratch.url("ckpt.safetensors")
        let ckpt = sampleCheckpoint()
        try ckpt.save(to: url)
        let back = try Checkpoint.load(from: url)
        #expect(back == ckpt)
        #expect(back.optimizer.scalars["lr"]?.bitPattern == (0.1 + 0.2).bitPattern)
        #expect(back.optimizer.scalars["unset"]?.isNaN == true)
        #expect(back.optimizer.scalars["negzero"]?.sign == .minus)
        #expect(back.epoch == 3 && back.globalStep == 1200)
        #expect(back.rngState == [0, 1, UInt64.max, 0x0123_4567_89AB_CDEF])
        #expect(try back.configuration(as: TrainConfig.self) == TrainConfig())
        // The model part restores into a fresh model.
        let fresh = Sequential([TestLinear(3, 4, start: 5), TestReLU(), TestLinear(4, 2, start: 5), TestBatchNorm(2)])
        #expect(try back.restore(into: fresh).isClean)
        #expect(Checkpoint(model: fresh).model.keys.sorted() == ckpt.model.keys.sorted())
        #expect(Checkpoint(model: fresh) == Checkpoint(model: ckpt.model))
        // One safetensors file, with readable metadata.
        let meta = try SafeTensors.read(contentsOf: url).metadata
        #expect(meta["format"] == "myelin.checkpoint" && meta["format_version"] == "1" && meta["epoch"] == "3")
        #expect(meta["rng_state"] == "0000000000000000,0000000000000001,ffffffffffffffff,0123456789abcdef")
    }

    @Test func emptyPartsAndNoRNGState() throws {
        let scratch = Scratch()
        let url = scratch.url("small.safetensors")
        let ckpt = Checkpoint(model: ["w": Tensor([1, 2] as [Float])])
        try ckpt.save(to: url)
        #expect(try Checkpoint.load(from: url) == ckpt)
    }

    @Test func aPlainWeightsFileIsNotACheckpoint() throws {
        let scratch = Scratch()
        let url = scratch.url("weights.safetensors")
        try saveWeights(makeNet(), to: url)
        do {
            _ = try Checkpoint.load(from: url)
            Issue.record("a weights file loaded as a checkpoint")
        } catch let e as CheckpointError {
            guard case let .notACheckpoint(path, reason) = e else { Issue.record("\(e)"); return }
            #expect(path == url.path)
            #expect(reason.contains("format 'pt'") && reason.contains("9 tensors") && reason.contains("loadWeights"))
            #expect(e.description.contains("is not a Myelin checkpoint"))
        }
        try SafeTensors.write(["w": Tensor.zeros([1])], to: url)
        #expect(throws: CheckpointError.notACheckpoint(path: url.path, reason:
            "it has no 'format' = 'myelin.checkpoint' metadata; it holds 1 tensors (w). A plain weights file loads with loadWeights(into:from:)")) {
            try Checkpoint.load(from: url)
        }
    }

    @Test func malformedCheckpointsGiveClearErrors() throws {
        let scratch = Scratch()
        let url = scratch.url("bad.safetensors")
        let good = try { () throws -> [String: String] in
            try sampleCheckpoint().save(to: url)
            return try SafeTensors.read(contentsOf: url).metadata
        }()
        func attempt(_ change: (inout [String: String]) -> Void, tensors: [String: Tensor] = ["model/w": Tensor.zeros([1])]) throws -> CheckpointError? {
            var meta = good
            change(&meta)
            try SafeTensors.write(tensors, metadata: meta, to: url)
            do { _ = try Checkpoint.load(from: url) } catch let e as CheckpointError { return e }
            return nil
        }
        #expect(try attempt { $0["format_version"] = "2" } == .unsupportedVersion(path: url.path, found: 2, supported: 1))
        #expect(try attempt { $0["epoch"] = "-1" } == .badField(path: url.path, field: "epoch", value: "-1", reason: "not a non-negative integer"))
        #expect(try attempt { $0["global_step"] = nil } == .missingField(path: url.path, field: "global_step"))
        #expect(try attempt { $0["rng_state"] = "12,zz" } == .badField(path: url.path, field: "rng_state", value: "12,zz",
                                                                       reason: "'zz' is not a 64-bit hexadecimal word"))
        #expect(try attempt { $0["optimizer_scalars"] = "[1]" } == .badField(path: url.path, field: "optimizer_scalars", value: "[1]",
                                                                             reason: "not a JSON Dictionary<String, Double>"))
        #expect(try attempt({ _ in }, tensors: ["weights/w": Tensor.zeros([1])]) == .unknownTensor(path: url.path, name: "weights/w"))
        // A truncated checkpoint is a safetensors error naming the cut tensor.
        try sampleCheckpoint().save(to: url)
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 3).write(to: url)
        #expect(throws: SafeTensors.Error.self) { try Checkpoint.load(from: url) }
    }

    // MARK: Crash safety

    @Test func aLeftoverPartialTemporaryDoesNotHarmTheCheckpoint() throws {
        let scratch = Scratch()
        let url = scratch.url("ckpt.safetensors")
        let old = sampleCheckpoint(epoch: 1)
        try old.save(to: url)
        // What a crash mid-save leaves: half of a newer checkpoint under a temporary name.
        let newer = try { () throws -> Data in
            let other = scratch.url("other.safetensors")
            try sampleCheckpoint(epoch: 2, scale: 3).save(to: other)
            return try Data(contentsOf: other)
        }()
        let stray = scratch.url(".ckpt.safetensors.99999.1.tmp")
        try newer.prefix(newer.count / 2).write(to: stray)
        #expect(AtomicFile.leftoverTemporaries(of: url) == [stray])
        #expect(try Checkpoint.load(from: url) == old)
        // The next save succeeds and replaces the checkpoint.
        let next = sampleCheckpoint(epoch: 5, scale: 2)
        try next.save(to: url)
        #expect(try Checkpoint.load(from: url) == next)
    }

    @Test func aFailureDuringTheWriteLeavesTheOldFileAndNoTemporary() throws {
        struct Interrupted: Error {}
        let scratch = Scratch()
        let url = scratch.url("ckpt.safetensors")
        let old = sampleCheckpoint(epoch: 1)
        try old.save(to: url)
        #expect(throws: Interrupted.self) {
            try AtomicFile.write(to: url) { w in
                try w.write([UInt8](repeating: 0xAB, count: 10_000))
                throw Interrupted()
            }
        }
        #expect(AtomicFile.leftoverTemporaries(of: url).isEmpty)
        #expect(try Checkpoint.load(from: url) == old)
    }

    /// A process killed (SIGKILL, no cleanup at all) halfway through writing a checkpoint:
    /// the previous checkpoint is intact and loads; only a stray temporary remains.
    @Test func aKillDuringTheSaveLeavesThePreviousCheckpoint() async throws {
        let scratch = Scratch()
        let url = scratch.url("ckpt.safetensors")
        let old = sampleCheckpoint(epoch: 1)
        try old.save(to: url)
        await #expect(processExitsWith: .signal(SIGKILL)) { [url = url as URL] in
            let other = url.deletingLastPathComponent().appendingPathComponent("newer.safetensors")
            try sampleCheckpoint(epoch: 9, scale: 5).save(to: other)
            let bytes = try Data(contentsOf: other)
            try AtomicFile.write(to: url) { w in
                try w.write(bytes.prefix(bytes.count / 2))
                kill(getpid(), SIGKILL)
                try w.write(bytes.suffix(from: bytes.count / 2))
            }
        }
        let leftovers = AtomicFile.leftoverTemporaries(of: url)
        #expect(leftovers.count == 1)
        #expect(try Checkpoint.load(from: url) == old)
        #expect(throws: SafeTensors.Error.self) { try SafeTensors.read(contentsOf: leftovers[0]) }
    }

    @Test(.enabled(if: pythonWithTorch != nil)) func pythonReadsACheckpoint() throws {
        let scratch = Scratch()
        let url = scratch.url("ckpt.safetensors")
        try sampleCheckpoint().save(to: url)
        let script = """
        import sys, json
        from safetensors import safe_open
        with safe_open(sys.argv[1], "pt") as f:
            m = f.metadata()
            keys = set(f.keys())
            assert m["format"] == "myelin.checkpoint" and m["epoch"] == "3" and m["global_step"] == "1200"
            assert json.loads(m["configuration"])["batchSize"] == 64
            assert json.loads(m["optimizer_scalars"])["lr"] == 0.1 + 0.2
            assert "model/0.weight" in keys and "optimizer/exp_avg.0.weight" in keys and "scheduler/history" in keys
            assert f.get_tensor("scheduler/history").tolist() == [0.5, 0.25, 0.125]
        print("python-ok")
        """
        #expect(try runPython(script, arguments: [url.path]).contains("python-ok"))
    }
}
