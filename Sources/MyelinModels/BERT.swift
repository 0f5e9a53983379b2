import Foundation
import MyelinCore
import MyelinNN
import MyelinIO

// BERT-family encoders (BERT, MiniLM, all-MiniLM-L6-v2, ...) that load Hugging Face checkpoints:
// config.json gives the shape, model.safetensors the weights, by Hugging Face's own parameter
// names ("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight", ...).

/// The activation of BERT's feed-forward block, as config.json's `hidden_act` names it.
public enum BertActivation: String, Codable, Sendable, Equatable {
    /// "gelu": x·Φ(x) with the exact erf.
    case gelu
    /// "gelu_new" or "gelu_pytorch_tanh": the tanh approximation of GELU.
    case geluTanh = "gelu_new"
    case relu

    /// The activation for a `hidden_act` string, or nil when it is not one BERT uses here.
    public init?(configName: String) {
        switch configName {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh": self = .geluTanh
        case "relu": self = .relu
        default: return nil
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let name = try c.decode(String.self)
        guard let a = BertActivation(configName: name) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription:
                "unsupported activation \"\(name)\" (supported: gelu, gelu_new, gelu_pytorch_tanh, relu)")
        }
        self = a
    }

    func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: x.gelu(approximation: .erf)
        case .geluTanh: x.gelu(approximation: .tanh)
        case .relu: x.relu()
        }
    }
}

/// A BERT encoder's shape, read from a Hugging Face config.json (`BertConfiguration.load(contentsOf:)`).
///
/// The six sizes are required; `hidden_act`, `type_vocab_size`, `layer_norm_eps` and the dropout
/// probabilities default to Hugging Face's `BertConfig` defaults when absent.
public struct BertConfiguration: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var hiddenAct: BertActivation
    public var maxPositionEmbeddings: Int
    public var vocabSize: Int
    public var typeVocabSize: Int
    public var layerNormEps: Double
    public var hiddenDropoutProb: Double
    public var attentionProbsDropoutProb: Double

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size", hiddenAct = "hidden_act", maxPositionEmbeddings = "max_position_embeddings"
        case vocabSize = "vocab_size", typeVocabSize = "type_vocab_size", layerNormEps = "layer_norm_eps"
        case hiddenDropoutProb = "hidden_dropout_prob", attentionProbsDropoutProb = "attention_probs_dropout_prob"
        case positionEmbeddingType = "position_embedding_type"
    }

    public init(hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
                hiddenAct: BertActivation = .gelu, maxPositionEmbeddings: Int = 512, vocabSize: Int = 30522,
                typeVocabSize: Int = 2, layerNormEps: Double = 1e-12, hiddenDropoutProb: Double = 0.1,
                attentionProbsDropoutProb: Double = 0.1) {
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.vocabSize = vocabSize
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.hiddenDropoutProb = hiddenDropoutProb
        self.attentionProbsDropoutProb = attentionProbsDropoutProb
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func positive(_ key: CodingKeys) throws -> Int {
            let v = try c.decode(Int.self, forKey: key)
            guard v > 0 else { throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be positive, got \(v)") }
            return v
        }
        func probability(_ key: CodingKeys) throws -> Double {
            let p = try c.decodeIfPresent(Double.self, forKey: key) ?? 0.1
            guard p >= 0 && p < 1 else { throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be in [0, 1), got \(p)") }
            return p
        }
        hiddenSize = try positive(.hiddenSize)
        numHiddenLayers = try positive(.numHiddenLayers)
        numAttentionHeads = try positive(.numAttentionHeads)
        guard hiddenSize % numAttentionHeads == 0 else {
            throw DecodingError.dataCorruptedError(forKey: .numAttentionHeads, in: c, debugDescription:
                "\(numAttentionHeads) heads do not divide hidden_size \(hiddenSize)")
        }
        intermediateSize = try positive(.intermediateSize)
        maxPositionEmbeddings = try positive(.maxPositionEmbeddings)
        vocabSize = try positive(.vocabSize)
        hiddenAct = try c.decodeIfPresent(BertActivation.self, forKey: .hiddenAct) ?? .gelu
        typeVocabSize = c.contains(.typeVocabSize) ? try positive(.typeVocabSize) : 2
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? 1e-12
        guard layerNormEps > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .layerNormEps, in: c, debugDescription: "must be positive, got \(layerNormEps)")
        }
        hiddenDropoutProb = try probability(.hiddenDropoutProb)
        attentionProbsDropoutProb = try probability(.attentionProbsDropoutProb)
        // Relative position embeddings change the attention itself; only absolute ones are implemented.
        if let kind = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType), kind != "absolute" {
            throw DecodingError.dataCorruptedError(forKey: .positionEmbeddingType, in: c, debugDescription:
                "only \"absolute\" position embeddings are supported, got \"\(kind)\"")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(typeVocabSize, forKey: .typeVocabSize)
        try c.encode(layerNormEps, forKey: .layerNormEps)
        try c.encode(hiddenDropoutProb, forKey: .hiddenDropoutProb)
        try c.encode(attentionProbsDropoutProb, forKey: .attentionProbsDropoutProb)
        try c.encode("absolute", forKey: .positionEmbeddingType)
    }

    /// Decodes config.json's bytes; `source` (the file's path) names the file in errors.
    /// Throws `ModelZooError` naming the file and the missing or invalid key.
    public init(jsonData: Data, source: String = "config.json") throws {
        do {
            self = try JSONDecoder().decode(BertConfiguration.self, from: jsonData)
        } catch let error as DecodingError {
            throw ModelZooError(Self.describe(error, source: source))
        }
    }

    /// Reads a Hugging Face config.json.
    public static func load(contentsOf url: URL) throws -> BertConfiguration {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelZooError("\(url.path): cannot read the BERT configuration (no such file?)")
        }
        return try BertConfiguration(jsonData: data, source: url.path)
    }

    static func describe(_ error: DecodingError, source: String) -> String {
        func key(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .keyNotFound(let k, _): return "\(source): missing key \"\(k.stringValue)\""
        case .typeMismatch(let t, let ctx): return "\(source): key \"\(key(ctx.codingPath))\" is not a valid \(t)"
        case .valueNotFound(_, let ctx): return "\(source): key \"\(key(ctx.codingPath))\" is null"
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty { return "\(source): not a valid JSON object" }
            return "\(source): key \"\(key(ctx.codingPath))\": \(ctx.debugDescription)"
        @unknown default: return "\(source): \(error)"
        }
    }
}

