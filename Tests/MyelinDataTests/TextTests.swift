import Foundation
import Myelin
import Testing

@Suite("Text: tokenizer and vocabulary")
struct TextTests {
    @Test func tokenizerLowerCasesAndKeepsInnerApostrophes() {
        let words = WordTokenizer().tokenize("O'er the hills, 'tis NEW-bent; lovers' King's day 42!")
        #expect(words == ["o'er", "the", "hills", "tis", "new", "bent", "lovers", "king's", "day", "42"])
    }

    @Test func tokenizerDropsSpeakerLabelsUnlessAsked() {
        let text = "Theseus:\nNow, fair Hippolyta:\n\nFirst Citizen:\nSpeak, speak.\n"
        #expect(WordTokenizer().tokenize(text) == ["now", "fair", "hippolyta", "speak", "speak"])
        #expect(WordTokenizer(dropSpeakerLabels: false).tokenize(text)
            == ["theseus", "now", "fair", "hippolyta", "first", "citizen", "speak", "speak"])
        #expect(WordTokenizer.isSpeakerLabel("Lady Macbeth:"))
        #expect(!WordTokenizer.isSpeakerLabel("thus it is, my lord:"))
    }

    @Test func vocabularyCountsOrdersAndAppliesMinCount() {
        let tokens = "b a c a b a d".split(separator: " ").map(String.init)
        let v = Vocabulary(counting: tokens, minCount: 2)
        #expect(v.words == ["<unk>", "a", "b"])
        #expect(v.counts == [2, 3, 2])  // c and d fall under the minimum: 2 unknown tokens
        #expect(v.index(of: "b") == 2 && v.index(of: "c") == nil)
        #expect(v.encode(["a", "c", "b"]) == [1, 0, 2])
        #expect(v.encode(["a", "c", "b"], dropUnknown: true) == [1, 2])
        #expect(v.decode([2, 1]) == ["b", "a"])
        // Ties keep the order of first appearance; no unknown token; a size cap.
        let w = Vocabulary(counting: ["x", "y", "y", "x", "z"], unknownToken: nil)
        #expect(w.words == ["x", "y", "z"] && w.unknownIndex == nil)
        #expect(Vocabulary(counting: ["x", "y", "y", "x", "z"], maxSize: 2, unknownToken: nil).words == ["x", "y"])
        #expect(w.encode(["z", "q"]) == [2])
    }

    @Test func vocabularyRoundTripsThroughItsFile() throws {
        let v = Vocabulary(counting: WordTokenizer().tokenize("the king's men and the queen's men, the end"), minCount: 1)
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("vocabulary.txt")
        try v.write(to: url)
        let back = try Vocabulary.read(contentsOf: url)
        #expect(back == v)
        #expect(back.index(of: "king's") == v.index(of: "king's"))
        let bare = Vocabulary(counting: ["a", "b"], unknownToken: nil)
        #expect(try Vocabulary.parse(bare.serialized()) == bare)
    }

    @Test func badVocabularyFilesNameTheLine() {
        #expect(throws: DataError.self) { try Vocabulary.parse("word\t3\n") }
        do {
            _ = try Vocabulary.parse("# myelin vocabulary 1 unknown=\nthe\t4\nking three\n", file: "v.txt")
            Issue.record("a bad line must throw")
        } catch let e as DataError {
            #expect(e.line == 3 && e.description.contains("v.txt"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: DataError.self) { try Vocabulary.parse("# myelin vocabulary 1 unknown=\nthe\t4\nthe\t2\n") }
    }

    @Test func corpusFileIsReadAndMissingFilesThrow() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("c.txt")
        try Data("Romeo:\nBut soft, what light\n".utf8).write(to: url)
        #expect(try TextCorpus.words(contentsOf: url) == ["but", "soft", "what", "light"])
        #expect(throws: DataError.self) { try TextCorpus.read(contentsOf: dir.appendingPathComponent("none.txt")) }
    }
}
