import Foundation
import Testing
import Myelin

@Suite struct TransformerLMTests {
    static let fixtures = CaseFixtures(file: "transformer_models.safetensors", script: "fixtures_transformer_models.py", flags: [])

    static func tiny(vocabulary: Int = 11, block: Int = 8, positions: TransformerLMConfiguration.Positions = .learned,
                     tie: Bool = false, seed: UInt64 = 1) -> TransformerLM {
        TransformerLM(TransformerLMConfiguration(vocabularySize: vocabulary, blockSize: block, layers: 2, heads: 2, width: 16,
                                                 positions: positions, tieWeights: tie), generator: RandomGenerator(seed: seed))
    }

    @Test func logitsHaveOneRowPerPositionAndTheNamesOfThePyTorchScript() {
        let lm = Self.tiny()
        let tokens = Tensor.randint(0, 11, [3, 5], generator: RandomGenerator(seed: 2))
        #expect(lm(tokens).shape == [3, 5, 11])
        let names = Set(lm.stateDict().keys)
        for key in ["token_embedding.weight", "position_embedding.weight", "encoder.layers.0.self_attn.in_proj_weight",
                    "encoder.layers.1.linear2.bias", "encoder.layers.1.norm2.weight", "norm.weight", "head.weight"] {
            #expect(names.contains(key), "missing \(key)")
        }
        // 11·16 + 8·16 + 2·(4·16² + 4·16 + 2·16·64 + 64 + 16 + 4·16) + 2·16 + 16·11
        #expect(lm.parameterCount == 176 + 128 + 2 * (1024 + 64 + 2048 + 64 + 16 + 64) + 32 + 176)
        // Tied: no head of its own; sinusoidal: no position table.
        let tied = Self.tiny(positions: .sinusoidal, tie: true)
        #expect(tied.head == nil && !tied.stateDict().keys.contains { $0.hasPrefix("position_embedding") || $0.hasPrefix("head") })
        #expect(tied(tokens).shape == [3, 5, 11])
        #expect(tied.parameterCount == lm.parameterCount - 176 - 128)
    }

    @Test func gptInitialisation() {
        let lm = TransformerLM(TransformerLMConfiguration(vocabularySize: 50, blockSize: 64, layers: 1, heads: 2, width: 64),
                               generator: RandomGenerator(seed: 3))
        let state = lm.stateDict()
        for key in ["token_embedding.weight", "encoder.layers.0.linear1.weight", "encoder.layers.0.self_attn.in_proj_weight", "head.weight"] {
            let v = state[key]?.scalars(as: Double.self) ?? []
            let mean = v.reduce(0, +) / Double(v.count)
            let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
            #expect(abs(std - 0.02) < 0.002 && abs(mean) < 0.002, "\(key): mean \(mean), std \(std)")
        }
        #expect(state["encoder.layers.0.linear1.bias"]?.scalars(as: Float.self).allSatisfy { $0 == 0 } == true)
        #expect(state["encoder.layers.0.norm1.weight"]?.scalars(as: Float.self).allSatisfy { $0 == 1 } == true)
        #expect(state["norm.weight"]?.scalars(as: Float.self).allSatisfy { $0 == 1 } == true)
    }

    @Test func matchesPyTorchForwardAndBackward() throws {
        let f = Self.fixtures
        let lm = Self.tiny()
        try lm.loadStateDict(f.tensorsGroup("lm.state."))
        lm.train()
        let y = lm(f.tensor("lm.x"))
        (y * f.tensor("lm.r")).sum().backward()
        expectClose(y, f.tensor("lm.out"), rtol: 1e-4, atol: 1e-5, "TransformerLM logits")
        let grads = f.tensorsGroup("lm.grad.")
        #expect(Set(grads.keys) == Set(lm.namedParameters().map(\.0)))
        for (k, p) in lm.namedParameters() {
            guard let g = grads[k] else { continue }
            expectClose(p.grad, g, rtol: 1e-3, atol: 1e-5, "TransformerLM gradient of \(k)")
        }
    }

    @Test func positionTSeesNoLaterToken() {
        let lm = Self.tiny()
        lm.eval()
        var ids: [Int64] = [1, 4, 2, 7, 3, 9, 0, 5]
        let a = withoutGradients { lm(Tensor(ids, shape: [1, 8])) }
        ids[4] = 6
        let b = withoutGradients { lm(Tensor(ids, shape: [1, 8])) }
        let va = a.scalars(as: Float.self), vb = b.scalars(as: Float.self)
        let before = 4 * 11
        let maxBefore = zip(va[..<before], vb[..<before]).map { abs($0 - $1) }.max() ?? 0
        let maxAfter = zip(va[before...], vb[before...]).map { abs($0 - $1) }.max() ?? 0
        #expect(maxBefore < 1e-6, "positions 0..<4 changed by \(maxBefore)")
        #expect(maxAfter > 1e-4, "positions 4... did not change (\(maxAfter))")
    }

    static let text = String(repeating: "to be or not to be, that is the question. ", count: 40)