/// Renames reflected children to Hugging Face's spelling ("layer_norm" → "LayerNorm",
/// "self_attention" → "self"), the names Swift properties cannot carry.
private func huggingFaceNames(_ children: [(String, Module)], _ renames: [String: String]) -> [(String, Module)] {
    children.map { (renames[$0.0] ?? $0.0, $0.1) }
}

/// Word, position and token-type embeddings, summed and layer-normalised ("embeddings.*").
public final class BertEmbeddings: Module {
    public let wordEmbeddings: Embedding
    public let positionEmbeddings: Embedding
    public let tokenTypeEmbeddings: Embedding
    public let layerNorm: LayerNorm
    let dropout: Dropout

    public init(_ config: BertConfiguration, generator: RandomGenerator = .default) {
        wordEmbeddings = Embedding(config.vocabSize, config.hiddenSize, generator: generator)
        positionEmbeddings = Embedding(config.maxPositionEmbeddings, config.hiddenSize, generator: generator)
        tokenTypeEmbeddings = Embedding(config.typeVocabSize, config.hiddenSize, generator: generator)
        layerNorm = LayerNorm(config.hiddenSize, eps: config.layerNormEps)
        dropout = Dropout(config.hiddenDropoutProb, generator: generator)
        super.init()
    }

    public override func namedChildren() -> [(String, Module)] { huggingFaceNames(super.namedChildren(), ["layer_norm": "LayerNorm"]) }

