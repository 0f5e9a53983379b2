import Foundation
import Myelin
import Testing

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
private let minilmVocab = fixtures.appendingPathComponent("minilm-vocab.txt")
private let minilmFolder = TestData.shared.appendingPathComponent("pretrained/all-MiniLM-L6-v2")
private let haveMiniLM = FileManager.default.fileExists(atPath: minilmFolder.appendingPathComponent("tokenizer.json").path)

/// Written by scripts/fixtures_tokenizer.py: Hugging Face's slow (Python) and fast (Rust)
/// BertTokenizer on all-MiniLM-L6-v2's vocabulary.
private struct TokenizerFixture: Decodable {
    struct Result: Decodable {
        var ids: [Int]
        var tokens: [String]
        var tokenTypeIds: [Int]
        var decoded: String
    }
    struct Case: Decodable {
        var name: String
        var text: String
        var pair: String?
        var maxLength: Int?
        var slow: Result
        var fast: Result
        var agree: Bool
    }
    var cases: [Case]

    static let shared: TokenizerFixture? = {
        guard let data = try? Data(contentsOf: fixtures.appendingPathComponent("wordpiece_minilm.json")) else { return nil }
        return try? JSONDecoder().decode(TokenizerFixture.self, from: data)
    }()
}

/// transformers 5's fast wrapper treats an empty second text as no second text (no second
/// [SEP]); the Rust library itself and the slow tokenizer keep it, and so does Myelin.
private let fastWrapperQuirks: Set<String> = ["pair_empty_second"]

/// Encodes every fixture case with `tokenizer` and counts those equal to `expected` (ids,
/// tokens, token types and, when given, the decoded text).
private func matchFixtures(_ tokenizer: BertTokenizer, _ label: String, skip: Set<String> = [],
                           expected: (TokenizerFixture.Case) -> TokenizerFixture.Result) throws -> (Int, Int) {
    let fixture = try #require(TokenizerFixture.shared, "Fixtures/wordpiece_minilm.json is missing or unreadable")
    var matched = 0, total = 0
    for c in fixture.cases where !skip.contains(c.name) {
        total += 1
        let want = expected(c)
        let got = tokenizer.encode(c.text, pair: c.pair, maxLength: c.maxLength)
        let decoded = tokenizer.decode(got.ids)
        #expect(got.ids == want.ids, "\(label) \(c.name): tokens \(got.tokens), want \(want.tokens)")
        #expect(got.tokens == want.tokens, "\(label) \(c.name)")
        #expect(got.tokenTypeIds == want.tokenTypeIds, "\(label) \(c.name): token types")
        #expect(got.attentionMask == Array(repeating: 1, count: want.ids.count), "\(label) \(c.name): mask")
        #expect(decoded == want.decoded, "\(label) \(c.name): decoded \(decoded.debugDescription)")
        if got.ids == want.ids && got.tokenTypeIds == want.tokenTypeIds && decoded == want.decoded { matched += 1 }
    }
    print("WordPiece fixtures, \(label): \(matched)/\(total) cases identical")
    return (matched, total)
}

