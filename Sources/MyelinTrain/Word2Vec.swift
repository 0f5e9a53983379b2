import Foundation
import MyelinCore
import MyelinData
import MyelinIO
import MyelinNN

// Skip-gram word2vec with negative sampling (Mikolov, Sutskever, Chen, Corrado & Dean,
// "Distributed Representations of Words and Phrases and their Compositionality", 2013),
// following the reference C implementation and gensim where the paper leaves a choice.

/// The settings of a word2vec run; the defaults are those of the reference C tool and
/// gensim (sample 1e-3 suits a corpus of about a million words; the paper's 1e-5 is for
/// billions).
public struct Word2VecConfiguration: Sendable, Equatable, Codable {
    /// Size of each word vector.
    public var dimension = 100
    /// The largest distance between a centre word and a context word. Each centre word
    /// draws its own window uniformly from 1...window (the C tool's "reduced window"),
    /// which weights near words more.
    public var window = 5
    /// Noise words per (centre, context) pair.
    public var negatives = 5
    /// Words seen fewer times are left out of the vocabulary (and dropped from the text).
    public var minCount = 5
    /// Subsampling threshold t: a word of frequency f is kept with probability
    /// min(1, sqrt(t/f) + t/f). 0 keeps every word.
    public var sample = 1e-3
    /// Exponent of the unigram counts in the noise distribution.
    public var noisePower = 0.75
    /// Passes over the corpus.
    public var epochs = 5
    /// Initial learning rate, decayed linearly to `learningRate * 1e-4` over the run.
    public var learningRate = 0.025
    /// (centre, context) pairs per SGD step; the loss is summed over the batch.
    public var batchSize = 256
    public var seed: UInt64 = 1

    public init(dimension: Int = 100, window: Int = 5, negatives: Int = 5, minCount: Int = 5, sample: Double = 1e-3,
                epochs: Int = 5, learningRate: Double = 0.025, batchSize: Int = 256, seed: UInt64 = 1) {
        self.dimension = dimension
        self.window = window
        self.negatives = negatives
        self.minCount = minCount
        self.sample = sample
        self.epochs = epochs
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.seed = seed
    }

    func validate() {
        require(dimension > 0, "Word2Vec: dimension must be positive, got \(dimension)")
        require(window > 0, "Word2Vec: window must be positive, got \(window)")
        require(negatives >= 0, "Word2Vec: negatives must be 0 or more, got \(negatives)")
        require(minCount >= 1, "Word2Vec: minCount must be at least 1, got \(minCount)")
        require(sample >= 0, "Word2Vec: sample must be 0 or more, got \(sample)")
        require(epochs > 0, "Word2Vec: epochs must be positive, got \(epochs)")
        require(learningRate > 0, "Word2Vec: learning rate must be positive, got \(learningRate)")
        require(batchSize > 0, "Word2Vec: batch size must be positive, got \(batchSize)")
    }
}

/// Word-vector failures a user can cause: a word that is not in the vocabulary, a
/// vectors folder without its files.
public enum Word2VecError: Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    case unknownWords([String], vocabularySize: Int)
    case missingFile(String)
    case badVectors(String, String)

    public var description: String {
        switch self {
        case let .unknownWords(words, size):
            let list = words.map { "'\($0)'" }.joined(separator: ", ")
            let verb = words.count == 1 ? "is" : "are"
            return "\(list) \(verb) not in the vocabulary (\(size) words, lower-case; rare words fall below the minimum count)"
        case let .missingFile(path): return "\(path): no such file (a word-vectors folder holds vectors.safetensors and vocabulary.txt)"
        case let .badVectors(path, problem): return "\(path): \(problem)"
        }
    }

    public var errorDescription: String? { description }
}

/// Walker's alias method: draws index i with probability weights[i] / Σ weights in O(1)
/// from two uniform numbers (Vose's construction, exact up to rounding).
public struct AliasTable: Sendable {
    public let probabilities: [Double]
    let accept: [Double]
    let alias: [Int]