    /// [B, L, H] for token ids [B, L] and token types [B, L]; positions count from 0.
    public func callAsFunction(_ inputIds: Tensor, tokenTypeIds: Tensor) -> Tensor {
        let length = inputIds.shape[1]
        let positions = positionEmbeddings(Tensor.arange(length))
        let x = wordEmbeddings(inputIds) + positions + tokenTypeEmbeddings(tokenTypeIds)
        return dropout(layerNorm(x))
    }
}

/// The query, key and value projections of one layer ("attention.self.*").
public final class BertSelfAttention: Module {
    public let query: Linear, key: Linear, value: Linear
    public let heads: Int
    let dropoutProbability: Double
    let generator: RandomGenerator

    public init(_ config: BertConfiguration, generator: RandomGenerator = .default) {
        query = Linear(config.hiddenSize, config.hiddenSize, generator: generator)
        key = Linear(config.hiddenSize, config.hiddenSize, generator: generator)
        value = Linear(config.hiddenSize, config.hiddenSize, generator: generator)
        heads = config.numAttentionHeads
        dropoutProbability = config.attentionProbsDropoutProb
        self.generator = generator
        super.init()
    }

    /// Attention of `x` [B, L, H] to itself, the heads concatenated back to [B, L, H].
    /// `additiveMask` [B, 1, 1, L] holds 0 for tokens and a large negative number for padding.
    public func callAsFunction(_ x: Tensor, additiveMask: Tensor?) -> Tensor {
        // The fused kernel reads the heads straight out of the [B, L, H] projections (no permutes).
        scaledDotProductAttention(query: query(x), key: key(x), value: value(x), heads: heads, attentionMask: additiveMask,
                                  dropout: training ? dropoutProbability : 0, generator: generator)
    }
}

/// A dense projection, dropout, residual and LayerNorm ("attention.output.*" and "output.*").
public final class BertResidualOutput: Module {
    public let dense: Linear
    public let layerNorm: LayerNorm
    let dropout: Dropout

    public init(_ inFeatures: Int, _ config: BertConfiguration, generator: RandomGenerator = .default) {
        dense = Linear(inFeatures, config.hiddenSize, generator: generator)
        layerNorm = LayerNorm(config.hiddenSize, eps: config.layerNormEps)
        dropout = Dropout(config.hiddenDropoutProb, generator: generator)
        super.init()
    }

    public override func namedChildren() -> [(String, Module)] { huggingFaceNames(super.namedChildren(), ["layer_norm": "LayerNorm"]) }

    /// LayerNorm(dropout(dense(x)) + residual).
    public func callAsFunction(_ x: Tensor, residual: Tensor) -> Tensor {
        layerNorm(dropout(dense(x)) + residual)
    }
}

/// Self-attention and its output projection ("attention.self.*", "attention.output.*").
public final class BertAttention: Module {
    public let selfAttention: BertSelfAttention
    public let output: BertResidualOutput

    public init(_ config: BertConfiguration, generator: RandomGenerator = .default) {
        selfAttention = BertSelfAttention(config, generator: generator)
        output = BertResidualOutput(config.hiddenSize, config, generator: generator)
        super.init()
    }

    public override func namedChildren() -> [(String, Module)] { huggingFaceNames(super.namedChildren(), ["self_attention": "self"]) }

    public func callAsFunction(_ x: Tensor, additiveMask: Tensor?) -> Tensor {
        output(selfAttention(x, additiveMask: additiveMask), residual: x)
    }
}

/// The feed-forward expansion with its activation ("intermediate.dense").
public final class BertIntermediate: Module {
    public let dense: Linear
    public let activation: BertActivation

    public init(_ config: BertConfiguration, generator: RandomGenerator = .default) {
        dense = Linear(config.hiddenSize, config.intermediateSize, generator: generator)
        activation = config.hiddenAct
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { activation.apply(dense(x)) }
}

/// One post-norm encoder layer ("encoder.layer.N.*"): attention, then the feed-forward block.
public final class BertLayer: Module {
    public let attention: BertAttention
    public let intermediate: BertIntermediate
    public let output: BertResidualOutput