@Suite("WordPiece: Hugging Face parity")
struct WordPieceParityTests {
    @Test func fixtureCoversTheCases() throws {
        let fixture = try #require(TokenizerFixture.shared)
        // 61 hand-written cases, 150 lines of Shakespeare, 200 random Unicode strings.
        #expect(fixture.cases.count == 411)
        #expect(fixture.cases.filter { $0.name.hasPrefix("random_") }.count == 200)
        // Where HF's two tokenizers disagree (final sigma twice, pair truncation, the empty pair).
        #expect(Set(fixture.cases.filter { !$0.agree }.map(\.name))
                == ["greek", "random_64", "pair_empty_second", "trunc_pair_equal", "trunc_pair_both_long_odd"])
    }

    @Test func vocabTxtMatchesSlowTokenizer() throws {
        let tokenizer = try BertTokenizer(vocabularyFile: minilmVocab)
        #expect(tokenizer.vocabularySize == 30522)
        #expect(tokenizer.flavor == .slow)
        let (matched, total) = try matchFixtures(tokenizer, "vocab.txt, slow") { $0.slow }
        #expect(matched == total)
    }

    @Test func vocabTxtFastFlavorMatchesRustTokenizer() throws {
        let tokenizer = try BertTokenizer(vocabularyFile: minilmVocab, flavor: .fast)
        let (matched, total) = try matchFixtures(tokenizer, "vocab.txt, fast", skip: fastWrapperQuirks) { $0.fast }
        #expect(matched == total)
    }

    @Test(.enabled(if: haveMiniLM, "../shared/data/pretrained/all-MiniLM-L6-v2 is absent: skipping tokenizer.json parity"))
    func tokenizerJSONMatchesFastTokenizer() throws {
        let tokenizer = try BertTokenizer(tokenizerJSON: minilmFolder.appendingPathComponent("tokenizer.json"))
        #expect(tokenizer.flavor == .fast)
        #expect(tokenizer.vocabularySize == 30522)
        #expect(tokenizer.modelMaxLength == 128)  // tokenizer.json's truncation
        let (matched, total) = try matchFixtures(tokenizer, "tokenizer.json, fast", skip: fastWrapperQuirks) { $0.fast }
        #expect(matched == total)

        var slow = tokenizer
        slow.flavor = .slow
        let (slowMatched, slowTotal) = try matchFixtures(slow, "tokenizer.json, slow") { $0.slow }
        #expect(slowMatched == slowTotal)
    }

    @Test(.enabled(if: haveMiniLM, "../shared/data/pretrained/all-MiniLM-L6-v2 is absent: skipping"))
    func directoryAndFilesAgree() throws {
        let folder = try BertTokenizer(directory: minilmFolder)
        let vocab = try BertTokenizer(vocabularyFile: minilmVocab)
        #expect(folder.modelMaxLength == 512)  // tokenizer_config.json
        #expect(folder.flavor == .fast)
        #expect(folder.basic.lowercase)
        #expect(folder.vocabularySize == vocab.vocabularySize)
        var same = 0
        for id in 0..<vocab.vocabularySize where folder.token(of: id) == vocab.token(of: id) { same += 1 }
        #expect(same == vocab.vocabularySize)
        #expect(folder.source.hasSuffix("tokenizer.json"))
    }

    @Test func miniLMBatch() throws {
        let tokenizer = try BertTokenizer(vocabularyFile: minilmVocab)
        let batch = tokenizer.encodeBatch(["A man is eating food.", "Hi"], maxLength: 128)
        #expect(batch.inputIds.shape == [2, 8])
        #expect(batch.inputIds.dtype == .int64)
        #expect(batch.inputIds.integers() == [101, 1037, 2158, 2003, 5983, 2833, 1012, 102,
                                                           101, 7632, 102, 0, 0, 0, 0, 0])
        #expect(batch.attentionMask.integers() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
        #expect(batch.lengths == [8, 3])
    }
}

// MARK: - A tiny vocabulary

private let tinyVocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                              "un", "##aff", "##able", "una", "##ffa", "##ble",  // 5...10
                              "hello", "world", "!", ",", "x", "##y", "cafe", "##s", "a",  // 11...19
                              "σ", "ς", "##σ", "##ς", "ο", "##δ", "##ο", "我", "爱", "'", "t", "can", "##n"]  // 20...32

private func tiny(_ flavor: BertTokenizerFlavor = .slow) throws -> BertTokenizer {
    try BertTokenizer(vocabulary: tinyVocabulary, flavor: flavor)
}

@Suite("WordPiece: algorithm")
struct WordPieceAlgorithmTests {
    @Test func greedyLongestMatchFirst() throws {
        let t = try tiny()
        // "una" is longer than "un", so it wins though "un ##aff ##able" would also cover the word.
        #expect(t.tokenize("unaffable") == ["una", "##ffa", "##ble"])
        #expect(t.tokenize("cafes") == ["cafe", "##s"])
        #expect(t.tokenIds("cafes") == [17, 18])
    }