    public init(weights: [Double]) {
        require(!weights.isEmpty && weights.allSatisfy { $0 >= 0 && $0.isFinite },
                "AliasTable: weights must be finite, non-negative and not empty")
        let total = weights.reduce(0, +)
        require(total > 0, "AliasTable: the weights sum to zero")
        let n = weights.count
        probabilities = weights.map { $0 / total }
        var scaled = probabilities.map { $0 * Double(n) }
        var accept = [Double](repeating: 1, count: n), alias = Array(0..<n)
        var small = scaled.indices.filter { scaled[$0] < 1 }, large = scaled.indices.filter { scaled[$0] >= 1 }
        while let s = small.popLast(), let l = large.last {
            accept[s] = scaled[s]
            alias[s] = l
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 { large.removeLast(); small.append(l) }
        }
        self.accept = accept
        self.alias = alias
    }

    /// The index for a uniform `u` in [0, 1) (one number split into column and coin).
    @inline(__always)
    public func sample(_ u: Double) -> Int {
        let x = u * Double(accept.count)
        let column = Swift.min(Int(x), accept.count - 1)
        return x - Double(column) < accept[column] ? column : alias[column]
    }

    public func sample(generator: RandomGenerator) -> Int { sample(generator.nextDouble()) }
}

/// The pieces of skip-gram with negative sampling, as plain functions.
public enum Word2Vec {
    /// The probability of keeping each word when subsampling frequent words, as the C
    /// tool and gensim: with f = count / total, keep = min(1, sqrt(t/f) + t/f)
    /// (the paper writes the discard probability 1 − sqrt(t/f)). `sample` 0 keeps all.
    public static func keepProbabilities(counts: [Int], sample: Double) -> [Double] {
        let total = Double(counts.reduce(0, +))
        guard sample > 0, total > 0 else { return counts.map { _ in 1 } }
        return counts.map { c in
            guard c > 0 else { return 1 }
            let r = sample * total / Double(c)
            return Swift.min(1, r.squareRoot() + r)
        }
    }

    /// Noise weights count^power (0.75 in the paper); the unknown token gets none.
    public static func noiseWeights(vocabulary: Vocabulary, power: Double = 0.75) -> [Double] {
        vocabulary.counts.enumerated().map { i, c in i == vocabulary.unknownIndex ? 0 : pow(Double(c), power) }
    }

    /// The negative-sampling loss of each pair, −log σ(u_o·v_c) − Σ_k log σ(−u_k·v_c),
    /// from the centre vectors `center` [B, D], the context (output) vectors `context`
    /// [B, D] and the noise (output) vectors `negatives` [B, K, D]: shape [B].
    /// Built from differentiable ops (−log σ(x) = softplus(−x)).
    public static func negativeSamplingLoss(center: Tensor, context: Tensor, negatives: Tensor) -> Tensor {
        require(center.rank == 2 && context.shape == center.shape,
                "Word2Vec.negativeSamplingLoss: center and context must both be [B, D], got \(center.shape) and \(context.shape)")
        require(negatives.rank == 3 && negatives.shape[0] == center.shape[0] && negatives.shape[2] == center.shape[1],
                "Word2Vec.negativeSamplingLoss: negatives must be [B, K, D] = [\(center.shape[0]), K, \(center.shape[1])], got \(negatives.shape)")
        let positive = (center * context).sum(axis: 1)
        let noise = (negatives * center.unsqueezed(axis: 1)).sum(axis: 2)
        return (-positive).softplus() + noise.softplus().sum(axis: 1)
    }
}

/// The two tables of skip-gram: `in_embed` (the word vectors one keeps) and `out_embed`
/// (the context vectors the noise contrast uses). As the C tool: input vectors start
/// uniform in ±0.5/dim, output vectors at zero.
public final class SkipGram: Module {
    public let inEmbed: Embedding
    public let outEmbed: Embedding

    public init(vocabularySize: Int, dimension: Int, generator: RandomGenerator = .default) {
        inEmbed = Embedding(vocabularySize, dimension, generator: generator)
        outEmbed = Embedding(vocabularySize, dimension, generator: generator)
        super.init()
        let bound = 0.5 / Double(dimension)
        inEmbed.weight = Tensor.uniform([vocabularySize, dimension], low: -bound, high: bound, generator: generator)
        outEmbed.weight = Tensor.zeros([vocabularySize, dimension])
    }

    /// The summed negative-sampling loss of a batch of index tensors: centres [B],
    /// contexts [B], negatives [B, K] (int32 or int64), through the autograd graph.
    public func loss(centers: Tensor, contexts: Tensor, negatives: Tensor) -> Tensor {
        Word2Vec.negativeSamplingLoss(center: inEmbed(centers), context: outEmbed(contexts),
                                      negatives: outEmbed(negatives)).sum()
    }