    public init(_ config: BertConfiguration, generator: RandomGenerator = .default) {
        attention = BertAttention(config, generator: generator)
        intermediate = BertIntermediate(config, generator: generator)
        output = BertResidualOutput(config.intermediateSize, config, generator: generator)
        super.init()
    }

    public func callAsFunction(_ x: Tensor, additiveMask: Tensor?) -> Tensor {
        let a = attention(x, additiveMask: additiveMask)
        return output(intermediate(a), residual: a)
    }
}

/// The stack of encoder layers ("encoder.layer.N").
public final class BertEncoder: Module {
    public let layer: [BertLayer]

    public init(_ config: BertConfiguration, generator: RandomGenerator = .default) {
        layer = (0..<config.numHiddenLayers).map { _ in BertLayer(config, generator: generator) }
        super.init()
    }

    public func callAsFunction(_ x: Tensor, additiveMask: Tensor?) -> Tensor {
        layer.reduce(x) { h, l in l(h, additiveMask: additiveMask) }
    }
}

/// tanh(dense(first token's hidden state)) ("pooler.dense"), BERT's sentence-level output.
public final class BertPooler: Module {
    public let dense: Linear

    public init(_ config: BertConfiguration, generator: RandomGenerator = .default) {
        dense = Linear(config.hiddenSize, config.hiddenSize, generator: generator)
        super.init()
    }

    public func callAsFunction(_ hidden: Tensor) -> Tensor { dense(hidden[.all, 0]).tanh() }
}

/// A BERT-family encoder, as Hugging Face's `BertModel`, with its parameter names
/// ("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
/// "encoder.layer.0.attention.output.LayerNorm.bias", "pooler.dense.weight", ...), so a
/// checkpoint's state dict loads as it is: `try BertModel.load(directory: url)`.
public final class BertModel: Module {
    public let embeddings: BertEmbeddings
    public let encoder: BertEncoder
    /// The [CLS] pooler; nil for checkpoints saved without one.
    public let pooler: BertPooler?
    public let configuration: BertConfiguration

    /// A randomly initialised encoder of the given shape.
    public init(configuration: BertConfiguration, addPoolingLayer: Bool = true, generator: RandomGenerator = .default) {
        embeddings = BertEmbeddings(configuration, generator: generator)
        encoder = BertEncoder(configuration, generator: generator)
        pooler = addPoolingLayer ? BertPooler(configuration, generator: generator) : nil
        self.configuration = configuration
        super.init()
    }

    /// The last hidden state [B, L, H] for token ids [B, L] (int32 or int64).
    ///
    /// `attentionMask` [B, L] (1 for tokens, 0 for padding; any numeric dtype) keeps padded
    /// keys out of every attention, as Hugging Face does by adding the most negative float to
    /// their scores; nil attends to everything. `tokenTypeIds` [B, L] default to 0.
    public func forward(inputIds: Tensor, attentionMask: Tensor? = nil, tokenTypeIds: Tensor? = nil) -> Tensor {
        require(inputIds.rank == 2 && !inputIds.dtype.isFloatingPoint && inputIds.dtype != .bool,
                "BertModel: input ids must be integers [B, L], got \(inputIds.dtype) of shape \(inputIds.shape)")
        let length = inputIds.shape[1]
        require(length >= 1 && length <= configuration.maxPositionEmbeddings,
                "BertModel: sequence length \(length) must be in 1...\(configuration.maxPositionEmbeddings) (max_position_embeddings)")
        if let attentionMask {
            require(attentionMask.shape == inputIds.shape,
                    "BertModel: attention mask of shape \(attentionMask.shape) must match the input ids' \(inputIds.shape)")
        }
        if let tokenTypeIds {
            require(tokenTypeIds.shape == inputIds.shape,
                    "BertModel: token type ids of shape \(tokenTypeIds.shape) must match the input ids' \(inputIds.shape)")
        }
        let types = tokenTypeIds ?? Tensor.zeros(inputIds.shape, dtype: .int64)
        let x = embeddings(inputIds, tokenTypeIds: types)
        let additive = attentionMask.map { mask in
            // (1 − mask)·float32.min, shaped [B, 1, 1, L] to broadcast over heads and queries.
            ((1 - mask.to(x.dtype)) * Double(-Float.greatestFiniteMagnitude)).reshaped([inputIds.shape[0], 1, 1, length])
        }
        return encoder(x, additiveMask: additive)
    }

