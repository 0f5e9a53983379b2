import Foundation
import MyelinCore
import MyelinData
import MyelinIO
import MyelinModels
import MyelinNN
import MyelinOptim

/// How a character-level language model is trained. A recurrent model (`CharLM`) runs
/// truncated BPTT over parallel streams of the training text, its state carried from chunk
/// to chunk (as scripts/pytorch_charlm.py); a windowed one (`TransformerLM`) trains on
/// random windows of its block size (as scripts/pytorch_chartransformer.py). Both use Adam
/// (AdamW when `weightDecay` > 0) with gradient-norm clipping and an optional warm-up +
/// cosine schedule.
public struct CharLMTrainingOptions: Codable, Sendable {
    public var batchSize = 32
    /// Characters per chunk of a recurrent model: backpropagation reaches this far back; the
    /// state flows on. (A windowed model reads windows of its own context length.)
    public var chunkLength = 100
    public var learningRate = 2e-3
    /// Adam's second-moment decay (0.999 as PyTorch; GPT recipes use 0.95–0.99).
    public var beta2 = 0.999
    /// Decoupled weight decay (AdamW) on matrices and embeddings; biases and norms are not decayed.
    public var weightDecay = 0.0
    /// Linear warm-up steps of the warm-up + cosine schedule (`scheduleSteps`).
    public var warmupSteps = 0
    /// When set, the learning rate warms up over `warmupSteps` then follows a cosine down to
    /// `minLearningRate` at this step (`WarmupCosine`); nil keeps it constant.
    public var scheduleSteps: Int?
    public var minLearningRate = 0.0
    public var clipNorm = 1.0
    /// Validation (and a sample) every this many steps, and after the last.
    public var evaluateEvery = 250
    public var samplePrompt = "Romeo:"
    public var sampleLength = 200
    public var sampleTemperature = 0.8
    /// Seeds the samples and the choice of training windows.
    public var seed: UInt64 = 0
    public init() {}
}

/// One evaluation point of a character-LM run.
public struct CharLMRecord: Sendable {
    public let step: Int
    /// The last training batch's mean cross-entropy, nats per character.
    public let trainLoss: Double
    /// Mean cross-entropy over the whole validation text, nats per character.
    public let validationLoss: Double
    /// Seconds spent in training steps so far.
    public let trainSeconds: Double
    public let sample: String
}

/// Trains a `CharacterLanguageModel` on a `CharacterCorpus`. A recurrent model reads chunk
/// after chunk of the training streams, its state carried across chunks (detached), wrapping
/// around at the end of the text; a windowed model reads `batchSize` windows drawn at random
/// (seeded) from the training text. Validation covers the held-out text: in streams with the
/// state carried, or in non-overlapping windows of the context length.
public final class CharLMTrainer {
    public let model: any CharacterLanguageModel
    public let corpus: CharacterCorpus
    public let options: CharLMTrainingOptions
    public let optimizer: Adam
    public let schedule: WarmupCosine?
    public private(set) var step = 0
    public private(set) var records: [CharLMRecord] = []
    let chunks: SequenceChunks?
    let validationChunks: SequenceChunks?
    /// Windowed models: (input, target) batches covering the validation text.
    let validationWindows: [(input: Tensor, target: Tensor)]
    let windowGenerator: RandomGenerator
    var state: RecurrentState?
    var position = 0
    var trainSeconds = 0.0