    /// One mini-batch SGD step on the summed loss without the autograd graph: the
    /// gradient rows are computed from the current weights, then only the touched rows
    /// are updated (the same step as `loss` + backward + SGD, far cheaper than the dense
    /// [V, D] gradients). `negatives` holds K indices per pair. Returns the summed loss.
    @discardableResult
    public func fusedStep(centers: [Int32], contexts: [Int32], negatives: [Int32], learningRate: Double) -> Double {
        let b = centers.count, dim = inEmbed.embeddingDim, rows = inEmbed.numEmbeddings
        require(contexts.count == b && (b == 0 || negatives.count % b == 0),
                "SkipGram.fusedStep: \(b) centres, \(contexts.count) contexts and \(negatives.count) negatives (need K per pair)")
        guard b > 0 else { return 0 }
        for i in centers + contexts + negatives where i < 0 || Int(i) >= rows {
            requirementFailure("SkipGram.fusedStep: index \(i) is out of range for \(rows) words")
        }
        let k = negatives.count / b, lr = Float(learningRate)
        var loss = 0.0
        var gradIn = [Float](repeating: 0, count: b * dim)
        var coef = [Float](repeating: 0, count: b * (k + 1))
        inEmbed.$weight.updateInPlace(as: Float.self) { vin, _ in
            outEmbed.$weight.updateInPlace(as: Float.self) { vout, _ in
                gradIn.withUnsafeMutableBufferPointer { gi in
                    // Pass 1: scores and input gradients from the current weights.
                    for p in 0..<b {
                        let v = vin + Int(centers[p]) * dim
                        let g = gi.baseAddress! + p * dim
                        for j in 0...k {
                            let target = j == 0 ? contexts[p] : negatives[p * k + j - 1]
                            let u = vout + Int(target) * dim
                            var s: Float = 0
                            for d in 0..<dim { s += v[d] * u[d] }
                            // d/ds of softplus(−s) (label 1) or softplus(s) (label 0) is σ(s) − label.
                            let sig = 1 / (1 + expf(-s))
                            let c = sig - (j == 0 ? 1 : 0)
                            coef[p * (k + 1) + j] = c
                            let x = j == 0 ? -s : s
                            loss += Double(x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)))
                            for d in 0..<dim { g[d] += c * u[d] }
                        }
                    }
                    // Pass 2: output rows, from the input rows not yet changed.
                    for p in 0..<b {
                        let v = vin + Int(centers[p]) * dim
                        for j in 0...k {
                            let target = j == 0 ? contexts[p] : negatives[p * k + j - 1]
                            let u = vout + Int(target) * dim
                            let step = lr * coef[p * (k + 1) + j]
                            for d in 0..<dim { u[d] -= step * v[d] }
                        }
                    }
                    // Pass 3: input rows.
                    for p in 0..<b {
                        let v = vin + Int(centers[p]) * dim
                        let g = gi.baseAddress! + p * dim
                        for d in 0..<dim { v[d] -= lr * g[d] }
                    }
                }
            }
        }
        return loss
    }
}

/// What a word2vec run reports after each epoch.
public struct Word2VecProgress: Sendable {
    public var epoch: Int
    public var pairs: Int
    /// Mean loss per (centre, context) pair over the epoch.
    public var meanLoss: Double
    /// Corpus words processed per second (before subsampling, as the C tool counts them).
    public var wordsPerSecond: Double
    public var learningRate: Double
    public var seconds: Double
}

/// Trains a `SkipGram` on a corpus of word indices.
public struct Word2VecTrainer {
    public let vocabulary: Vocabulary
    public let configuration: Word2VecConfiguration
    /// The alias table of the noise distribution ∝ count^0.75.
    public let noise: AliasTable
    public let keepProbabilities: [Double]
    /// Train through the autograd graph (embedding + loss + backward, dense SGD) instead of
    /// the fused sparse step: the same mathematics, much slower; kept for comparison.
    public var useAutograd = false

