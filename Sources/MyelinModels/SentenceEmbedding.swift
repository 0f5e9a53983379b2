import Foundation
import MyelinCore
import MyelinNN

// Sentence embeddings as the sentence-transformers library computes them: a BERT encoder, a
// pooling of its token vectors, optionally L2-normalised, as the model folder's modules.json,
// 1_Pooling/config.json and sentence_bert_config.json say (all-MiniLM-L6-v2: mean pooling, then
// normalisation, 256 tokens at most).

/// How token vectors [B, L, H] become one vector per sentence, as sentence-transformers'
/// `Pooling` module (its 1_Pooling/config.json). Several modes concatenate, in the order
/// cls, max, mean, mean-sqrt-len (the library's order).
public struct SentencePooling: Codable, Sendable, Equatable {
    /// The first token's ([CLS]) vector.
    public var clsToken: Bool
    /// The largest value of each feature over the real tokens.
    public var maxTokens: Bool
    /// The mean over the real tokens (the attention mask's 1s).
    public var meanTokens: Bool
    /// The sum over the real tokens divided by √(their count).
    public var meanSqrtLengthTokens: Bool

    enum CodingKeys: String, CodingKey {
        case clsToken = "pooling_mode_cls_token", maxTokens = "pooling_mode_max_tokens"
        case meanTokens = "pooling_mode_mean_tokens", meanSqrtLengthTokens = "pooling_mode_mean_sqrt_len_tokens"
        case weightedMean = "pooling_mode_weightedmean_tokens", lastToken = "pooling_mode_lasttoken"
    }

    public init(clsToken: Bool = false, maxTokens: Bool = false, meanTokens: Bool = true, meanSqrtLengthTokens: Bool = false) {
        self.clsToken = clsToken
        self.maxTokens = maxTokens
        self.meanTokens = meanTokens
        self.meanSqrtLengthTokens = meanSqrtLengthTokens
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clsToken = try c.decodeIfPresent(Bool.self, forKey: .clsToken) ?? false
        maxTokens = try c.decodeIfPresent(Bool.self, forKey: .maxTokens) ?? false
        meanTokens = try c.decodeIfPresent(Bool.self, forKey: .meanTokens) ?? false
        meanSqrtLengthTokens = try c.decodeIfPresent(Bool.self, forKey: .meanSqrtLengthTokens) ?? false
        for key in [CodingKeys.weightedMean, .lastToken] where try c.decodeIfPresent(Bool.self, forKey: key) == true {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "this pooling mode is not supported")
        }
        guard clsToken || maxTokens || meanTokens || meanSqrtLengthTokens else {
            throw DecodingError.dataCorruptedError(forKey: .meanTokens, in: c, debugDescription: "no pooling mode is enabled")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clsToken, forKey: .clsToken)
        try c.encode(maxTokens, forKey: .maxTokens)
        try c.encode(meanTokens, forKey: .meanTokens)
        try c.encode(meanSqrtLengthTokens, forKey: .meanSqrtLengthTokens)
    }

    /// The number of features per sentence for token vectors of `hidden` features.
    public func outputDimension(hidden: Int) -> Int {
        hidden * [clsToken, maxTokens, meanTokens, meanSqrtLengthTokens].filter { $0 }.count
    }

    /// Pools token vectors [B, L, H] over the real tokens of `attentionMask` [B, L] (1 = token,
    /// 0 = padding; nil: all tokens) into [B, H] per enabled mode, concatenated.
    public func callAsFunction(_ tokens: Tensor, attentionMask: Tensor?) -> Tensor {
        require(tokens.rank == 3, "SentencePooling: token vectors must be [B, L, H], got \(tokens.shape)")
        let (b, l) = (tokens.shape[0], tokens.shape[1])
        let mask = attentionMask ?? Tensor.ones([b, l], dtype: tokens.dtype)
        require(mask.shape == [b, l], "SentencePooling: attention mask of shape \(mask.shape) must be [\(b), \(l)] (tokens \(tokens.shape))")
        let m = mask.to(tokens.dtype).reshaped([b, l, 1])
        var parts: [Tensor] = []
        if clsToken { parts.append(tokens[.all, 0]) }
        if maxTokens {
            // Padding is pushed far down first, as sentence-transformers does (−1e9).
            parts.append(select(m .> 0, tokens, -1e9).max(axis: 1))
        }
        if meanTokens || meanSqrtLengthTokens {
            let sum = (tokens * m).sum(axis: 1)
            let count = m.sum(axis: 1).clamp(min: 1e-9)
            if meanTokens { parts.append(sum / count) }
            if meanSqrtLengthTokens { parts.append(sum / count.sqrt()) }
        }
        return parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 1)
    }
}

