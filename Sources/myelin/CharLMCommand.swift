import ArgumentParser
import Foundation
import Myelin

/// The architectures of `myelin train charlm --arch`.
enum CharLMArchitecture: String, ExpressibleByArgument, CaseIterable { case lstm, transformer }

/// The options of `myelin train charlm`.
struct CharLMOptions: ParsableArguments {
    @Option(help: "The text to learn (UTF-8; default ../shared/data/text/shakespeare.txt).") var text: String?
    @Option(help: "lstm (embedding → LSTM → linear) or transformer (a causal pre-norm Transformer, GPT-style).")
    var arch: CharLMArchitecture = .lstm
    @Option(help: "Training steps (batches of --seq-len characters, or of --block for a transformer).") var steps: Int = 1000
    @Option(help: "Characters per chunk (truncated BPTT length; lstm).") var seqLen: Int = 100
    @Option(help: "LSTM hidden units per layer.") var hiddenSize: Int = 256
    @Option(help: "Layers (default: lstm 2, transformer 4).") var layers: Int?
    @Option(help: "Character embedding size (lstm).") var embeddingSize: Int = 64
    @Option(help: "Dropout between LSTM layers.") var lstmDropout: Double = 0.2
    @Option(help: "Transformer width (d_model).") var width: Int = 128
    @Option(help: "Transformer attention heads.") var heads: Int = 4
    @Option(help: "Transformer feed-forward width (default 4 × --width).") var feedForward: Int?
    @Option(help: "Transformer context (block) size: training windows and the most characters it reads.") var block: Int = 128
    @Option(help: "Transformer positions: learned or sinusoidal.") var positions: String = "learned"
    @Flag(help: "Transformer: the output head shares the token embedding matrix.") var tieWeights = false
    @Option(help: "Transformer warm-up steps before the cosine decay to lr/10 (default min(100, steps/10)).") var warmup: Int?
    @Option(help: "Gradient-norm clipping.") var clip: Double = 1.0
    @Option(help: "Validate and sample every this many steps.") var evalEvery: Int = 250
    @Option(help: "Fraction of the text, at its end, held out for validation.") var heldOut: Double = 0.1
    @Option(help: "Sample prompt (the corpus writes speakers as \"Romeo:\").") var prompt: String = "Romeo:"

