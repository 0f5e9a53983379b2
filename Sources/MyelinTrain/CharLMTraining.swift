import Foundation
import MyelinCore
import MyelinData
import MyelinIO
import MyelinModels
import MyelinNN
import MyelinOptim

/// How a character-level language model is trained: truncated BPTT over parallel streams of
/// the training text, Adam with gradient-norm clipping (as scripts/pytorch_charlm.py).
public struct CharLMTrainingOptions: Codable, Sendable {
    public var batchSize = 32
    /// Characters per chunk: backpropagation reaches this far back; the state flows on.
    public var chunkLength = 100
    public var learningRate = 2e-3
    public var clipNorm = 1.0
    /// Validation (and a sample) every this many steps, and after the last.
    public var evaluateEvery = 250
    public var samplePrompt = "Romeo:"
    public var sampleLength = 200
    public var sampleTemperature = 0.8
    public var seed: UInt64 = 0
    public init() {}
}

/// One evaluation point of a character-LM run.
public struct CharLMRecord: Sendable {
    public let step: Int
    /// The last training chunk's mean cross-entropy, nats per character.
    public let trainLoss: Double
    /// Mean cross-entropy over the whole validation text, nats per character.
    public let validationLoss: Double
    /// Seconds spent in training steps so far.
    public let trainSeconds: Double
    public let sample: String
}

/// Trains a `CharLM` on a `CharacterCorpus`: chunk after chunk of the training streams, the
/// LSTM state carried across chunks (detached), wrapping around at the end of the text.
public final class CharLMTrainer {
    public let model: CharLM
    public let corpus: CharacterCorpus
    public let options: CharLMTrainingOptions
    public let optimizer: Adam
    public private(set) var step = 0
    public private(set) var records: [CharLMRecord] = []
    let chunks: SequenceChunks
    let validationChunks: SequenceChunks
    var state: RecurrentState?
    var position = 0
    var trainSeconds = 0.0

    public init(model: CharLM, corpus: CharacterCorpus, options: CharLMTrainingOptions = CharLMTrainingOptions()) {
        require(model.vocabularySize == corpus.vocabulary.count,
                "CharLMTrainer: the model predicts \(model.vocabularySize) characters, the corpus has \(corpus.vocabulary.count)")
        self.model = model
        self.corpus = corpus
        self.options = options
        optimizer = Adam(model.parameters(), learningRate: options.learningRate)
        chunks = SequenceChunks(corpus.train, batchSize: options.batchSize, chunkLength: options.chunkLength)
        let valBatch = Swift.max(1, Swift.min(options.batchSize, corpus.validation.count / 2))
        validationChunks = SequenceChunks(corpus.validation, batchSize: valBatch, chunkLength: options.chunkLength)
    }

    /// The mean next-character cross-entropy over the validation text, in nats per character
    /// (evaluation mode, no gradients, state carried through the streams).
    public func validationLoss() -> Double {
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        var total = 0.0, count = 0
        withoutGradients {
            var s: RecurrentState?
            for (x, y) in validationChunks {
                let (logits, next) = model(x, state: s)
                s = next
                total += crossEntropy(logits.reshaped([-1, model.vocabularySize]), y.reshaped([-1]), reduction: .sum).itemDouble()
                count += y.count
            }
        }
        return total / Double(Swift.max(count, 1))
    }

    /// Text drawn from the model after `prompt`, with the options' temperature and a seeded generator.
    public func sample(prompt: String? = nil, length: Int? = nil, seed: UInt64? = nil) throws -> String {
        let ids = try corpus.vocabulary.encode(prompt ?? options.samplePrompt)
        let out = model.generate(prompt: ids, length: length ?? options.sampleLength, temperature: options.sampleTemperature,
                                 generator: RandomGenerator(seed: seed ?? options.seed))
        return corpus.vocabulary.decode(out)
    }

    /// Runs `steps` more training steps; evaluates (and samples) every `evaluateEvery` and
    /// after the last, reporting each record to `report`.
    @discardableResult
    public func train(steps: Int, report: (CharLMRecord) -> Void = { _ in }) throws -> [CharLMRecord] {
        require(steps > 0, "CharLMTrainer.train: steps must be positive, got \(steps)")
        model.train()
        for s in 1...steps {
            if position >= chunks.count { position = 0; state = nil }
            let (x, y) = chunks[position]
            position += 1
            let t0 = Date()
            optimizer.zeroGrad()
            let (logits, next) = model(x, state: state)
            state = next.detached()
            let loss = crossEntropy(logits.reshaped([-1, model.vocabularySize]), y.reshaped([-1]))
            loss.backward()
            clipGradNorm(model.parameters(), maxNorm: options.clipNorm)
            optimizer.step()
            step += 1
            trainSeconds += Date().timeIntervalSince(t0)
            if step % options.evaluateEvery == 0 || s == steps {
                let record = CharLMRecord(step: step, trainLoss: loss.itemDouble(), validationLoss: validationLoss(),
                                          trainSeconds: trainSeconds, sample: try sample())
                records.append(record)
                report(record)
            }
        }
        return records
    }

    /// Saves the weights with what rebuilding the model needs (vocabulary and sizes) in the metadata.
    public func save(to url: URL, hiddenSize: Int, embeddingSize: Int, layers: Int) throws {
        let vocab = String(decoding: try JSONEncoder().encode(corpus.vocabulary), as: UTF8.self)
        try saveWeights(model, to: url, metadata: [
            "myelin.charlm.vocabulary": vocab, "myelin.charlm.hidden": "\(hiddenSize)",
            "myelin.charlm.embedding": "\(embeddingSize)", "myelin.charlm.layers": "\(layers)", "myelin.charlm.step": "\(step)",
        ])
    }

    /// Rebuilds a saved model and its vocabulary; a file without them throws, naming it.
    public static func load(from url: URL) throws -> (CharLM, CharacterVocabulary) {
        let (tensors, meta) = try SafeTensors.read(contentsOf: url)
        guard let v = meta["myelin.charlm.vocabulary"], let hidden = meta["myelin.charlm.hidden"].flatMap(Int.init),
              let embedding = meta["myelin.charlm.embedding"].flatMap(Int.init), let layers = meta["myelin.charlm.layers"].flatMap(Int.init)
        else { throw TrainingError.invalidArgument("\(url.path) was not written by `myelin train charlm` (no character vocabulary in it)") }
        let vocab = try JSONDecoder().decode(CharacterVocabulary.self, from: Data(v.utf8))
        let model = CharLM(vocabularySize: vocab.count, embeddingSize: embedding, hiddenSize: hidden, layers: layers, dropout: 0)
        try model.loadStateDict(tensors)
        model.eval()
        return (model, vocab)
    }
}