    @Test func wordWithoutACoverIsOneUnknown() throws {
        let t = try tiny()
        // "x ##y" covers "xy" but nothing covers "xyz": the whole word is [UNK], not "x ##y [UNK]".
        #expect(t.tokenize("xy xyz hello") == ["x", "##y", "[UNK]", "hello"])
    }

    @Test func tooLongWordIsUnknown() throws {
        var t = try tiny()
        #expect(t.tokenize("xyyyy") == ["x", "##y", "##y", "##y", "##y"])
        t.maxInputCharsPerWord = 4
        #expect(t.tokenize("xyyy xyyyy") == ["x", "##y", "##y", "##y", "[UNK]"])
    }

    @Test func punctuationAndCase() throws {
        let t = try tiny()
        #expect(t.tokenize("HELLO,world!!") == ["hello", ",", "world", "!", "!"])
        #expect(t.tokenize("  Café\t\nCAFÉS ") == ["cafe", "cafe", "##s"])
        // Control characters and zero-width format characters vanish; CJK ideographs stand alone.
        #expect(t.tokenize("hel\u{0}lo\u{200B} 我爱world") == ["hello", "我", "爱", "world"])
    }

    @Test func specialTokensAreNeverSplit() throws {
        let t = try tiny()
        #expect(t.tokenize("hello[MASK]world [SEP]!") == ["hello", "[MASK]", "world", "[SEP]", "!"])
        // Only the exact spelling is special.
        #expect(t.tokenize("[mask]") == ["[UNK]", "[UNK]", "[UNK]"])
    }

    @Test func finalSigmaFollowsTheFlavour() throws {
        // Python lower-cases a word-final Σ to ς; Rust to σ.
        #expect(try tiny(.slow).tokenize("ΟΔΟΣ") == ["ο", "##δ", "##ο", "##ς"])
        #expect(try tiny(.fast).tokenize("ΟΔΟΣ") == ["ο", "##δ", "##ο", "##σ"])
        #expect(try tiny(.slow).tokenize("Σ") == ["σ"])
    }

    @Test func basicTokenizerOptions() {
        let cased = BertBasicTokenizer(lowercase: false)
        #expect(cased.words("Café, NAÏVE") == ["Café", ",", "NAÏVE"])
        let stripped = BertBasicTokenizer(lowercase: false, stripAccents: true)
        #expect(stripped.words("Café, NAÏVE") == ["Cafe", ",", "NAIVE"])
        let keepAccents = BertBasicTokenizer(lowercase: true, stripAccents: false)
        #expect(keepAccents.words("Café") == ["café"])
        let noCJK = BertBasicTokenizer(handleChineseCharacters: false)
        #expect(noCJK.words("我爱you") == ["我爱you"])
        #expect(BertBasicTokenizer().words("我爱you") == ["我", "爱", "you"])
        #expect(BertBasicTokenizer.isPunctuation("$") && BertBasicTokenizer.isPunctuation("¿"))
        #expect(!BertBasicTokenizer.isPunctuation("a") && !BertBasicTokenizer.isPunctuation("€"))
    }
}

@Suite("WordPiece: encoding and decoding")
struct WordPieceEncodingTests {
    @Test func singleAndPair() throws {
        let t = try tiny()
        let one = t.encode("hello world")
        #expect(one.ids == [2, 11, 12, 3])
        #expect(one.tokenTypeIds == [0, 0, 0, 0])
        #expect(one.attentionMask == [1, 1, 1, 1])
        let two = t.encode("hello", pair: "world!")
        #expect(two.tokens == ["[CLS]", "hello", "[SEP]", "world", "!", "[SEP]"])
        #expect(two.tokenTypeIds == [0, 0, 0, 1, 1, 1])
        #expect(t.encode("hello", addSpecialTokens: false).ids == [11])
        #expect(t.encode("").ids == [2, 3])
    }