    public init(model: any CharacterLanguageModel, corpus: CharacterCorpus, options: CharLMTrainingOptions = CharLMTrainingOptions()) {
        require(model.vocabularySize == corpus.vocabulary.count,
                "CharLMTrainer: the model predicts \(model.vocabularySize) characters, the corpus has \(corpus.vocabulary.count)")
        require(options.batchSize > 0 && options.chunkLength > 0,
                "CharLMTrainer: batch size \(options.batchSize) and chunk length \(options.chunkLength) must be positive")
        self.model = model
        self.corpus = corpus
        self.options = options
        // Decay matrices and embeddings only (GPT's recipe); with weight decay 0 this is Adam.
        let params = model.parameters()
        let groups = [ParamGroup(params.filter { $0.shape.count >= 2 }, weightDecay: options.weightDecay),
                      ParamGroup(params.filter { $0.shape.count < 2 }, weightDecay: 0)].filter { !$0.parameters.isEmpty }
        let optimizer = AdamW(groups, learningRate: options.learningRate, betas: (0.9, options.beta2), weightDecay: options.weightDecay)
        self.optimizer = optimizer
        schedule = options.scheduleSteps.map {
            WarmupCosine(optimizer, warmupSteps: options.warmupSteps, totalSteps: $0, minLearningRate: options.minLearningRate)
        }
        windowGenerator = RandomGenerator(seed: options.seed &+ 0x5eed)
        if let block = model.contextLength {
            require(corpus.train.count > block + 1 && corpus.validation.count >= 2,
                    "CharLMTrainer: \(corpus.train.count) training and \(corpus.validation.count) validation characters are too few for windows of \(block)")
            chunks = nil
            validationChunks = nil
            validationWindows = Self.windows(corpus.validation, length: block, batchSize: options.batchSize)
        } else {
            chunks = SequenceChunks(corpus.train, batchSize: options.batchSize, chunkLength: options.chunkLength)
            let valBatch = Swift.max(1, Swift.min(options.batchSize, corpus.validation.count / 2))
            validationChunks = SequenceChunks(corpus.validation, batchSize: valBatch, chunkLength: options.chunkLength)
            validationWindows = []
        }
    }

    /// Non-overlapping windows of `length` predictions over `tokens` (the last one shorter),
    /// in batches of `batchSize` windows of equal length.
    static func windows(_ tokens: [Int], length: Int, batchSize: Int) -> [(input: Tensor, target: Tensor)] {
        var starts: [(Int, Int)] = []
        var s = 0
        while s + 1 < tokens.count {
            let n = Swift.min(length, tokens.count - 1 - s)
            starts.append((s, n))
            s += n
        }
        var out: [(input: Tensor, target: Tensor)] = []
        var i = 0
        while i < starts.count {
            let n = starts[i].1
            var j = i
            while j < starts.count && j - i < batchSize && starts[j].1 == n { j += 1 }
            let group = starts[i..<j]
            let x = group.flatMap { tokens[$0.0..<($0.0 + n)] }.map(Int64.init)
            let y = group.flatMap { tokens[($0.0 + 1)..<($0.0 + n + 1)] }.map(Int64.init)
            out.append((Tensor(x, shape: [group.count, n]), Tensor(y, shape: [group.count, n])))
            i = j
        }
        return out
    }

    /// `batchSize` windows of `length` + 1 characters at random places of the training text.
    func randomWindows(length: Int) -> (input: Tensor, target: Tensor) {
        let text = corpus.train
        var x: [Int64] = [], y: [Int64] = []
        x.reserveCapacity(options.batchSize * length)
        y.reserveCapacity(options.batchSize * length)
        for _ in 0..<options.batchSize {
            let s = windowGenerator.nextInt(0, text.count - length)
            x += text[s..<(s + length)].map(Int64.init)
            y += text[(s + 1)..<(s + length + 1)].map(Int64.init)
        }
        return (Tensor(x, shape: [options.batchSize, length]), Tensor(y, shape: [options.batchSize, length]))
    }