    /// Trains and writes OUTPUT/charlm.safetensors. Defaults: batch 32; lstm: Adam lr 2e-3,
    /// constant; transformer: AdamW lr 1e-3, betas (0.9, 0.99), warm-up then cosine to lr/10.
    /// `dropout` (`--dropout`) is the transformer's (default 0); `weightDecay` applies to matrices.
    func train(batchSize: Int?, learningRate: Double?, weightDecay: Double = 0, dropout: Double? = nil, seed: UInt64, output: String) throws {
        let layerCount = layers ?? (arch == .lstm ? 2 : 4)
        guard steps >= 1, seqLen >= 1, hiddenSize >= 1, layerCount >= 1, embeddingSize >= 1, evalEvery >= 1, width >= 1, heads >= 1, block >= 1,
              (feedForward ?? 1) >= 1 else {
            throw CLIError("charlm: --steps, --seq-len, --hidden-size, --layers, --embedding-size, --eval-every, --width, --heads, --block "
                           + "and --feed-forward must be positive")
        }
        guard lstmDropout >= 0 && lstmDropout < 1, heldOut > 0 && heldOut < 1, clip > 0, (dropout ?? 0) >= 0 && (dropout ?? 0) < 1 else {
            throw CLIError("charlm: --lstm-dropout and --dropout must be in [0, 1), --held-out in (0, 1), --clip positive")
        }
        guard width % heads == 0 else { throw CLIError("charlm: --width \(width) must be divisible by --heads \(heads)") }
        guard let positionKind = TransformerLMConfiguration.Positions(rawValue: positions) else {
            throw CLIError("charlm: --positions must be learned or sinusoidal, not \(positions)")
        }
        let path = text ?? ProcessInfo.processInfo.environment["MYELIN_DATA"].map { "\($0)/text/shakespeare.txt" } ?? "../shared/data/text/shakespeare.txt"
        let corpus = try CharacterCorpus(contentsOf: URL(fileURLWithPath: path), validationFraction: heldOut)
        var options = CharLMTrainingOptions()
        options.batchSize = batchSize ?? 32
        options.chunkLength = seqLen
        options.clipNorm = clip
        options.evaluateEvery = evalEvery
        options.samplePrompt = prompt
        options.seed = seed
        options.weightDecay = weightDecay
        let context = arch == .lstm ? seqLen : block
        guard corpus.train.count / options.batchSize >= 2, corpus.train.count > context + 1, corpus.validation.count >= 4 else {
            throw CLIError("\(path): \(corpus.train.count) training characters are too few for \(options.batchSize) streams of \(context)")
        }
        _ = try corpus.vocabulary.encode(prompt)
        manualSeed(seed)
        let generator = RandomGenerator(seed: seed)
        let model: any CharacterLanguageModel
        let described: String
        switch arch {
        case .lstm:
            options.learningRate = learningRate ?? 2e-3
            model = CharLM(vocabularySize: corpus.vocabulary.count, embeddingSize: embeddingSize, hiddenSize: hiddenSize,
                           layers: layerCount, dropout: lstmDropout, generator: generator)
            described = "LSTM \(layerCount)×\(hiddenSize); batch \(options.batchSize) × \(seqLen), Adam lr \(options.learningRate)"
        case .transformer:
            options.learningRate = learningRate ?? 1e-3
            options.beta2 = 0.99
            options.warmupSteps = Swift.min(warmup ?? Swift.min(100, steps / 10), steps - 1)
            options.scheduleSteps = steps
            options.minLearningRate = options.learningRate / 10
            let config = TransformerLMConfiguration(vocabularySize: corpus.vocabulary.count, blockSize: block, layers: layerCount, heads: heads,
                                                    width: width, feedForward: feedForward, dropout: dropout ?? 0, positions: positionKind,
                                                    tieWeights: tieWeights)
            model = TransformerLM(config, generator: generator)
            described = "Transformer \(layerCount) layers × width \(width), \(heads) heads, feed-forward \(config.feedForward), block \(block), "
                + "\(positions) positions\(tieWeights ? ", tied head" : ""), dropout \(config.dropout); batch \(options.batchSize) × \(block), "
                + "AdamW lr \(options.learningRate) (warm-up \(options.warmupSteps), cosine to \(options.minLearningRate)), weight decay \(weightDecay)"
        }
        let trainer = CharLMTrainer(model: model, corpus: corpus, options: options)
        let out = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let weights = out.appendingPathComponent("charlm.safetensors")
        print("charlm: \(corpus.vocabulary.count) characters, \(model.parameterCount) parameters; \(corpus.train.count) training and "
              + "\(corpus.validation.count) validation characters; \(described), clip \(clip), \(Threading.threadCount) thread(s)")
        // A Transformer's pass over the held-out text costs as much as ~40 training steps: skipped before training.
        if arch == .lstm {
            print(String(format: "step %5d  validation %.4f nats/char (untrained; ln %d = %.4f)", 0, trainer.validationLoss(),
                         corpus.vocabulary.count, Foundation.log(Double(corpus.vocabulary.count))))
        }
        var best = Double.infinity
        try trainer.train(steps: steps) { r in
            print(String(format: "step %5d  loss %.4f  validation %.4f nats/char  %.1f s", r.step, r.trainLoss, r.validationLoss, r.trainSeconds))
            print("  sample: \(r.sample.debugDescription)")
            if r.validationLoss < best {
                best = r.validationLoss
                do { try trainer.save(to: weights) } catch {
                    print("could not save \(weights.path): \(error)")
                }
            }
        }
        print(String(format: "best validation %.4f nats/char; wrote %@", best, weights.path))
    }
}

/// `myelin generate`'s work, apart from printing: the checkpoint's model (either
/// architecture) continues `prompt`.
func generateText(checkpoint: String, prompt: String, length: Int, temperature: Double, seed: UInt64) throws -> String {
    guard FileManager.default.fileExists(atPath: checkpoint) else { throw CLIError("--checkpoint \(checkpoint): no such file") }
    let (model, vocabulary) = try CharLMTrainer.loadModel(from: URL(fileURLWithPath: checkpoint))
    let ids = try vocabulary.encode(prompt)
    let out = model.generate(prompt: ids, length: length, temperature: temperature, generator: RandomGenerator(seed: seed))
    return vocabulary.decode(out)
}

/// `myelin generate --checkpoint runs/charlm/charlm.safetensors --prompt "Romeo:" --temperature 0.8 --length 500`.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sample text from a character-level language model (LSTM or Transformer) trained by `myelin train charlm`.")

    @Option(help: "The weights written by `myelin train charlm`.") var checkpoint: String
    @Option(help: "The text to continue.") var prompt: String = "Romeo:"
    @Option(help: "Softmax temperature (0: always the most likely character).") var temperature: Double = 0.8
    @Option(help: "Characters to draw.") var length: Int = 500
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func validate() throws {
        guard temperature >= 0 && temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0, not \(temperature)") }
        guard length >= 0 else { throw ValidationError("--length must be ≥ 0, not \(length)") }
        guard !prompt.isEmpty else { throw ValidationError("--prompt must not be empty") }
    }

    func run() throws {
        print(try generateText(checkpoint: checkpoint, prompt: prompt, length: length, temperature: temperature, seed: seed))
    }
}