    @Test func truncation() throws {
        let t = try tiny()
        let a = "hello world hello world hello"  // 5 tokens
        #expect(t.encode(a, maxLength: 4).tokens == ["[CLS]", "hello", "world", "[SEP]"])
        #expect(t.encode(a, maxLength: 1).tokens == ["[CLS]", "[SEP]"])  // the specials stay
        #expect(t.encode(a, addSpecialTokens: false, maxLength: 2).tokens == ["hello", "world"])
        #expect(t.encode(a, maxLength: 100).count == 7)
        // Longest first: the longer text loses tokens until both are as long, then both do.
        let pair = t.encode(a, pair: "x x", maxLength: 8)
        #expect(pair.tokens == ["[CLS]", "hello", "world", "hello", "[SEP]", "x", "x", "[SEP]"])
        // Equal lengths, odd budget of 5: Python keeps 3 + 2, Rust 2 + 3.
        let b = "world hello world hello world"
        let slow = t.encode(a, pair: b, maxLength: 8)
        #expect(slow.tokens == ["[CLS]", "hello", "world", "hello", "[SEP]", "world", "hello", "[SEP]"])
        #expect(slow.tokenTypeIds == [0, 0, 0, 0, 0, 1, 1, 1])
        let fast = try tiny(.fast).encode(a, pair: b, maxLength: 8)
        #expect(fast.tokens == ["[CLS]", "hello", "world", "[SEP]", "world", "hello", "world", "[SEP]"])
    }

    @Test func paddingAndMasks() throws {
        let t = try tiny()
        let batch = t.encodeBatch(["hello world !", "hello"])
        #expect(batch.inputIds.shape == [2, 5])
        #expect(batch.inputIds.integers() == [2, 11, 12, 13, 3, 2, 11, 3, 0, 0])
        #expect(batch.attentionMask.integers() == [1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
        #expect(batch.tokenTypeIds.integers() == Array(repeating: 0, count: 10))
        #expect(batch.lengths == [5, 3])
        #expect(batch.encodings[1].tokens == ["[CLS]", "hello", "[SEP]", "[PAD]", "[PAD]"])

        let fixed = t.encodeBatch(["hello world ! hello world", "hello"], maxLength: 6, padding: .maxLength)
        #expect(fixed.inputIds.shape == [2, 6])
        #expect(fixed.inputIds.integers() == [2, 11, 12, 13, 11, 3, 2, 11, 3, 0, 0, 0])
        #expect(fixed.attentionMask.integers() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])

        let pairs = t.encodeBatch(["hello", "hello world"], pairs: ["world", "x"])
        #expect(pairs.inputIds.shape == [2, 6])
        #expect(pairs.tokenTypeIds.integers() == [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1])
        #expect(t.encodeBatch([]).inputIds.shape == [0, 0])
    }

    @Test func decode() throws {
        let t = try tiny()
        let ids = t.encode("cafes, hello world!").ids
        #expect(t.decode(ids) == "cafes, hello world!")
        #expect(t.decode(ids, cleanUpSpaces: false) == "cafes , hello world !")
        #expect(t.decode(ids, skipSpecialTokens: false) == "[CLS] cafes, hello world! [SEP]")
        #expect(t.decode(t.encode("can't").ids) == "can't")
        #expect(try tiny(.fast).decode(t.encode("can't, cafes!").ids) == "can ' t, cafes!")
        // An id outside the vocabulary reads as [UNK] (and, not being a special id, stays; as HF).
        #expect(t.decode([11, 9999, 12]) == "hello [UNK] world")
        #expect(t.decode([11, 1, 12]) == "hello world")
        #expect(t.id(of: "hello") == 11 && t.token(of: 11) == "hello" && t.id(of: "nope") == nil)
        #expect(t.vocabularySize == tinyVocabulary.count)
    }
}

