import Foundation
import Testing
import Myelin

@Suite struct CharLMTests {
    static let text = String(repeating: "to be or not to be, that is the question. ", count: 40)

    @Test func learnsARepeatedTextAndSavesWhatItNeeds() throws {
        let corpus = try CharacterCorpus(text: Self.text, validationFraction: 0.1)
        let model = CharLM(vocabularySize: corpus.vocabulary.count, embeddingSize: 8, hiddenSize: 32, layers: 2, dropout: 0,
                           generator: RandomGenerator(seed: 1))
        var options = CharLMTrainingOptions()
        options.batchSize = 4
        options.chunkLength = 16
        options.learningRate = 1e-2
        options.evaluateEvery = 60
        options.samplePrompt = "to be"
        options.sampleLength = 20
        let trainer = CharLMTrainer(model: model, corpus: corpus, options: options)
        let before = trainer.validationLoss()
        #expect(abs(before - Foundation.log(Double(corpus.vocabulary.count))) < 0.5, "untrained loss near ln V: \(before)")
        let records = try trainer.train(steps: 120)
        #expect(records.count == 2 && records.last?.step == 120)
        let after = records.last?.validationLoss ?? .infinity
        #expect(after < 0.5 * before, "validation \(before) → \(after)")
        // Greedy continuation of a memorised text reproduces it.
        options.sampleTemperature = 0
        let greedy = CharLMTrainer(model: model, corpus: corpus, options: options)
        #expect(try greedy.sample(prompt: "to be or not", length: 12).hasPrefix("to be or not to be"))

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("charlm-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try trainer.save(to: url, hiddenSize: 32, embeddingSize: 8, layers: 2)
        let (loaded, vocab) = try CharLMTrainer.load(from: url)
        #expect(vocab == corpus.vocabulary)
        model.eval()
        let x = Tensor((try vocab.encode("that is")).map(Int64.init), shape: [1, 7])
        let a = withoutGradients { model(x).logits }, b = withoutGradients { loaded(x).logits }
        #expect(a.scalars(as: Float.self) == b.scalars(as: Float.self))
        // Same seed, same text.
        let s1 = loaded.generate(prompt: [0], length: 30, temperature: 1, generator: RandomGenerator(seed: 4))
        let s2 = loaded.generate(prompt: [0], length: 30, temperature: 1, generator: RandomGenerator(seed: 4))
        #expect(s1 == s2)
    }

    @Test func aWeightsFileWithoutAVocabularyIsRefused() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("not-charlm-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try saveWeights(Linear(2, 2), to: url)
        #expect(throws: TrainingError.self) { _ = try CharLMTrainer.load(from: url) }
    }
}
