import Foundation
import MyelinCore
import MyelinData
import MyelinModels

/// Text in, sentence vectors out: a sentence-transformers folder's WordPiece tokenizer and
/// its encoder with pooling, as `SentenceTransformer.encode` in Python.
///
///     let model = try SentenceEncoder(directory: URL(fileURLWithPath: "../shared/data/pretrained/all-MiniLM-L6-v2"))
///     let v = model.embed(["A man is eating food.", "A man is eating a piece of bread."])  // [2, 384]
///     let cosine = SentenceTransformer.cosineSimilarity(v[0], v[1])
public final class SentenceEncoder {
    public let tokenizer: BertTokenizer
    public let model: SentenceTransformer

    public init(tokenizer: BertTokenizer, model: SentenceTransformer) {
        self.tokenizer = tokenizer
        self.model = model
    }

    /// Loads the folder's tokenizer (tokenizer.json, else vocab.txt) and model (modules.json).
    public convenience init(directory: URL) throws {
        try self.init(tokenizer: BertTokenizer(directory: directory), model: SentenceTransformer(directory: directory))
    }

    /// Sentence vectors [N, D] (L2-normalised when the model says so). Texts are tokenised with
    /// truncation to the model's max_seq_length and run in batches of `batchSize`, each padded to
    /// its own longest text (sorting by length first, so little padding is computed).
    public func embed(_ texts: [String], batchSize: Int = 32) -> Tensor {
        require(batchSize >= 1, "SentenceEncoder.embed: batchSize must be positive, got \(batchSize)")
        guard !texts.isEmpty else { return Tensor.zeros([0, model.dimension]) }
        // Character counts stand in for token counts (tokenising twice would cost more than the padding saved).
        let lengths = texts.map(\.unicodeScalars.count)
        let order = texts.indices.sorted { lengths[$0] < lengths[$1] }
        var rows = [Tensor?](repeating: nil, count: texts.count)
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let chunk = Array(order[start..<Swift.min(order.count, start + batchSize)])
            let batch = tokenizer.encodeBatch(chunk.map { texts[$0] }, maxLength: model.maxSequenceLength, padding: .longest)
            let vectors = model.embed(inputIds: batch.inputIds, attentionMask: batch.attentionMask, tokenTypeIds: batch.tokenTypeIds)
            for (k, i) in chunk.enumerated() { rows[i] = vectors[k] }
        }
        return Tensor.stack(rows.compactMap { $0 }, axis: 0)
    }
}