    public init(vocabulary: Vocabulary, configuration: Word2VecConfiguration) {
        configuration.validate()
        self.vocabulary = vocabulary
        self.configuration = configuration
        noise = AliasTable(weights: Word2Vec.noiseWeights(vocabulary: vocabulary, power: configuration.noisePower))
        var keep = Word2Vec.keepProbabilities(counts: vocabulary.counts, sample: configuration.sample)
        if let u = vocabulary.unknownIndex { keep[u] = 0 }
        keepProbabilities = keep
    }

    /// A fresh model of the right size, seeded from the configuration.
    public func makeModel() -> SkipGram {
        SkipGram(vocabularySize: vocabulary.count, dimension: configuration.dimension,
                 generator: RandomGenerator(seed: configuration.seed))
    }

    /// Runs every epoch over `corpus` (indices into the vocabulary; the unknown index is
    /// skipped, as the C tool and gensim drop out-of-vocabulary words). `onEpoch` sees each epoch's figures. `stopAfterSeconds` ends the run early
    /// (the learning rate still decays as if the run were complete).
    @discardableResult
    public func train(_ model: SkipGram, corpus: [Int], stopAfterSeconds: Double? = nil,
                      onEpoch: (Word2VecProgress) -> Void = { _ in }) -> [Word2VecProgress] {
        let cfg = configuration
        require(model.inEmbed.numEmbeddings == vocabulary.count && model.inEmbed.embeddingDim == cfg.dimension,
                "Word2VecTrainer: the model is \(model.inEmbed.numEmbeddings)×\(model.inEmbed.embeddingDim), the vocabulary and configuration want \(vocabulary.count)×\(cfg.dimension)")
        for (k, w) in corpus.enumerated() where w < 0 || w >= vocabulary.count {
            requirementFailure("Word2VecTrainer.train: corpus index \(w) at position \(k) is out of range for \(vocabulary.count) words")
        }
        let rng = RandomGenerator(seed: cfg.seed &+ 0x5EED)
        let totalWords = Double(corpus.count * cfg.epochs)
        var processed = 0
        var history: [Word2VecProgress] = []
        let start = Date()
        var centers: [Int32] = [], contexts: [Int32] = [], negatives: [Int32] = []
        centers.reserveCapacity(cfg.batchSize)
        var lr = cfg.learningRate
        for epoch in 1...cfg.epochs {
            let epochStart = Date()
            var lossSum = 0.0, pairs = 0, epochWords = 0
            func flush() {
                guard !centers.isEmpty else { return }
                lossSum += step(model, centers, contexts, negatives, lr)
                pairs += centers.count
                centers.removeAll(keepingCapacity: true)
                contexts.removeAll(keepingCapacity: true)
                negatives.removeAll(keepingCapacity: true)
            }
            // Subsample once per epoch, then walk the kept words.
            var kept: [Int32] = []
            kept.reserveCapacity(corpus.count)
            for w in corpus {
                let p = keepProbabilities[w]
                if p >= 1 || rng.nextDouble() < p { kept.append(Int32(w)) }
            }
            let wordsPerKept = Double(corpus.count) / Double(Swift.max(kept.count, 1))
            var stopped = false
            for i in 0..<kept.count {
                if i % 1000 == 0 {
                    let done = Double(processed) + Double(i) * wordsPerKept
                    lr = cfg.learningRate * Swift.max(1e-4, 1 - done / totalWords)
                    if let limit = stopAfterSeconds, Date().timeIntervalSince(start) > limit { stopped = true; break }
                }
                let reach = cfg.window - rng.nextInt(0, cfg.window)   // 1...window
                let lo = Swift.max(0, i - reach), hi = Swift.min(kept.count - 1, i + reach)
                for j in lo...hi where j != i {
                    centers.append(kept[i])
                    contexts.append(kept[j])
                    for _ in 0..<cfg.negatives {
                        var n = Int32(noise.sample(rng.nextDouble()))
                        // Redraw a noise word equal to the true context (bounded, for tiny vocabularies).
                        var tries = 0
                        while n == kept[j] && tries < 8 { n = Int32(noise.sample(rng.nextDouble())); tries += 1 }
                        negatives.append(n)
                    }
                    if centers.count == cfg.batchSize { flush() }
                }
                epochWords = Int(Double(i + 1) * wordsPerKept)
            }
            flush()
            if !stopped { epochWords = corpus.count }
            processed += epochWords
            let seconds = Date().timeIntervalSince(epochStart)
            let progress = Word2VecProgress(epoch: epoch, pairs: pairs, meanLoss: pairs > 0 ? lossSum / Double(pairs) : 0,
                                            wordsPerSecond: Double(epochWords) / Swift.max(seconds, 1e-9),
                                            learningRate: lr, seconds: seconds)
            history.append(progress)
            onEpoch(progress)
            if stopped { break }
        }
        return history
    }