    static func trainer(_ lm: TransformerLM, corpus: CharacterCorpus) -> CharLMTrainer {
        var options = CharLMTrainingOptions()
        options.batchSize = 8
        options.learningRate = 3e-3
        options.beta2 = 0.99
        options.weightDecay = 0.01
        options.warmupSteps = 10
        options.scheduleSteps = 150
        options.minLearningRate = 3e-4
        options.evaluateEvery = 75
        options.samplePrompt = "to be"
        options.sampleLength = 20
        options.sampleTemperature = 0
        options.seed = 5
        return CharLMTrainer(model: lm, corpus: corpus, options: options)
    }

    @Test func overfitsATinyTextAndRoundTripsThroughACheckpoint() throws {
        let corpus = try CharacterCorpus(text: Self.text, validationFraction: 0.1)
        let lm = TransformerLM(TransformerLMConfiguration(vocabularySize: corpus.vocabulary.count, blockSize: 16, layers: 2, heads: 2, width: 32),
                               generator: RandomGenerator(seed: 1))
        let trainer = Self.trainer(lm, corpus: corpus)
        let before = trainer.validationLoss()
        #expect(abs(before - Foundation.log(Double(corpus.vocabulary.count))) < 0.2, "untrained loss near ln V: \(before)")
        let records = try trainer.train(steps: 150)
        #expect(records.map(\.step) == [75, 150])
        let after = records.last?.validationLoss ?? .infinity
        #expect(after < 0.25 * before, "validation \(before) → \(after)")
        // The schedule ran to its floor.
        #expect(abs((trainer.schedule?.lastLearningRates.first ?? 0) - 3e-4) < 1e-9)
        // Greedy continuation of the memorised text, past the 16-character context.
        let greedy = try trainer.sample(prompt: "to be or not", length: 40)
        #expect(greedy.hasPrefix("to be or not to be, that is"), "\(greedy.debugDescription)")

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tlm-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try trainer.save(to: url)
        let (loaded, vocab) = try CharLMTrainer.loadModel(from: url)
        #expect(vocab == corpus.vocabulary)
        let loadedLM = try #require(loaded as? TransformerLM)
        #expect(loadedLM.configuration.blockSize == 16 && loadedLM.configuration.width == 32 && loadedLM.configuration.layers == 2)
        lm.eval()
        let x = Tensor(try vocab.encode("that is").map(Int64.init), shape: [1, 7])
        let a = withoutGradients { lm(x) }, b = withoutGradients { loadedLM(x) }
        #expect(a.scalars(as: Float.self) == b.scalars(as: Float.self))
        // What `myelin generate` does: the same seed draws the same text, from either model.
        let prompt = try vocab.encode("to be")
        let s1 = loaded.generate(prompt: prompt, length: 30, temperature: 0.8, generator: RandomGenerator(seed: 4))
        let s2 = lm.generate(prompt: prompt, length: 30, temperature: 0.8, generator: RandomGenerator(seed: 4))
        #expect(s1 == s2 && s1.count == prompt.count + 30)
        // The LSTM loader refuses a Transformer file, naming it.
        #expect(throws: TrainingError.self) { _ = try CharLMTrainer.load(from: url) }
    }

    @Test func lstmCheckpointsRecordTheirArchitectureToo() throws {
        let corpus = try CharacterCorpus(text: Self.text, validationFraction: 0.1)
        let lstm = CharLM(vocabularySize: corpus.vocabulary.count, embeddingSize: 4, hiddenSize: 8, layers: 1, dropout: 0)
        let trainer = CharLMTrainer(model: lstm, corpus: corpus)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("clm-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try trainer.save(to: url)
        let (_, meta) = try SafeTensors.read(contentsOf: url)
        #expect(meta["myelin.charlm.arch"] == "lstm")
        let (model, _) = try CharLMTrainer.loadModel(from: url)
        #expect(model is CharLM && model.contextLength == nil)
    }

    @Test func validationCoversTheHeldOutTextInWindows() throws {
        // 1 + 37 validation characters in windows of 16: 16 + 16 + 5 predictions, each counted once.
        let corpus = try CharacterCorpus(text: String(repeating: "abcdefghij", count: 38), validationFraction: 0.1)
        #expect(corpus.validation.count == 38)
        let lm = TransformerLM(TransformerLMConfiguration(vocabularySize: corpus.vocabulary.count, blockSize: 16, layers: 1, heads: 1, width: 8),
                               generator: RandomGenerator(seed: 1))
        let trainer = CharLMTrainer(model: lm, corpus: corpus)
        // The mean over windows equals the mean over one pass of every prediction, computed by hand.
        lm.eval()
        var total = 0.0
        for (start, n) in [(0, 16), (16, 16), (32, 5)] {
            let x = Tensor(corpus.validation[start..<(start + n)].map(Int64.init), shape: [1, n])
            let y = Tensor(corpus.validation[(start + 1)..<(start + n + 1)].map(Int64.init), shape: [n])
            total += withoutGradients { crossEntropy(lm(x).reshaped([n, -1]), y, reduction: .sum).itemDouble() }
        }
        #expect(abs(trainer.validationLoss() - total / 37) < 1e-5)
    }
}
