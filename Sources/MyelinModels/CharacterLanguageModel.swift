import MyelinCore
import MyelinNN

/// A next-character model that `CharLMTrainer` trains and `myelin generate` samples: the
/// LSTM `CharLM` (recurrent, its state carried from chunk to chunk) and the causal
/// `TransformerLM` (a fixed context window, no state).
public protocol CharacterLanguageModel: Module {
    /// Characters it predicts (the vocabulary size).
    var vocabularySize: Int { get }
    /// The most characters it reads at once: nil for a recurrent model (any length, state
    /// carried), the block size for a Transformer (trained on random windows of it).
    var contextLength: Int? { get }
    /// Logits [N, T, V] for character indices [N, T], from `state` for a recurrent model
    /// (ignored, and nil returned, by a windowed one).
    func languageModelLogits(_ tokens: Tensor, state: RecurrentState?) -> (logits: Tensor, state: RecurrentState?)
    /// `length` characters drawn one at a time after `prompt` at `temperature` (0: the most
    /// likely), seeded by `generator`; returns the prompt followed by the drawn indices.
    func generate(prompt: [Int], length: Int, temperature: Double, generator: RandomGenerator) -> [Int]
    /// What rebuilds the model (architecture and sizes), stored in checkpoint metadata.
    var architectureMetadata: [String: String] { get }
}

extension CharLM: CharacterLanguageModel {
    public var contextLength: Int? { nil }

    public func languageModelLogits(_ tokens: Tensor, state: RecurrentState?) -> (logits: Tensor, state: RecurrentState?) {
        let r = self(tokens, state: state)
        return (r.logits, r.state)
    }

    public var architectureMetadata: [String: String] {
        ["myelin.charlm.arch": "lstm", "myelin.charlm.hidden": "\(lstm.hiddenSize)",
         "myelin.charlm.embedding": "\(embedding.embeddingDim)", "myelin.charlm.layers": "\(lstm.numLayers)"]
    }
}