    /// The mean next-character cross-entropy over the validation text, in nats per character
    /// (evaluation mode, no gradients).
    public func validationLoss() -> Double {
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        var total = 0.0, count = 0
        let v = model.vocabularySize
        withoutGradients {
            if let validationChunks {
                var s: RecurrentState?
                for (x, y) in validationChunks {
                    let (logits, next) = model.languageModelLogits(x, state: s)
                    s = next
                    total += crossEntropy(logits.reshaped([-1, v]), y.reshaped([-1]), reduction: .sum).itemDouble()
                    count += y.count
                }
            } else {
                for (x, y) in validationWindows {
                    let logits = model.languageModelLogits(x, state: nil).logits
                    total += crossEntropy(logits.reshaped([-1, v]), y.reshaped([-1]), reduction: .sum).itemDouble()
                    count += y.count
                }
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
        let v = model.vocabularySize
        for s in 1...steps {
            let t0 = Date()
            let x: Tensor, y: Tensor
            if let chunks {
                if position >= chunks.count { position = 0; state = nil }
                (x, y) = chunks[position]
                position += 1
            } else {
                (x, y) = randomWindows(length: model.contextLength ?? options.chunkLength)
            }
            optimizer.zeroGrad()
            let (logits, next) = model.languageModelLogits(x, state: state)
            state = next?.detached()
            let loss = crossEntropy(logits.reshaped([-1, v]), y.reshaped([-1]))
            loss.backward()
            clipGradNorm(model.parameters(), maxNorm: options.clipNorm)
            optimizer.step()
            schedule?.step()
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

    /// Saves the weights with what rebuilding the model needs (architecture, sizes and
    /// vocabulary) in the metadata.
    public func save(to url: URL) throws {
        let vocab = String(decoding: try JSONEncoder().encode(corpus.vocabulary), as: UTF8.self)
        var metadata = model.architectureMetadata
        metadata["myelin.charlm.vocabulary"] = vocab
        metadata["myelin.charlm.step"] = "\(step)"
        try saveWeights(model, to: url, metadata: metadata)
    }

    /// Saves an LSTM model (the sizes are read from the model; the arguments are kept for
    /// callers of the first version).
    public func save(to url: URL, hiddenSize: Int, embeddingSize: Int, layers: Int) throws { try save(to: url) }

    /// Rebuilds a saved model of either architecture ("myelin.charlm.arch": lstm, the default
    /// of older files, or transformer) and its vocabulary; a file without them throws, naming it.
    public static func loadModel(from url: URL) throws -> (any CharacterLanguageModel, CharacterVocabulary) {
        let (tensors, meta) = try SafeTensors.read(contentsOf: url)
        guard let v = meta["myelin.charlm.vocabulary"] else {
            throw TrainingError.invalidArgument("\(url.path) was not written by `myelin train charlm` (no character vocabulary in it)")
        }
        let vocab = try JSONDecoder().decode(CharacterVocabulary.self, from: Data(v.utf8))
        let model: any CharacterLanguageModel
        switch meta["myelin.charlm.arch"] ?? "lstm" {
        case "lstm":
            guard let hidden = meta["myelin.charlm.hidden"].flatMap(Int.init), let embedding = meta["myelin.charlm.embedding"].flatMap(Int.init),
                  let layers = meta["myelin.charlm.layers"].flatMap(Int.init), hidden > 0, embedding > 0, layers > 0
            else { throw TrainingError.invalidArgument("\(url.path): the LSTM sizes (hidden, embedding, layers) are missing from its metadata") }
            model = CharLM(vocabularySize: vocab.count, embeddingSize: embedding, hiddenSize: hidden, layers: layers, dropout: 0)
        case "transformer":
            guard let json = meta["myelin.charlm.transformer"],
                  var config = try? JSONDecoder().decode(TransformerLMConfiguration.self, from: Data(json.utf8))
            else { throw TrainingError.invalidArgument("\(url.path): the Transformer configuration is missing from its metadata or unreadable") }
            guard config.vocabularySize == vocab.count, config.blockSize > 0, config.layers > 0, config.heads > 0, config.width > 0,
                  config.width % config.heads == 0, config.feedForward > 0
            else { throw TrainingError.invalidArgument("\(url.path): the Transformer configuration \(json) does not fit its vocabulary of \(vocab.count)") }
            config.dropout = 0
            model = TransformerLM(config)
        case let other:
            throw TrainingError.invalidArgument("\(url.path): unknown character-model architecture \"\(other)\" (lstm, transformer)")
        }
        try model.loadStateDict(tensors)
        model.eval()
        return (model, vocab)
    }

    /// Rebuilds a saved LSTM `CharLM` and its vocabulary; any other file throws, naming it.
    public static func load(from url: URL) throws -> (CharLM, CharacterVocabulary) {
        let (model, vocab) = try loadModel(from: url)
        guard let lstm = model as? CharLM else {
            throw TrainingError.invalidArgument("\(url.path) holds a \(type(of: model)), not an LSTM CharLM (use loadModel(from:))")
        }
        return (lstm, vocab)
    }
}
