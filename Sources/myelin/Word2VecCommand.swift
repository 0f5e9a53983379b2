import ArgumentParser
import Foundation
import Myelin

/// `myelin word2vec train|neighbours|analogy`: skip-gram word vectors.
struct Word2VecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "word2vec",
        abstract: "Train skip-gram word vectors (negative sampling) and query them.",
        subcommands: [Train.self, Neighbours.self, Analogy.self])

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train word vectors on a text file; writes vectors.safetensors and vocabulary.txt into --output.",
            discussion: "Words are lower-cased runs of letters and digits (apostrophes kept inside words); play-script speaker lines such as 'Romeo:' are skipped.")

        @Option(help: "The text file (UTF-8).") var corpus: String
        @Option(help: "Size of each vector.") var dim: Int = 100
        @Option(help: "Largest distance to a context word (each centre word draws 1...window).") var window: Int = 5
        @Option(help: "Noise words per pair, drawn from unigram^0.75.") var negatives: Int = 5
        @Option(help: "Leave out words seen fewer times.") var minCount: Int = 5
        @Option(help: "Subsampling threshold t (keep a word of frequency f with probability sqrt(t/f) + t/f); 0 keeps all.") var sample: Double = 1e-3
        @Option(help: "Passes over the corpus.") var epochs: Int = 5
        @Option(help: "Initial learning rate (decays linearly to 1e-4 of it).") var learningRate: Double = 0.025
        @Option(help: "Pairs per SGD step.") var batchSize: Int = 256
        @Option(help: "Random seed.") var seed: UInt64 = 1
        @Option(help: "Stop after this many seconds (the learning rate decays as for the full run).") var maxSeconds: Double?
        @Flag(help: "Train through the autograd graph instead of the fused sparse step (slower; for comparison).") var autograd = false
        @Option(help: "Folder for the vectors.") var output: String

        func validate() throws {
            for (name, v) in [("--dim", dim), ("--window", window), ("--min-count", minCount), ("--epochs", epochs), ("--batch-size", batchSize)] where v < 1 {
                throw ValidationError("\(name) must be positive, got \(v)")
            }
            if negatives < 0 { throw ValidationError("--negatives must be 0 or more, got \(negatives)") }
            if sample < 0 { throw ValidationError("--sample must be 0 or more, got \(sample)") }
            if !(learningRate > 0) { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
        }

        func run() throws {
            let url = URL(fileURLWithPath: corpus)
            let words = try TextCorpus.words(contentsOf: url)
            let vocabulary = Vocabulary(counting: words, minCount: minCount)
            guard vocabulary.count > 1 else { throw CLIError("\(corpus): no word occurs \(minCount) times or more (lower --min-count)") }
            let ids = vocabulary.encode(words, dropUnknown: true)
            print("corpus: \(words.count) words, \(ids.count) in a vocabulary of \(vocabulary.count - 1) words (min count \(minCount))")
            let cfg = Word2VecConfiguration(dimension: dim, window: window, negatives: negatives, minCount: minCount, sample: sample,
                                            epochs: epochs, learningRate: learningRate, batchSize: batchSize, seed: seed)
            var trainer = Word2VecTrainer(vocabulary: vocabulary, configuration: cfg)
            trainer.useAutograd = autograd
            let model = trainer.makeModel()
            let history = trainer.train(model, corpus: ids, stopAfterSeconds: maxSeconds) { p in
                print(String(format: "epoch %d: %d pairs, loss %.4f, %.0f words/s, lr %.5f, %.1f s",
                             p.epoch, p.pairs, p.meanLoss, p.wordsPerSecond, p.learningRate, p.seconds))
                fflush(nil)
            }
            let vectors = WordVectors(model: model, vocabulary: vocabulary)
            let meta = ["dim": "\(dim)", "window": "\(window)", "negatives": "\(negatives)", "min_count": "\(minCount)",
                        "sample": "\(sample)", "epochs": "\(history.count)", "corpus": url.lastPathComponent]
            try vectors.save(to: URL(fileURLWithPath: output), metadata: meta)
            print("wrote \(output)/\(WordVectors.vectorsFile) and \(output)/\(WordVectors.vocabularyFile)")
        }
    }

    struct Neighbours: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the nearest words (cosine similarity) of each word.")
        @Option(help: "A folder written by 'myelin word2vec train'.") var vectors: String
        @Option(help: "Neighbours per word.") var count: Int = 10
        @Argument(help: "The words.") var words: [String]

        func validate() throws {
            if words.isEmpty { throw ValidationError("give at least one word") }
            if count < 1 { throw ValidationError("--count must be positive, got \(count)") }
        }

        func run() throws {
            let v = try WordVectors.load(from: URL(fileURLWithPath: vectors))
            let query = words.map { $0.lowercased() }
            _ = try v.indices(of: query)  // every unknown word named at once
            for w in query {
                print("\(w): " + (try v.nearest(to: w, count: count)).map(\.description).joined(separator: ", "))
            }
        }
    }

    struct Analogy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A is to B as C is to ?: the words nearest to B - A + C.",
            discussion: "Example: myelin word2vec analogy --vectors DIR man king woman (king - man + woman).")
        @Option(help: "A folder written by 'myelin word2vec train'.") var vectors: String
        @Option(help: "Answers to print.") var count: Int = 5
        @Argument(help: "A B C.") var words: [String]

        func validate() throws {
            if words.count != 3 { throw ValidationError("an analogy takes three words, A B C, got \(words.count)") }
            if count < 1 { throw ValidationError("--count must be positive, got \(count)") }
        }

        func run() throws {
            let v = try WordVectors.load(from: URL(fileURLWithPath: vectors))
            let w = words.map { $0.lowercased() }
            let answers = try v.analogy(w[0], w[1], w[2], count: count)
            print("\(w[0]) : \(w[1]) :: \(w[2]) : " + answers.map(\.description).joined(separator: ", "))
        }
    }
}