    func step(_ model: SkipGram, _ centers: [Int32], _ contexts: [Int32], _ negatives: [Int32], _ lr: Double) -> Double {
        guard useAutograd else { return model.fusedStep(centers: centers, contexts: contexts, negatives: negatives, learningRate: lr) }
        let b = centers.count
        let loss = Autograd.withGradients {
            model.loss(centers: Tensor(centers.map(Int64.init), shape: [b], dtype: .int64),
                       contexts: Tensor(contexts.map(Int64.init), shape: [b], dtype: .int64),
                       negatives: Tensor(negatives.map(Int64.init), shape: [b, negatives.count / b], dtype: .int64))
        }
        model.zeroGrad()
        loss.backward()
        for p in model.parameters() {
            guard let g = p.grad?.scalars(as: Float.self) else { continue }
            let rate = Float(lr)
            p.updateInPlace(as: Float.self) { w, n in for i in 0..<n { w[i] -= rate * g[i] } }
        }
        model.zeroGrad()
        return loss.itemDouble()
    }
}

/// A word and its cosine similarity to a query.
public struct Neighbour: Sendable, Equatable, CustomStringConvertible {
    public var word: String
    public var similarity: Double
    public init(word: String, similarity: Double) {
        self.word = word
        self.similarity = similarity
    }
    public var description: String { "\(word) \(String(format: "%.3f", similarity))" }
}

/// Trained word vectors with their vocabulary: cosine neighbours and analogies.
/// On disk, a folder with `vectors.safetensors` (the tensor `in_embed.weight` [V, D], and
/// `out_embed.weight` when saved from a model) and `vocabulary.txt` (see `Vocabulary`).
public struct WordVectors: Sendable {
    public static let vectorsFile = "vectors.safetensors"
    public static let vocabularyFile = "vocabulary.txt"

    public let vocabulary: Vocabulary
    /// [V, D] float32, one row per vocabulary index.
    public let vectors: Tensor
    /// The context vectors, when known (saved alongside).
    public let contextVectors: Tensor?
    /// Rows scaled to unit length (zero rows stay zero).
    private let unit: [Float]

    public init(vocabulary: Vocabulary, vectors: Tensor, contextVectors: Tensor? = nil) {
        require(vectors.rank == 2 && vectors.shape[0] == vocabulary.count,
                "WordVectors: vectors must be [\(vocabulary.count), D] for \(vocabulary.count) words, got \(vectors.shape)")
        self.vocabulary = vocabulary
        self.vectors = vectors.detached().to(.float32)
        self.contextVectors = contextVectors?.detached().to(.float32)
        let dim = vectors.shape[1]
        var u = self.vectors.scalars(as: Float.self)
        for r in 0..<vocabulary.count {
            var norm: Float = 0
            for d in 0..<dim { norm += u[r * dim + d] * u[r * dim + d] }
            let scale: Float = norm > 0 ? 1 / norm.squareRoot() : 0
            for d in 0..<dim { u[r * dim + d] *= scale }
        }
        unit = u
    }

    /// The vectors of a trained model (`in_embed`, with `out_embed` as context vectors).
    public init(model: SkipGram, vocabulary: Vocabulary) {
        self.init(vocabulary: vocabulary, vectors: model.inEmbed.weight, contextVectors: model.outEmbed.weight)
    }

    public var dimension: Int { vectors.shape[1] }

    /// Indices of `words`; throws naming every word that is not in the vocabulary.
    public func indices(of words: [String]) throws -> [Int] {
        let missing = words.filter { vocabulary.index(of: $0) == nil || $0 == vocabulary.unknownToken }
        guard missing.isEmpty else { throw Word2VecError.unknownWords(missing, vocabularySize: vocabulary.count) }
        return words.compactMap { vocabulary.index(of: $0) }
    }

    public func vector(for word: String) throws -> [Float] {
        let i = try indices(of: [word])[0]
        return vectors[i].scalars(as: Float.self)
    }

