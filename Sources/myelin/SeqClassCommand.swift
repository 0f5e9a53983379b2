import ArgumentParser
import Foundation
import Myelin

enum SplitChoice: String, ExpressibleByArgument, CaseIterable { case play, speech }
enum PoolingChoice: String, ExpressibleByArgument, CaseIterable { case last, mean, max }
extension RecurrentCellKind: ExpressibleByArgument {}

/// The options of `myelin train seqclass` (sequence classification of the plays corpus).
struct SeqClassOptions: ParsableArguments {
    @Option(help: "The plays folder: one folder per genre, one .txt per play (default ../shared/data/text/plays).") var plays: String?
    @Option(help: "Comma-separated classes: genre folders (comedies,tragedies) or plays (hamlet,twelfth-night).") var classes: String?
    @Option(help: "The recurrent cell: lstm or gru.") var rnn: RecurrentCellKind = .lstm
    @Option(help: "Split train/validation/test by play (whole plays held out) or by speech (the plays' speeches shuffled).")
    var by: SplitChoice?
    @Option(help: "Sequence summary: last (both directions' last states), mean or max over the real words.") var pooling: PoolingChoice = .last
    @Option(help: "Words per speech kept (the rest is cut).") var maxTokens: Int = 50
    @Option(help: "Speeches with fewer words are left out.") var minTokens: Int = 1
    @Option(help: "Examples of this many consecutive spoken lines (across speeches) instead of single speeches.") var linesPerExample: Int?
    @Option(help: "Training-split count below which a word becomes <unk>.") var minCount: Int = 2
    @Option(help: "Vocabulary size, <unk> included.") var maxVocab: Int = 20000
    @Option(help: "Word embedding size.") var wordEmbedding: Int = 64
    @Option(help: "Hidden units per direction.") var units: Int = 64
    @Option(help: "Recurrent layers (1 or 2).") var rnnLayers: Int = 1
    @Option(help: "Dropout before the classifier.") var dropout: Double = 0.3
    @Option(help: "Epochs without a better validation accuracy before stopping.") var patience: Int = 3
    @Option(help: "Fractions of each class (of its plays, or its speeches) for validation and for test.") var heldOutFraction: Double = 0.15

