import ArgumentParser
import Foundation
import Myelin

/// The options of `myelin train charlm`.
struct CharLMOptions: ParsableArguments {
    @Option(help: "The text to learn (UTF-8; default ../shared/data/text/shakespeare.txt).") var text: String?
    @Option(help: "Training steps (chunks of --seq-len characters × batch).") var steps: Int = 1000
    @Option(help: "Characters per chunk (truncated BPTT length).") var seqLen: Int = 100
    @Option(help: "LSTM hidden units per layer.") var hiddenSize: Int = 256
    @Option(help: "LSTM layers.") var layers: Int = 2
    @Option(help: "Character embedding size.") var embeddingSize: Int = 64
    @Option(help: "Dropout between LSTM layers.") var lstmDropout: Double = 0.2
    @Option(help: "Gradient-norm clipping.") var clip: Double = 1.0
    @Option(help: "Validate and sample every this many steps.") var evalEvery: Int = 250
    @Option(help: "Fraction of the text, at its end, held out for validation.") var heldOut: Double = 0.1
    @Option(help: "Sample prompt (the corpus writes speakers as \"Romeo:\").") var prompt: String = "Romeo:"

    /// Trains and writes OUTPUT/charlm.safetensors; batch 32 and learning rate 2e-3 unless given.
    func train(batchSize: Int?, learningRate: Double?, seed: UInt64, output: String) throws {
        guard steps >= 1, seqLen >= 1, hiddenSize >= 1, layers >= 1, embeddingSize >= 1, evalEvery >= 1 else {
            throw CLIError("charlm: --steps, --seq-len, --hidden-size, --layers, --embedding-size and --eval-every must be positive")
        }
        guard lstmDropout >= 0 && lstmDropout < 1, heldOut > 0 && heldOut < 1, clip > 0 else {
            throw CLIError("charlm: --lstm-dropout must be in [0, 1), --held-out in (0, 1), --clip positive")
        }
        let path = text ?? ProcessInfo.processInfo.environment["MYELIN_DATA"].map { "\($0)/text/shakespeare.txt" } ?? "../shared/data/text/shakespeare.txt"
        let corpus = try CharacterCorpus(contentsOf: URL(fileURLWithPath: path), validationFraction: heldOut)
        var options = CharLMTrainingOptions()
        options.batchSize = batchSize ?? 32
        options.chunkLength = seqLen
        options.learningRate = learningRate ?? 2e-3
        options.clipNorm = clip
        options.evaluateEvery = evalEvery
        options.samplePrompt = prompt
        options.seed = seed
        guard corpus.train.count / options.batchSize >= 2, corpus.validation.count >= 4 else {
            throw CLIError("\(path): \(corpus.train.count) training characters are too few for \(options.batchSize) streams")
        }
        _ = try corpus.vocabulary.encode(prompt)
        manualSeed(seed)
        let model = CharLM(vocabularySize: corpus.vocabulary.count, embeddingSize: embeddingSize, hiddenSize: hiddenSize,
                           layers: layers, dropout: lstmDropout, generator: RandomGenerator(seed: seed))
        let trainer = CharLMTrainer(model: model, corpus: corpus, options: options)
        let out = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let weights = out.appendingPathComponent("charlm.safetensors")
        print("charlm: \(corpus.vocabulary.count) characters, \(model.parameterCount) parameters; \(corpus.train.count) training and "
              + "\(corpus.validation.count) validation characters; batch \(options.batchSize) × \(seqLen), Adam lr \(options.learningRate), "
              + "clip \(clip), \(Threading.threadCount) thread(s)")
        print(String(format: "step %5d  validation %.4f nats/char (untrained; ln %d = %.4f)", 0, trainer.validationLoss(),
                     corpus.vocabulary.count, Foundation.log(Double(corpus.vocabulary.count))))
        var best = Double.infinity
        try trainer.train(steps: steps) { r in
            print(String(format: "step %5d  loss %.4f  validation %.4f nats/char  %.1f s", r.step, r.trainLoss, r.validationLoss, r.trainSeconds))
            print("  sample: \(r.sample.debugDescription)")
            if r.validationLoss < best {
                best = r.validationLoss
                do { try trainer.save(to: weights, hiddenSize: hiddenSize, embeddingSize: embeddingSize, layers: layers) } catch {
                    print("could not save \(weights.path): \(error)")
                }
            }
        }
        print(String(format: "best validation %.4f nats/char; wrote %@", best, weights.path))
    }
}

/// `myelin generate --checkpoint runs/charlm/charlm.safetensors --prompt "Romeo:" --temperature 0.8 --length 500`.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sample text from a character-level language model trained by `myelin train charlm`.")

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
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw CLIError("--checkpoint \(checkpoint): no such file") }
        let (model, vocabulary) = try CharLMTrainer.load(from: URL(fileURLWithPath: checkpoint))
        let ids = try vocabulary.encode(prompt)
        let out = model.generate(prompt: ids, length: length, temperature: temperature, generator: RandomGenerator(seed: seed))
        print(vocabulary.decode(out))
    }
}