/// A sentence-transformers model folder (all-MiniLM-L6-v2 and its kin) on a `BertModel`:
/// token ids in, one vector per sentence out, as `SentenceTransformer.encode` gives them.
///
/// It takes token ids; a WordPiece tokenizer with the folder's vocab.txt gives them, truncated
/// to `maxSequenceLength` and padded to one batch with its attention mask.
public final class SentenceTransformer {
    public let encoder: BertModel
    public let pooling: SentencePooling
    /// Whether vectors are L2-normalised (a `Normalize` module in modules.json).
    public let normalize: Bool
    /// The longest token sequence the model was set up for ([CLS] and [SEP] included).
    public let maxSequenceLength: Int
    /// Whether the tokenizer should lower-case (sentence_bert_config.json's do_lower_case; the
    /// tokenizer's own configuration also applies).
    public let doLowerCase: Bool

    public init(encoder: BertModel, pooling: SentencePooling = SentencePooling(), normalize: Bool = true,
                maxSequenceLength: Int? = nil, doLowerCase: Bool = false) {
        self.encoder = encoder
        self.pooling = pooling
        self.normalize = normalize
        self.maxSequenceLength = Swift.min(maxSequenceLength ?? encoder.configuration.maxPositionEmbeddings,
                                           encoder.configuration.maxPositionEmbeddings)
        self.doLowerCase = doLowerCase
        encoder.eval()
    }

    /// Loads a sentence-transformers folder: modules.json lists a Transformer (its folder holds
    /// config.json, model.safetensors and sentence_bert_config.json), a Pooling (its config.json)
    /// and optionally a Normalize. Other module types (Dense, ...) are refused with `ModelZooError`.
    public convenience init(directory: URL) throws {
        struct ModuleEntry: Decodable { let path: String; let type: String }
        let modulesURL = directory.appendingPathComponent("modules.json")
        guard let data = FileManager.default.contents(atPath: modulesURL.path) else {
            throw ModelZooError("\(directory.path): missing modules.json (not a sentence-transformers model folder)")
        }
        let entries: [ModuleEntry]
        do { entries = try JSONDecoder().decode([ModuleEntry].self, from: data) } catch let e as DecodingError {
            throw ModelZooError(BertConfiguration.describe(e, source: modulesURL.path))
        }
        var encoder: BertModel?
        var pooling: SentencePooling?
        var normalize = false
        var maxLength: Int?
        var lowerCase = false
        for entry in entries {
            let folder = entry.path.isEmpty ? directory : directory.appendingPathComponent(entry.path)
            switch entry.type.split(separator: ".").last.map(String.init) ?? entry.type {
            case "Transformer":
                encoder = try BertModel.load(directory: folder)
                let stURL = folder.appendingPathComponent("sentence_bert_config.json")
                if let stData = FileManager.default.contents(atPath: stURL.path) {
                    struct STConfig: Decodable {
                        let maxSeqLength: Int?, doLowerCase: Bool?
                        enum CodingKeys: String, CodingKey { case maxSeqLength = "max_seq_length", doLowerCase = "do_lower_case" }
                    }
                    do {
                        let st = try JSONDecoder().decode(STConfig.self, from: stData)
                        if let n = st.maxSeqLength, n <= 0 { throw ModelZooError("\(stURL.path): max_seq_length must be positive, got \(n)") }
                        maxLength = st.maxSeqLength
                        lowerCase = st.doLowerCase ?? false
                    } catch let e as DecodingError {
                        throw ModelZooError(BertConfiguration.describe(e, source: stURL.path))
                    }
                }
            case "Pooling":
                let url = folder.appendingPathComponent("config.json")
                guard let pData = FileManager.default.contents(atPath: url.path) else {
                    throw ModelZooError("\(url.path): missing (the Pooling module's configuration)")
                }
                do { pooling = try JSONDecoder().decode(SentencePooling.self, from: pData) } catch let e as DecodingError {
                    throw ModelZooError(BertConfiguration.describe(e, source: url.path))
                }
            case "Normalize":
                normalize = true
            default:
                throw ModelZooError("\(modulesURL.path): module type \"\(entry.type)\" is not supported "
                                    + "(supported: Transformer, Pooling, Normalize)")
            }
        }
        guard let encoder else { throw ModelZooError("\(modulesURL.path): lists no Transformer module") }
        guard let pooling else { throw ModelZooError("\(modulesURL.path): lists no Pooling module") }
        self.init(encoder: encoder, pooling: pooling, normalize: normalize, maxSequenceLength: maxLength, doLowerCase: lowerCase)
    }