    /// The same as `forward(inputIds:attentionMask:tokenTypeIds:)`.
    public func callAsFunction(inputIds: Tensor, attentionMask: Tensor? = nil, tokenTypeIds: Tensor? = nil) -> Tensor {
        forward(inputIds: inputIds, attentionMask: attentionMask, tokenTypeIds: tokenTypeIds)
    }

    /// The pooler's output [B, H] for a last hidden state [B, L, H] (Hugging Face's `pooler_output`).
    public func pooledOutput(_ lastHiddenState: Tensor) -> Tensor {
        guard let pooler else { requirementFailure("BertModel.pooledOutput: this model was built or loaded without a pooler") }
        require(lastHiddenState.rank == 3 && lastHiddenState.shape[2] == configuration.hiddenSize,
                "BertModel.pooledOutput: expected a hidden state [B, L, \(configuration.hiddenSize)], got \(lastHiddenState.shape)")
        return pooler(lastHiddenState)
    }

    // MARK: Loading

    /// Loads a Hugging Face checkpoint folder: config.json and model.safetensors. The model
    /// comes back in evaluation mode.
    public static func load(directory: URL) throws -> BertModel {
        let configURL = directory.appendingPathComponent("config.json")
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        let missing = [configURL, weightsURL].filter { !FileManager.default.fileExists(atPath: $0.path) }
        guard missing.isEmpty else {
            throw ModelZooError("\(directory.path): missing \(missing.map(\.lastPathComponent).joined(separator: " and ")) "
                                + "(a Hugging Face BERT checkpoint needs config.json and model.safetensors)")
        }
        let configuration = try BertConfiguration.load(contentsOf: configURL)
        let tensors = try SafeTensors.read(contentsOf: weightsURL).tensors
        return try load(configuration: configuration, tensors: tensors, source: weightsURL.path)
    }

    /// Builds a model of `configuration` from tensors named as Hugging Face names them, with or
    /// without the "bert." prefix of task models (BertForMaskedLM, ...). Tensors the encoder does
    /// not use (embeddings.position_ids, task heads) are ignored; the pooler is built when the
    /// tensors have one. A missing or mis-shaped tensor throws `ModelZooError` naming `source`.
    public static func load(configuration: BertConfiguration, tensors: [String: Tensor], source: String = "<tensors>") throws -> BertModel {
        var state: [String: Tensor] = [:]
        for (name, t) in tensors {
            let key = name.hasPrefix("bert.") ? String(name.dropFirst(5)) : name
            state[key] = t
        }
        let model = BertModel(configuration: configuration, addPoolingLayer: state["pooler.dense.weight"] != nil)
        let expected = model.stateDict()
        let absent = expected.keys.filter { state[$0] == nil }.sorted()
        let misShaped = expected.keys.sorted().compactMap { k -> String? in
            guard let t = state[k], let e = expected[k], t.shape != e.shape else { return nil }
            return "\(k) is \(t.shape), expected \(e.shape)"
        }
        func list(_ items: [String]) -> String {
            items.prefix(5).joined(separator: ", ") + (items.count > 5 ? " and \(items.count - 5) more" : "")
        }
        guard absent.isEmpty else {
            throw ModelZooError("\(source): missing \(absent.count) BERT tensor(s): \(list(absent))")
        }
        guard misShaped.isEmpty else {
            throw ModelZooError("\(source): tensor shapes do not match config.json: \(list(misShaped))")
        }
        try model.loadStateDict(state.filter { expected[$0.key] != nil })
        model.eval()
        return model
    }
}
