import Foundation
import Myelin
import Testing

private let miniLMFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("../shared/data/pretrained/all-MiniLM-L6-v2").standardizedFileURL
private let haveMiniLM = FileManager.default.fileExists(atPath: miniLMFolder.appendingPathComponent("model.safetensors").path)

/// Text to vectors end to end (WordPiece tokenizer + BERT encoder + pooling), against the
/// sentence-transformers embeddings that scripts/fixtures_minilm.py stored with their sentences.
@Suite("Sentence encoder (tokenizer + model)")
struct SentenceEncoderTests {
    @Test(.enabled(if: haveMiniLM, "../shared/data/pretrained/all-MiniLM-L6-v2 is absent: skipping the end-to-end embedding check"))
    func textsGiveSentenceTransformersEmbeddings() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MyelinNNTests/Fixtures/minilm.safetensors")
        let (tensors, metadata) = try SafeTensors.read(contentsOf: fixture)
        let sentences = try #require(try JSONSerialization.jsonObject(with: Data((metadata["minilm.sentences"] ?? "").utf8)) as? [String])
        let reference = try #require(tensors["minilm.embeddings"])
        #expect(sentences.count == reference.shape[0] && sentences.count >= 20)

        let encoder = try SentenceEncoder(directory: miniLMFolder)
        // Small batches, so sorting by length and padding per batch are exercised.
        let mine = encoder.embed(sentences, batchSize: 5)
        #expect(mine.shape == reference.shape)
        let cosines = SentenceTransformer.cosineSimilarity(mine, reference).scalars(as: Double.self)
        print("SentenceEncoder vs sentence-transformers: min cosine \(cosines.min() ?? .nan) over \(cosines.count) sentences")
        for (i, c) in cosines.enumerated() { #expect(c >= 0.9999, "sentence \(i) \(sentences[i].debugDescription): cosine \(c)") }

        // One text alone gives the same vector as inside a padded batch.
        let alone = encoder.embed([sentences[3]])
        #expect(SentenceTransformer.cosineSimilarity(alone[0], mine[3]).itemDouble() > 0.99999)
        #expect(encoder.embed([]).shape == [0, 384])
    }
}