    /// The number of features of each sentence vector.
    public var dimension: Int { pooling.outputDimension(hidden: encoder.configuration.hiddenSize) }

    /// Sentence vectors [B, D] for token ids [B, L] (L ≤ `maxSequenceLength`) with their
    /// attention mask [B, L] (1 = token, 0 = padding): the encoder's last hidden state, pooled
    /// over the real tokens, then L2-normalised when the model says so. No gradients are recorded.
    public func embed(inputIds: Tensor, attentionMask: Tensor? = nil, tokenTypeIds: Tensor? = nil) -> Tensor {
        require(inputIds.rank == 2 && inputIds.shape[1] <= maxSequenceLength,
                "SentenceTransformer.embed: input ids of shape \(inputIds.shape) must be [B, L] with L ≤ \(maxSequenceLength) "
                + "(the model's max_seq_length; truncate when tokenizing)")
        return withoutGradients {
            let hidden = encoder.forward(inputIds: inputIds, attentionMask: attentionMask, tokenTypeIds: tokenTypeIds)
            let pooled = pooling(hidden, attentionMask: attentionMask)
            return normalize ? Self.l2Normalized(pooled) : pooled
        }
    }

    /// x / max(‖x‖, 1e-12) along the last axis (PyTorch's `F.normalize`).
    public static func l2Normalized(_ x: Tensor) -> Tensor {
        x / (x * x).sum(axis: -1, keepDims: true).sqrt().clamp(min: 1e-12)
    }

    /// Cosine similarity along the last axis, broadcasting the leading ones: two vectors [D]
    /// give a scalar, [N, D] and [D] give [N]. Norms are clamped at 1e-8 (as PyTorch's
    /// `F.cosine_similarity`).
    public static func cosineSimilarity(_ a: Tensor, _ b: Tensor) -> Tensor {
        require(a.rank >= 1 && b.rank >= 1 && a.shape.last == b.shape.last,
                "cosineSimilarity: vectors must share their last axis, got shapes \(a.shape) and \(b.shape)")
        let na = (a * a).sum(axis: -1).sqrt().clamp(min: 1e-8), nb = (b * b).sum(axis: -1).sqrt().clamp(min: 1e-8)
        return (a * b).sum(axis: -1) / (na * nb)
    }

    /// All cosine similarities [N, M] between the rows of `a` [N, D] and of `b` [M, D] (for ranking).
    public static func cosineSimilarityMatrix(_ a: Tensor, _ b: Tensor) -> Tensor {
        require(a.rank == 2 && b.rank == 2 && a.shape[1] == b.shape[1],
                "cosineSimilarityMatrix: expected [N, D] and [M, D], got shapes \(a.shape) and \(b.shape)")
        func unit(_ x: Tensor) -> Tensor { x / (x * x).sum(axis: 1, keepDims: true).sqrt().clamp(min: 1e-8) }
        return matmul(unit(a), unit(b), transposeB: true)
    }
}
