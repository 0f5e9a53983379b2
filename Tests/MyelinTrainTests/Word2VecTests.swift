import Foundation
import Myelin
import Testing

@Suite("Word2Vec: skip-gram with negative sampling")
struct Word2VecTests {
    @Test func subsamplingKeepsWordsByTheFormula() {
        let p = Word2Vec.keepProbabilities(counts: [1000, 10, 0], sample: 1e-3)
        let r0 = 1e-3 * 1010 / 1000, r1 = 1e-3 * 1010 / 10
        #expect(abs(p[0] - (r0.squareRoot() + r0)) < 1e-12)
        #expect(abs(p[1] - (r1.squareRoot() + r1)) < 1e-12)
        #expect(p[2] == 1)
        #expect(Word2Vec.keepProbabilities(counts: [5, 1], sample: 0) == [1, 1])
        // Rare words are never dropped (the formula exceeds 1).
        #expect(Word2Vec.keepProbabilities(counts: [1_000_000, 1], sample: 1e-3)[1] == 1)
    }

    @Test func noiseIsDrawnInProportionToCountToTheThreeQuarters() {
        let vocab = Vocabulary(words: ["<unk>", "a", "b", "c", "d"], counts: [500, 1000, 300, 40, 1], unknownToken: "<unk>")
        let weights = Word2Vec.noiseWeights(vocabulary: vocab)
        #expect(weights[0] == 0)
        #expect(abs(weights[1] - pow(1000, 0.75)) < 1e-9)
        let table = AliasTable(weights: weights)
        let rng = RandomGenerator(seed: 7)
        let draws = 200_000
        var tally = [Int](repeating: 0, count: vocab.count)
        for _ in 0..<draws { tally[table.sample(generator: rng)] += 1 }
        let total = weights.reduce(0, +)
        #expect(tally[0] == 0)
        for i in 1..<vocab.count {
            let p = weights[i] / total
            let sigma = (Double(draws) * p * (1 - p)).squareRoot()
            #expect(abs(Double(tally[i]) - Double(draws) * p) < 5 * sigma + 1, "word \(i): \(tally[i]) draws, expected \(Double(draws) * p)")
        }
    }

    @Test func lossMatchesAHandComputation() {
        let v = Tensor([1, 2], shape: [1, 2], dtype: .float64).requiringGrad()
        let u = Tensor([0.5, -0.25], shape: [1, 2], dtype: .float64).requiringGrad()   // u·v = 0
        let n = Tensor([1, 0], shape: [1, 1, 2], dtype: .float64).requiringGrad()      // n·v = 1
        let loss = Autograd.withGradients { Word2Vec.negativeSamplingLoss(center: v, context: u, negatives: n).sum() }
        let expected = log(2.0) + log(1 + exp(1.0))
        #expect(abs(loss.itemDouble() - expected) < 1e-12)
        loss.backward()
        let s1 = 1 / (1 + exp(-1.0))
        // ∂/∂v = (σ(0) − 1)·u + σ(1)·n; ∂/∂u = (σ(0) − 1)·v; ∂/∂n = σ(1)·v.
        let gv = v.grad!.scalars(as: Double.self), gu = u.grad!.scalars(as: Double.self), gn = n.grad!.scalars(as: Double.self)
        #expect(abs(gv[0] - (-0.5 * 0.5 + s1)) < 1e-12 && abs(gv[1] - (-0.5 * -0.25)) < 1e-12)
        #expect(abs(gu[0] - -0.5) < 1e-12 && abs(gu[1] - -1) < 1e-12)
        #expect(abs(gn[0] - s1) < 1e-12 && abs(gn[1] - 2 * s1) < 1e-12)
    }

    @Test func lossGradientsPassTheNumericCheck() {
        let g = RandomGenerator(seed: 3)
        let inputs = [Tensor.normal([3, 4], dtype: .float64, generator: g), Tensor.normal([3, 4], dtype: .float64, generator: g),
                      Tensor.normal([3, 2, 4], dtype: .float64, generator: g)]
        let result = checkGradients(inputs) { x in Word2Vec.negativeSamplingLoss(center: x[0], context: x[1], negatives: x[2]) }
        #expect(result.passed, "\(result)")
    }

