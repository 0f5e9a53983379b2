import Foundation
import Testing
import Myelin

@Suite struct CharacterCorpusTests {
    @Test func vocabularyIsSortedScalarsAndRoundTrips() throws {
        let v = CharacterVocabulary(text: "ROMEO:\r\nbut soft!")
        #expect(v.symbols.first == "\n" && v.symbols.contains("\r"))
        #expect(v.symbols == v.symbols.sorted { $0.unicodeScalars.first!.value < $1.unicodeScalars.first!.value })
        let ids = try v.encode("soft ROMEO")
        #expect(v.decode(ids) == "soft ROMEO")
        let json = try JSONEncoder().encode(v)
        #expect(try JSONDecoder().decode(CharacterVocabulary.self, from: json) == v)
        #expect(throws: DataError.self) { try v.encode("Juliet") }
        do { _ = try v.encode("Z") } catch { #expect("\(error)".contains("\"Z\"") && "\(error)".contains("not in the vocabulary")) }
        #expect(throws: DataError.self) { try CharacterVocabulary(symbols: ["a", "a"]) }
    }

    @Test func validationIsTheEndOfTheText() throws {
        let text = String(repeating: "abcdefghij", count: 10)
        let c = try CharacterCorpus(text: text, validationFraction: 0.1)
        #expect(c.train.count == 90 && c.validation.count == 10)
        #expect(c.vocabulary.decode(c.validation) == "abcdefghij")
        #expect(throws: DataError.self) { try CharacterCorpus(text: "a") }
    }

    @Test func chunksContinueEachStream() {
        // 0...22 in 2 streams of 11 (the 23rd token dropped), chunks of 4.
        let chunks = SequenceChunks(Array(0...22), batchSize: 2, chunkLength: 4)
        #expect(chunks.streams.shape == [2, 11] && chunks.count == 3)
        let all = Array(chunks)
        #expect(all[0].input.integers() == [0, 1, 2, 3, 11, 12, 13, 14])
        #expect(all[0].target.integers() == [1, 2, 3, 4, 12, 13, 14, 15])
        #expect(all[1].input.integers() == [4, 5, 6, 7, 15, 16, 17, 18])
        // The last chunk is shorter: its target must still exist.
        #expect(all[2].input.shape == [2, 2] && all[2].target.integers() == [9, 10, 20, 21])
    }

    @Test func samplingFollowsTheTemperature() {
        let logits = Tensor([0.0, 1.0, 2.0])
        #expect(sampleCategorical(logits: logits, temperature: 0) == 2)
        let g = RandomGenerator(seed: 5)
        var counts = [0, 0, 0]
        for _ in 0..<6000 { counts[sampleCategorical(logits: logits, temperature: 1, generator: g)] += 1 }
        // softmax([0, 1, 2]) = 0.090, 0.245, 0.665.
        #expect(abs(Double(counts[2]) / 6000 - 0.665) < 0.03 && abs(Double(counts[0]) / 6000 - 0.090) < 0.02)
        var cold = [0, 0, 0]
        for _ in 0..<2000 { cold[sampleCategorical(logits: logits, temperature: 0.2, generator: g)] += 1 }
        #expect(Double(cold[2]) / 2000 > 0.98)
        // Same seed, same draws.
        let a = (0..<20).map { _ in sampleCategorical(logits: logits, generator: RandomGenerator(seed: 9)) }
        let b = (0..<20).map { _ in sampleCategorical(logits: logits, generator: RandomGenerator(seed: 9)) }
        #expect(a == b)
    }
}
