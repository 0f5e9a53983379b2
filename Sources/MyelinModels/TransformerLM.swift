import Foundation
import MyelinCore
import MyelinNN

/// The sizes of a `TransformerLM`, saved in its checkpoints (JSON) to rebuild it.
public struct TransformerLMConfiguration: Codable, Sendable, Equatable {
    /// How positions enter: a learned table (GPT) or the fixed sinusoids (the original paper).
    public enum Positions: String, Codable, Sendable, CaseIterable { case learned, sinusoidal }

    public var vocabularySize: Int
    /// The context window: the most tokens the model reads at once.
    public var blockSize: Int
    public var layers: Int
    public var heads: Int
    /// The model width (d_model); divisible by `heads`.
    public var width: Int
    /// The feed-forward width (default 4 × width).
    public var feedForward: Int
    public var dropout: Double
    public var positions: Positions
    /// The output head shares the token embedding's matrix (Press & Wolf, 2017).
    public var tieWeights: Bool

    public init(vocabularySize: Int, blockSize: Int = 128, layers: Int = 4, heads: Int = 4, width: Int = 128,
                feedForward: Int? = nil, dropout: Double = 0, positions: Positions = .learned, tieWeights: Bool = false) {
        self.vocabularySize = vocabularySize
        self.blockSize = blockSize
        self.layers = layers
        self.heads = heads
        self.width = width
        self.feedForward = feedForward ?? 4 * width
        self.dropout = dropout
        self.positions = positions
        self.tieWeights = tieWeights
    }
}

/// A decoder-only (GPT-style) causal Transformer language model: token embedding + positions
/// → dropout → a pre-norm `TransformerEncoder` (causal self-attention, GELU) → LayerNorm →
/// a linear head to the vocabulary (without bias; optionally the embedding matrix, tied).
///
/// Names as scripts/pytorch_chartransformer.py: "token_embedding.weight",
/// "position_embedding.weight" (learned positions), "encoder.layers.N.self_attn.in_proj_weight",
/// ..., "norm.weight", "head.weight" (absent when tied). Every Linear and embedding weight
/// starts N(0, 0.02), biases at zero (GPT-2's initialisation).
///
///     let lm = TransformerLM(TransformerLMConfiguration(vocabularySize: 65))
///     let logits = lm(tokens)      // [B, L] int → [B, L, 65]
public final class TransformerLM: Module, UnaryLayer {
    public let tokenEmbedding: Embedding
    public let positionEmbedding: LearnedPositionalEmbedding?
    public let positionalEncoding: SinusoidalPositionalEncoding?
    public let dropout: Dropout
    public let encoder: TransformerEncoder
    public let norm: LayerNorm
    public let head: Linear?
    public let configuration: TransformerLMConfiguration

    public init(_ configuration: TransformerLMConfiguration, generator: RandomGenerator = .default) {
        let c = configuration
        require(c.vocabularySize > 0 && c.blockSize > 0 && c.layers > 0 && c.heads > 0 && c.width > 0 && c.feedForward > 0,
                "TransformerLM: vocabulary \(c.vocabularySize), block \(c.blockSize), layers \(c.layers), heads \(c.heads), "
                + "width \(c.width) and feed-forward \(c.feedForward) must be positive")
        require(c.width % c.heads == 0, "TransformerLM: width \(c.width) must be divisible by heads \(c.heads)")
        require(c.dropout >= 0 && c.dropout < 1, "TransformerLM: dropout must be in [0, 1), got \(c.dropout)")
        self.configuration = c
        tokenEmbedding = Embedding(c.vocabularySize, c.width, generator: generator)
        switch c.positions {
        case .learned:
            positionEmbedding = LearnedPositionalEmbedding(maxLength: c.blockSize, dModel: c.width, generator: generator)
            positionalEncoding = nil
        case .sinusoidal:
            positionEmbedding = nil
            positionalEncoding = SinusoidalPositionalEncoding(dModel: c.width, maxLength: c.blockSize)
        }
        dropout = Dropout(c.dropout, generator: generator)
        encoder = TransformerEncoder(count: c.layers) {
            TransformerEncoderLayer(dModel: c.width, heads: c.heads, feedForward: c.feedForward, dropout: c.dropout,
                                    activation: .gelu, normFirst: true, generator: generator)
        }
        norm = LayerNorm(c.width)
        head = c.tieWeights ? nil : Linear(c.width, c.vocabularySize, bias: false, generator: generator)
        super.init()
        // GPT-2: N(0, 0.02) for every matrix and embedding, zero biases (LayerNorms stay 1 and 0).
        for (_, module) in namedModules() where !(module is LayerNorm) {
            for (_, p) in module.ownParameters() {
                if p.shape.count >= 2 { Init.normal(p, std: 0.02, generator: generator) } else { Init.zeros(p) }
            }
        }
    }

    public var vocabularySize: Int { configuration.vocabularySize }

    /// Logits [B, L, V] for token indices [B, L] (int), L ≤ the block size; position t sees
    /// tokens 0...t only.
    public func callAsFunction(_ tokens: Tensor) -> Tensor {
        let c = configuration
        require(tokens.rank == 2 && !tokens.dtype.isFloatingPoint,
                "TransformerLM: input must be token indices [batch, length] (int), got \(tokens.dtype) of shape \(tokens.shape)")
        require(tokens.shape[1] >= 1 && tokens.shape[1] <= c.blockSize,
                "TransformerLM: input length \(tokens.shape[1]) must be in 1...\(c.blockSize) (the block size)")
        var x = tokenEmbedding(tokens)
        if let positionEmbedding { x = positionEmbedding(x) }
        if let positionalEncoding { x = positionalEncoding(x) }
        x = norm(encoder(dropout(x), isCausal: true))
        return head.map { $0(x) } ?? linear(x, weight: tokenEmbedding.weight, bias: nil)
    }

    /// `length` tokens drawn one at a time after `prompt`, each from the logits of the last
    /// `blockSize` tokens at `temperature` (0: the most likely), seeded by `generator`;
    /// returns the prompt followed by the drawn tokens. Evaluation mode, no gradients.
    public func generate(prompt: [Int], length: Int, temperature: Double = 1, generator: RandomGenerator = .default) -> [Int] {
        require(!prompt.isEmpty, "TransformerLM.generate: the prompt must have at least one token")
        require(prompt.allSatisfy { $0 >= 0 && $0 < vocabularySize }, "TransformerLM.generate: prompt indices must be in 0..<\(vocabularySize)")
        require(length >= 0, "TransformerLM.generate: length must be non-negative, got \(length)")
        let wasTraining = training
        eval()
        defer { train(wasTraining) }
        var out = prompt
        withoutGradients {
            for _ in 0..<length {
                let context = out.suffix(configuration.blockSize)
                let logits = self(Tensor(context.map(Int64.init), shape: [1, context.count]))
                out.append(sampleCategorical(logits: logits[0, context.count - 1], temperature: temperature, generator: generator))
            }
        }
        return out
    }
}

extension TransformerLM: CharacterLanguageModel {
    public var contextLength: Int? { configuration.blockSize }

    public func languageModelLogits(_ tokens: Tensor, state: RecurrentState?) -> (logits: Tensor, state: RecurrentState?) {
        (self(tokens), nil)
    }

    public var architectureMetadata: [String: String] {
        let json = (try? JSONEncoder().encode(configuration)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return ["myelin.charlm.arch": "transformer", "myelin.charlm.transformer": json]
    }
}