@Suite("WordPiece: bad files")
struct WordPieceFileErrorTests {
    private func write(_ text: String, _ name: String, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func missingAndEmptyVocabulary() throws {
        let folder = try TestData.scratchFolder()
        let missing = folder.appendingPathComponent("vocab.txt")
        let e1 = try #require(TestData.dataError { try BertTokenizer(vocabularyFile: missing) })
        #expect(e1.kind == .notFound && e1.description.contains("vocab.txt"))
        let empty = try write("", "empty.txt", in: folder)
        let e2 = try #require(TestData.dataError { try BertTokenizer(vocabularyFile: empty) })
        #expect(e2.description.contains("empty.txt") && e2.description.contains("empty"))
        let noUnk = try write("[PAD]\n[CLS]\n[SEP]\nhello\n", "nounk.txt", in: folder)
        let e3 = try #require(TestData.dataError { try BertTokenizer(vocabularyFile: noUnk) })
        #expect(e3.description.contains("nounk.txt") && e3.description.contains("[UNK]"))
        let ok = try write("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n", "crlf.txt", in: folder)
        let t = try BertTokenizer(vocabularyFile: ok)
        #expect(t.vocabularySize == 5 && t.id(of: "hello") == 4)
        #expect(TestData.dataError { try BertTokenizer(vocabulary: []) }?.description.contains("empty") == true)
    }

    @Test func badTokenizerJSON() throws {
        let folder = try TestData.scratchFolder()
        let malformed = try write("{\"model\": {\"vocab\": ", "broken.json", in: folder)
        let e1 = try #require(TestData.dataError { try BertTokenizer(tokenizerJSON: malformed) })
        #expect(e1.kind == .parse && e1.description.contains("broken.json") && e1.description.contains("JSON"))
        let bpe = try write(#"{"model": {"type": "BPE", "vocab": {"a": 0}}}"#, "bpe.json", in: folder)
        let e2 = try #require(TestData.dataError { try BertTokenizer(tokenizerJSON: bpe) })
        #expect(e2.description.contains("bpe.json") && e2.description.contains("WordPiece"))
        let noVocab = try write(#"{"model": {"type": "WordPiece"}}"#, "novocab.json", in: folder)
        #expect(TestData.dataError { try BertTokenizer(tokenizerJSON: noVocab) }?.description.contains("model.vocab") == true)
        let noUnk = try write(#"{"model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "[CLS]": 1, "[SEP]": 2}}}"#,
                              "nounk.json", in: folder)
        #expect(TestData.dataError { try BertTokenizer(tokenizerJSON: noUnk) }?.description.contains("[UNK]") == true)
        let empty = try write("", "empty.json", in: folder)
        #expect(TestData.dataError { try BertTokenizer(tokenizerJSON: empty) }?.description.contains("empty") == true)
    }

    @Test func minimalTokenizerJSONAndDirectory() throws {
        let folder = try TestData.scratchFolder()
        let json = #"""
        {"normalizer": {"type": "BertNormalizer", "lowercase": false, "strip_accents": null,
                        "handle_chinese_chars": true, "clean_text": true},
         "model": {"type": "WordPiece", "unk_token": "<unk>", "continuing_subword_prefix": "@@",
                   "max_input_chars_per_word": 100,
                   "vocab": {"[PAD]": 0, "<unk>": 1, "[CLS]": 2, "[SEP]": 3, "Hello": 4, "@@s": 5}}}
        """#
        _ = try write(json, "tokenizer.json", in: folder)
        let t = try BertTokenizer(directory: folder)
        #expect(t.unknownToken == "<unk>" && t.continuingSubwordPrefix == "@@")
        #expect(t.tokenize("Hellos hello") == ["Hello", "@@s", "<unk>"])
        #expect(t.decode(t.encode("Hellos").ids) == "Hellos")
        // tokenizer_config.json overrides the normalizer and gives the model's length.
        _ = try write(#"{"do_lower_case": true, "model_max_length": 64}"#, "tokenizer_config.json", in: folder)
        let lowered = try BertTokenizer(directory: folder)
        #expect(lowered.modelMaxLength == 64)
        #expect(lowered.tokenize("HELLO") == ["<unk>"])
        _ = try write("{not json", "tokenizer_config.json", in: folder)
        let e = try #require(TestData.dataError { try BertTokenizer(directory: folder) })
        #expect(e.description.contains("tokenizer_config.json"))

        let emptyFolder = try TestData.scratchFolder("empty")
        let e2 = try #require(TestData.dataError { try BertTokenizer(directory: emptyFolder) })
        #expect(e2.kind == .notFound && e2.description.contains("vocab.txt"))
        let e3 = try #require(TestData.dataError { try BertTokenizer(directory: emptyFolder.appendingPathComponent("nope")) })
        #expect(e3.kind == .notFound)
    }
}