    /// Trains, reports and writes OUTPUT/seqclass.safetensors.
    func train(epochs: Int, batchSize: Int, learningRate: Double?, clip: Double, seed: UInt64, output: String) throws {
        guard let classes = classes?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }), classes.count >= 2 else {
            throw CLIError("seqclass: --classes needs two or more comma-separated genres or plays, e.g. --classes comedies,tragedies")
        }
        guard maxTokens >= 1, minTokens >= 1, minCount >= 1, maxVocab >= 2, wordEmbedding >= 1, units >= 1, (1...2).contains(rnnLayers),
              patience >= 1, epochs >= 1, batchSize >= 1 else {
            throw CLIError("seqclass: --max-tokens, --min-tokens, --min-count, --word-embedding, --units, --patience, --epochs and --batch-size "
                           + "must be positive, --max-vocab at least 2, --rnn-layers 1 or 2")
        }
        guard dropout >= 0 && dropout < 1, heldOutFraction > 0 && heldOutFraction < 0.5, clip > 0 else {
            throw CLIError("seqclass: --dropout must be in [0, 1), --held-out-fraction in (0, 0.5), --clip positive")
        }
        let root = plays ?? ProcessInfo.processInfo.environment["MYELIN_DATA"].map { "\($0)/text/plays" } ?? "../shared/data/text/plays"
        var dataOptions = PlayClassificationData.Options(classes: classes)
        dataOptions.seed = seed
        dataOptions.maxTokens = maxTokens
        dataOptions.minTokens = minTokens
        if let linesPerExample {
            guard linesPerExample >= 1 else { throw CLIError("seqclass: --lines-per-example must be at least 1, not \(linesPerExample)") }
            dataOptions.linesPerExample = linesPerExample
        }
        dataOptions.minCount = minCount
        dataOptions.maxVocabulary = maxVocab
        dataOptions.validationFraction = heldOutFraction
        dataOptions.testFraction = heldOutFraction
        // Plays as classes can only be split by speech.
        let catalogue = try PlayCorpus.catalogue(of: URL(fileURLWithPath: root))
        let classesArePlays = !classes.allSatisfy { catalogue[$0] != nil }
        dataOptions.splitBy = by.map { $0 == .play ? .play : .speech } ?? (classesArePlays ? .speech : .play)
        let data = try PlayClassificationData(root: URL(fileURLWithPath: root), options: dataOptions)

        print("seqclass: \(data.kind == .genre ? "genres" : "plays") \(classes.joined(separator: " vs ")) from \(root); split by "
              + "\(dataOptions.splitBy.rawValue) (seed \(seed)); \(linesPerExample.map { "examples of \($0) lines" } ?? "speeches") of ≥ \(minTokens) words, cut to \(maxTokens); "
              + "vocabulary \(data.vocabulary.count) words (training split, min count \(minCount))")
        if dataOptions.splitBy == .play {
            for (i, name) in classes.enumerated() {
                let p = data.plays[i]
                print("  \(name): train \(p.train.joined(separator: ", ")); validation \(p.validation.joined(separator: ", ")); "
                      + "test \(p.test.joined(separator: ", "))")
            }
        }
        print(data.report())
        let baseline = data.majorityBaseline(on: data.test)
        print(String(format: "majority-class baseline on test (always %@): %.4f", baseline.className, baseline.accuracy))

        manualSeed(seed)
        let model = SequenceClassifier(vocabularySize: data.vocabulary.count, classes: classes.count, embeddingSize: wordEmbedding,
                                       hiddenSize: units, layers: rnnLayers, cell: rnn, bidirectional: true,
                                       pooling: pooling == .last ? .lastState : pooling == .mean ? .mean : .max,
                                       dropout: dropout, generator: RandomGenerator(seed: seed))
        var options = SequenceClassifierTrainingOptions()
        options.epochs = epochs
        options.batchSize = batchSize
        options.learningRate = learningRate ?? 2e-3
        options.clipNorm = clip
        options.patience = patience
        options.seed = seed
        print("model: embedding \(wordEmbedding) → bidirectional \(rnn.rawValue.uppercased()) \(units)×2"
              + "\(rnnLayers > 1 ? " × \(rnnLayers) layers" : "") → \(pooling.rawValue) → dropout \(dropout) → linear \(classes.count); "
              + "\(model.parameterCount) parameters; Adam lr \(options.learningRate), clip \(clip), batch \(batchSize), \(Threading.threadCount) thread(s)")
        let history = trainSequenceClassifier(model, train: data.train, validation: data.validation, options: options) { e in
            print(String(format: "epoch %2d  train loss %.4f  train acc %.4f  validation acc %.4f  %.1f s",
                         e.epoch, e.trainLoss, e.trainAccuracy, e.validationAccuracy, e.seconds))
        }
        let matrix = evaluateSequenceClassifier(model, data.test, classNames: classes)
        print(String(format: "best epoch %d (validation %.4f); training %.1f s", history.bestEpoch, history.bestValidationAccuracy,
                     history.trainSeconds))
        print(String(format: "test accuracy %.4f (majority baseline %.4f) on %d examples", matrix.accuracy, baseline.accuracy, matrix.total))
        print(matrix.render())

        let out = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let weights = out.appendingPathComponent("seqclass.safetensors")
        try saveWeights(model, to: weights, metadata: [
            "myelin.seqclass.vocabulary": data.vocabulary.serialized(), "myelin.seqclass.classes": classes.joined(separator: ","),
            "myelin.seqclass.cell": rnn.rawValue, "myelin.seqclass.units": "\(units)", "myelin.seqclass.layers": "\(rnnLayers)",
            "myelin.seqclass.embedding": "\(wordEmbedding)", "myelin.seqclass.pooling": pooling.rawValue,
        ])
        print("wrote \(weights.path)")
    }
}