    /// Cosine similarity of two words.
    public func similarity(_ a: String, _ b: String) throws -> Double {
        let ix = try indices(of: [a, b])
        var s: Float = 0
        for d in 0..<dimension { s += unit[ix[0] * dimension + d] * unit[ix[1] * dimension + d] }
        return Double(s)
    }

    /// The `count` words whose vectors are closest in cosine similarity to `word` (itself excluded).
    public func nearest(to word: String, count: Int = 10) throws -> [Neighbour] {
        let i = try indices(of: [word])[0]
        return nearest(toUnitQuery: Array(unit[(i * dimension)..<((i + 1) * dimension)]), count: count, excluding: [i])
    }

    /// "a is to b as c is to ?": the words closest to b − a + c (unit vectors, as gensim's
    /// `most_similar(positive=[b, c], negative=[a])`), the three query words excluded.
    public func analogy(_ a: String, _ b: String, _ c: String, count: Int = 5) throws -> [Neighbour] {
        let ix = try indices(of: [a, b, c])
        var q = [Float](repeating: 0, count: dimension)
        for d in 0..<dimension {
            q[d] = unit[ix[1] * dimension + d] - unit[ix[0] * dimension + d] + unit[ix[2] * dimension + d]
        }
        return nearest(toVector: q, count: count, excluding: Set(ix))
    }

    /// The `count` words closest in cosine similarity to `query` (any length-D vector).
    public func nearest(toVector query: [Float], count: Int = 10, excluding: Set<Int> = []) -> [Neighbour] {
        require(query.count == dimension, "WordVectors.nearest: the query has \(query.count) values, the vectors \(dimension)")
        let norm = query.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return nearest(toUnitQuery: query.map { norm > 0 ? $0 / norm : 0 }, count: count, excluding: excluding)
    }

    private func nearest(toUnitQuery q: [Float], count: Int, excluding: Set<Int>) -> [Neighbour] {
        var scored: [(Int, Float)] = []
        scored.reserveCapacity(vocabulary.count)
        for r in 0..<vocabulary.count where !excluding.contains(r) && r != vocabulary.unknownIndex {
            var s: Float = 0
            for d in 0..<dimension { s += unit[r * dimension + d] * q[d] }
            scored.append((r, s))
        }
        scored.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        return scored.prefix(Swift.max(0, count)).map { Neighbour(word: vocabulary.words[$0.0], similarity: Double($0.1)) }
    }

    /// Writes `vectors.safetensors` and `vocabulary.txt` into `directory` (created if needed).
    public func save(to directory: URL, metadata: [String: String] = [:]) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DataError(.writeFailed, file: directory.path, "cannot create the folder (\(error.localizedDescription))")
        }
        var tensors = ["in_embed.weight": vectors]
        if let contextVectors { tensors["out_embed.weight"] = contextVectors }
        var meta = metadata
        meta["format"] = "myelin-word2vec"
        try SafeTensors.write(tensors, metadata: meta, to: directory.appendingPathComponent(Self.vectorsFile))
        try vocabulary.write(to: directory.appendingPathComponent(Self.vocabularyFile))
    }

    /// Reads a folder written by `save(to:)`.
    public static func load(from directory: URL) throws -> WordVectors {
        let vURL = directory.appendingPathComponent(vectorsFile), wURL = directory.appendingPathComponent(vocabularyFile)
        for url in [vURL, wURL] where !FileManager.default.fileExists(atPath: url.path) {
            throw Word2VecError.missingFile(url.path)
        }
        let vocabulary = try Vocabulary.read(contentsOf: wURL)
        let tensors = try SafeTensors.read(contentsOf: vURL).tensors
        guard let vectors = tensors["in_embed.weight"] else {
            throw Word2VecError.badVectors(vURL.path, "no tensor named 'in_embed.weight'")
        }
        guard vectors.rank == 2, vectors.shape[0] == vocabulary.count, vectors.dtype.isFloatingPoint else {
            throw Word2VecError.badVectors(vURL.path, "'in_embed.weight' has shape \(vectors.shape) (\(vectors.dtype)), expected [\(vocabulary.count), D] floats for the \(vocabulary.count) words of \(wURL.lastPathComponent)")
        }
        let context = tensors["out_embed.weight"].flatMap { $0.shape == vectors.shape ? $0 : nil }
        return WordVectors(vocabulary: vocabulary, vectors: vectors, contextVectors: context)
    }
}