    @Test func fusedStepIsTheAutogradStep() {
        // Repeated words in the batch (centre 1 twice, word 2 as context and noise) must add up as backward does.
        let centers: [Int32] = [1, 3, 1], contexts: [Int32] = [2, 0, 4], negatives: [Int32] = [5, 2, 2, 1, 0, 3]
        let a = SkipGram(vocabularySize: 6, dimension: 4, generator: RandomGenerator(seed: 11))
        let b = SkipGram(vocabularySize: 6, dimension: 4, generator: RandomGenerator(seed: 11))
        // Non-zero output vectors, so every gradient term is exercised.
        let out = Tensor.normal([6, 4], generator: RandomGenerator(seed: 12)) * 0.3
        a.outEmbed.weight = out
        b.outEmbed.weight = out
        let lr = 0.1
        let fusedLoss = a.fusedStep(centers: centers, contexts: contexts, negatives: negatives, learningRate: lr)
        let loss = Autograd.withGradients {
            b.loss(centers: Tensor(centers.map(Int64.init), shape: [3], dtype: .int64),
                   contexts: Tensor(contexts.map(Int64.init), shape: [3], dtype: .int64),
                   negatives: Tensor(negatives.map(Int64.init), shape: [3, 2], dtype: .int64))
        }
        #expect(abs(fusedLoss - loss.itemDouble()) < 1e-4)
        loss.backward()
        for (pa, pb) in zip(a.parameters(), b.parameters()) {
            let expected = (pb.value.detached() - pb.grad! * lr).scalars(as: Float.self)
            let got = pa.value.scalars(as: Float.self)
            let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5)
        }
        #expect(a.stateDict().keys.sorted() == ["in_embed.weight", "out_embed.weight"])
    }

    /// Animals and vehicles never share a sentence; "cat" and "dog" share every context.
    static func syntheticCorpus(sentences: Int, seed: UInt64) -> [String] {
        let rng = RandomGenerator(seed: seed)
        let animals = ["cat", "dog"], animalWords = ["feeds", "pets", "fur", "barks", "tail", "vet"]
        let vehicles = ["car", "truck"], vehicleWords = ["drives", "parks", "fuel", "wheel", "road", "garage"]
        var words: [String] = []
        for _ in 0..<sentences {
            let animal = rng.nextBernoulli(0.5)
            let subjects = animal ? animals : vehicles, context = animal ? animalWords : vehicleWords
            words.append(context[rng.nextInt(0, context.count)])
            words.append(subjects[rng.nextInt(0, 2)])
            words.append(context[rng.nextInt(0, context.count)])
        }
        return words
    }

    @Test func wordsThatShareContextsEndUpClose() {
        let words = Self.syntheticCorpus(sentences: 1500, seed: 5)
        let vocab = Vocabulary(counting: words, minCount: 1)
        let cfg = Word2VecConfiguration(dimension: 16, window: 2, negatives: 3, minCount: 1, sample: 0,
                                        epochs: 8, learningRate: 0.05, batchSize: 16, seed: 2)
        let trainer = Word2VecTrainer(vocabulary: vocab, configuration: cfg)
        let model = trainer.makeModel()
        let history = trainer.train(model, corpus: vocab.encode(words, dropUnknown: true))
        #expect(history.count == 8)
        #expect(history.last!.meanLoss < history.first!.meanLoss)
        let vectors = WordVectors(model: model, vocabulary: vocab)
        let same = try! vectors.similarity("cat", "dog"), other = try! vectors.similarity("cat", "car")
        #expect(same > 0.7, "cos(cat, dog) = \(same)")
        #expect(same > other + 0.3, "cos(cat, dog) = \(same), cos(cat, car) = \(other)")
        #expect(try! vectors.nearest(to: "truck", count: 1).first?.word == "car")
    }

    @Test func autogradTrainingFollowsTheFusedPath() {
        let words = Self.syntheticCorpus(sentences: 60, seed: 9)
        let vocab = Vocabulary(counting: words, minCount: 1)
        let cfg = Word2VecConfiguration(dimension: 6, window: 2, negatives: 2, minCount: 1, sample: 0,
                                        epochs: 2, learningRate: 0.05, batchSize: 8, seed: 4)
        let fused = Word2VecTrainer(vocabulary: vocab, configuration: cfg)
        var graph = fused
        graph.useAutograd = true
        let (a, b) = (fused.makeModel(), graph.makeModel())
        let corpus = vocab.encode(words)
        let ha = fused.train(a, corpus: corpus), hb = graph.train(b, corpus: corpus)
        #expect(ha.map(\.pairs) == hb.map(\.pairs))
        for (x, y) in zip(ha, hb) { #expect(abs(x.meanLoss - y.meanLoss) < 1e-4) }
        let worst = zip(a.inEmbed.weight.scalars(as: Float.self), b.inEmbed.weight.scalars(as: Float.self)).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-4)
    }

    /// Axes: royalty, gender, fruit.
    static func handMade() -> WordVectors {
        let vocab = Vocabulary(words: ["<unk>", "king", "queen", "man", "woman", "apple"], counts: [0, 5, 4, 3, 2, 1], unknownToken: "<unk>")
        let rows: [[Double]] = [[9, 9, 9], [1, 1, 0], [1, -1, 0], [0, 1, 0.1], [0, -1, 0.1], [0, 0, 1]]
        return WordVectors(vocabulary: vocab, vectors: Tensor(rows.flatMap { $0 }, shape: [6, 3]))
    }

    @Test func neighboursAndAnalogiesOnHandMadeVectors() throws {
        let v = Self.handMade()
        let near = try v.nearest(to: "king", count: 4)
        #expect(near.map(\.word) == ["man", "queen", "apple", "woman"] || near.map(\.word) == ["man", "apple", "queen", "woman"])
        #expect(abs(near[0].similarity - 1 / (2.0.squareRoot() * 1.01.squareRoot())) < 1e-6)
        #expect(!near.contains { $0.word == "<unk>" || $0.word == "king" })
        // man : king :: woman : queen, with the three query words excluded.
        let answer = try v.analogy("man", "king", "woman", count: 2)
        #expect(answer.first?.word == "queen")
        #expect(!answer.contains { ["man", "king", "woman"].contains($0.word) })
        #expect(try v.analogy("king", "queen", "man").first?.word == "woman")
        #expect(v.nearest(toVector: [0, 0, 2], count: 1).first == Neighbour(word: "apple", similarity: 1))
    }

    @Test func unknownWordsAreNamedInTheError() {
        let v = Self.handMade()
        do {
            _ = try v.analogy("man", "kingdom", "girl")
            Issue.record("unknown words must throw")
        } catch let e as Word2VecError {
            #expect(e == .unknownWords(["kingdom", "girl"], vocabularySize: 6))
            #expect(e.description.contains("'kingdom', 'girl' are not in the vocabulary"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: Word2VecError.self) { try v.nearest(to: "<unk>") }
        #expect(throws: Word2VecError.self) { try v.nearest(to: "King") }
    }

    @Test func vectorsRoundTripThroughSafeTensorsAndTheVocabularyFile() throws {
        let v = Self.handMade()
        let dir = try TrainTestSupport.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try v.save(to: dir.appendingPathComponent("vecs"))
        let back = try WordVectors.load(from: dir.appendingPathComponent("vecs"))
        #expect(back.vocabulary == v.vocabulary)
        #expect(back.vectors.scalars(as: Float.self) == v.vectors.scalars(as: Float.self))
        #expect(try back.nearest(to: "queen", count: 5) == v.nearest(to: "queen", count: 5))
        #expect(try back.vector(for: "apple") == [0, 0, 1])
        let missing = dir.appendingPathComponent("nothing")
        #expect(throws: Word2VecError.missingFile(missing.appendingPathComponent("vectors.safetensors").path)) {
            try WordVectors.load(from: missing)
        }
    }
}
