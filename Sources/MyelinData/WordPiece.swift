import Foundation
import MyelinCore

/// One text (or pair of texts) as BERT's input: the ids, the tokens they stand for, the
/// segment of each (0 for the first text, 1 for the second) and the attention mask (1 for a
/// real token, 0 for padding).
public struct BertEncoding: Sendable, Equatable {
    public var ids: [Int]
    public var tokens: [String]
    public var tokenTypeIds: [Int]
    public var attentionMask: [Int]

    public init(ids: [Int], tokens: [String], tokenTypeIds: [Int], attentionMask: [Int]) {
        self.ids = ids
        self.tokens = tokens
        self.tokenTypeIds = tokenTypeIds
        self.attentionMask = attentionMask
    }

    /// The number of positions, padding included.
    public var count: Int { ids.count }
}

/// How `encodeBatch` pads its rows (always on the right, with the padding token).
public enum BertPadding: Sendable, Equatable {
    /// To the longest row of the batch.
    case longest
    /// To the batch's `maxLength` (or the tokenizer's `modelMaxLength` when none is given).
    case maxLength
}

/// A padded batch, as a BERT encoder takes it: three int64 tensors of shape [batch, length].
public struct BertBatch: Sendable {
    public var inputIds: Tensor
    public var attentionMask: Tensor
    public var tokenTypeIds: Tensor
    /// The rows, padded.
    public var encodings: [BertEncoding]
    /// The unpadded length of each row.
    public var lengths: [Int]
}

/// BERT's WordPiece tokenizer, giving the same ids as Hugging Face's `BertTokenizer`.
///
/// Text goes through `BertBasicTokenizer` (cleanup, CJK spacing, lower-casing, accent stripping,
/// punctuation splitting), then each word is cut greedily into the longest vocabulary pieces
/// from the left, later pieces carrying the `##` prefix (`"unaffable"` → `una ##ffa ##ble`);
/// a word with no such cut, or longer than `maxInputCharsPerWord` scalars, becomes `[UNK]`.
/// Special tokens written in the text (`[SEP]`, `[MASK]`, exactly so cased) are kept whole.
///
/// ```swift
/// let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: "all-MiniLM-L6-v2"))
/// tokenizer.tokenize("Café au lait!")          // ["cafe", "au", "lai", "##t", "!"]
/// let pair = tokenizer.encode("How old are you?", pair: "I am six.", maxLength: 128)
/// pair.ids            // [101, 2129, 2214, 2024, 2017, 1029, 102, 1045, 2572, 2416, 1012, 102]
/// pair.tokenTypeIds   // [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
/// let batch = tokenizer.encodeBatch(["A man is eating.", "A dog."], maxLength: 128)
/// batch.inputIds.shape   // [2, 7]: padded to the longest, int64
/// batch.attentionMask    // 1 on tokens, 0 on padding
/// tokenizer.decode(pair.ids)   // "how old are you? i am six."
/// ```
///
/// `flavor` chooses between the Python (`.slow`) and Rust (`.fast`) implementations where they
/// differ (see `BertTokenizerFlavor`); the `vocab.txt` initialiser defaults to the former,
/// the `tokenizer.json` one to the latter, each matching the Hugging Face tokenizer that reads
/// that file.
public struct BertTokenizer: Sendable {
    /// The normalisation and pre-tokenisation settings.
    public var basic: BertBasicTokenizer
    /// Words longer than this many Unicode scalars become the unknown token (BERT: 100).
    public var maxInputCharsPerWord: Int
    /// The prefix of a piece that continues a word (BERT: `##`).
    public let continuingSubwordPrefix: String
    public let unknownToken: String
    public let classifierToken: String
    public let separatorToken: String
    public let paddingToken: String
    /// The mask token, when the vocabulary has one.
    public let maskToken: String?
    /// The longest input the model takes, from tokenizer_config.json's `model_max_length`
    /// or tokenizer.json's truncation; nil when the files say nothing. Not applied by itself:
    /// pass it as `maxLength`.
    public var modelMaxLength: Int?
    /// Where the vocabulary came from (a path), for messages.
    public let source: String

    private let vocab: [[Unicode.Scalar]: Int]
    private let idToToken: [Int: String]
    private let prefixScalars: [Unicode.Scalar]
    /// Tokens never split and dropped by `decode(skipSpecialTokens:)`, longest first.
    private let specialTokens: [[Unicode.Scalar]]
    private let specialIds: Set<Int>

    public var flavor: BertTokenizerFlavor {
        get { basic.flavor }
        set { basic.flavor = newValue }
    }

    /// The number of entries in the vocabulary.
    public var vocabularySize: Int { vocab.count }
    public var unknownId: Int { vocab[Array(unknownToken.unicodeScalars)] ?? 0 }
    public var classifierId: Int { vocab[Array(classifierToken.unicodeScalars)] ?? 0 }
    public var separatorId: Int { vocab[Array(separatorToken.unicodeScalars)] ?? 0 }
    public var paddingId: Int { vocab[Array(paddingToken.unicodeScalars)] ?? 0 }

    /// The id of `token` (compared scalar by scalar), or nil when it is not in the vocabulary.
    public func id(of token: String) -> Int? { vocab[Array(token.unicodeScalars)] }

    /// The token with id `id`, or nil when no token has it.
    public func token(of id: Int) -> String? { idToToken[id] }

    // MARK: - Creating

    /// A tokenizer over `vocabulary`, where a token's id is its index (as a vocab.txt's lines).
    /// A token listed twice keeps its last index, as transformers' `load_vocab`.
    /// Throws `DataError` when the vocabulary is empty or lacks `[UNK]`, `[CLS]`, `[SEP]` or `[PAD]`.
    public init(vocabulary: [String], lowercase: Bool = true, stripAccents: Bool? = nil,
                handleChineseCharacters: Bool = true, flavor: BertTokenizerFlavor = .slow,
                source: String = "<vocabulary>") throws {
        try self.init(entries: vocabulary.enumerated().map { ($0.element, $0.offset) },
                      basic: BertBasicTokenizer(lowercase: lowercase, stripAccents: stripAccents,
                                                handleChineseCharacters: handleChineseCharacters, flavor: flavor),
                      source: source)
    }

    /// Reads a vocab.txt: one token per line, the id being the line's 0-based number.
    /// `lowercase` must match the model (true for "uncased" models); `stripAccents` nil follows it.
    public init(vocabularyFile url: URL, lowercase: Bool = true, stripAccents: Bool? = nil,
                handleChineseCharacters: Bool = true, flavor: BertTokenizerFlavor = .slow) throws {
        let lines = try Self.readVocabularyLines(url)
        try self.init(vocabulary: lines, lowercase: lowercase, stripAccents: stripAccents,
                      handleChineseCharacters: handleChineseCharacters, flavor: flavor, source: url.path)
    }

    /// Reads a Hugging Face fast-tokenizer file (tokenizer.json) with a WordPiece model: the
    /// vocabulary (`model.vocab`), `model.unk_token`, `model.continuing_subword_prefix`,
    /// `model.max_input_chars_per_word`, the BertNormalizer's `lowercase`, `strip_accents`,
    /// `handle_chinese_chars` and `clean_text`, the special tokens (`added_tokens`, the post
    /// processor's [CLS]/[SEP], the padding token) and the truncation length (as `modelMaxLength`).
    public init(tokenizerJSON url: URL, flavor: BertTokenizerFlavor = .fast) throws {
        let root = try Self.readJSONObject(url)
        let file = url.path
        guard let model = root["model"] as? [String: Any] else {
            throw DataError(.corrupt, file: file, "no \"model\" object: not a tokenizer.json")
        }
        if let type = model["type"] as? String, type != "WordPiece" {
            throw DataError(.corrupt, file: file, "the model is \(type), not WordPiece: not a BERT tokenizer")
        }
        guard let vocabObject = model["vocab"] as? [String: Any] else {
            throw DataError(.corrupt, file: file, "no \"model.vocab\" map of tokens to ids")
        }
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocabObject.count)
        for (token, value) in vocabObject {
            guard let id = Self.int(value), id >= 0 else {
                throw DataError(.corrupt, file: file, "model.vocab[\"\(token)\"] is not a non-negative integer id")
            }
            entries.append((token, id))
        }
        entries.sort { $0.1 < $1.1 }

        var basic = BertBasicTokenizer(flavor: flavor)
        if let normalizer = root["normalizer"] as? [String: Any] {
            let type = normalizer["type"] as? String ?? "?"
            guard type == "BertNormalizer" else {
                throw DataError(.corrupt, file: file, "normalizer \(type) is not supported (BertNormalizer only)")
            }
            basic.lowercase = normalizer["lowercase"] as? Bool ?? true
            basic.stripAccents = normalizer["strip_accents"] as? Bool
            basic.handleChineseCharacters = normalizer["handle_chinese_chars"] as? Bool ?? true
            basic.cleanText = normalizer["clean_text"] as? Bool ?? true
        } else {
            // No normalizer: the text is only split.
            basic.lowercase = false
            basic.stripAccents = false
            basic.handleChineseCharacters = false
            basic.cleanText = false
        }

        var specials = Set<String>()
        for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            if added["special"] as? Bool == true, let content = added["content"] as? String { specials.insert(content) }
        }
        var cls = "[CLS]", sep = "[SEP]", pad = "[PAD]"
        if let post = root["post_processor"] as? [String: Any] {
            if let c = (post["cls"] as? [Any])?.first as? String { cls = c }
            if let s = (post["sep"] as? [Any])?.first as? String { sep = s }
            if let single = post["single"] as? [Any], single.count >= 2,
               let first = ((single.first as? [String: Any])?["SpecialToken"] as? [String: Any])?["id"] as? String,
               let last = ((single.last as? [String: Any])?["SpecialToken"] as? [String: Any])?["id"] as? String {
                cls = first
                sep = last
            }
        }
        var maxLength: Int?
        if let padding = root["padding"] as? [String: Any], let p = padding["pad_token"] as? String { pad = p }
        if let truncation = root["truncation"] as? [String: Any] { maxLength = Self.int(truncation["max_length"]) }

        try self.init(entries: entries, basic: basic,
                      unknownToken: model["unk_token"] as? String ?? "[UNK]",
                      classifierToken: cls, separatorToken: sep, paddingToken: pad,
                      extraSpecialTokens: specials,
                      continuingSubwordPrefix: model["continuing_subword_prefix"] as? String ?? "##",
                      maxInputCharsPerWord: Self.int(model["max_input_chars_per_word"]) ?? 100,
                      modelMaxLength: maxLength, source: file)
    }

    /// Reads a model folder as Hugging Face saves it: tokenizer.json when present (the `.fast`
    /// flavour by default), else vocab.txt (`.slow`), with tokenizer_config.json's
    /// `do_lower_case`, `strip_accents`, `tokenize_chinese_chars` and `model_max_length` when
    /// that file exists (as `from_pretrained` does).
    public init(directory url: URL, flavor: BertTokenizerFlavor? = nil) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError(.notFound, file: url.path, "no such folder")
        }
        let json = url.appendingPathComponent("tokenizer.json")
        let vocabFile = url.appendingPathComponent("vocab.txt")
        let configFile = url.appendingPathComponent("tokenizer_config.json")
        let config = fm.fileExists(atPath: configFile.path) ? try Self.readJSONObject(configFile) : [:]
        if fm.fileExists(atPath: json.path) {
            try self.init(tokenizerJSON: json, flavor: flavor ?? .fast)
        } else if fm.fileExists(atPath: vocabFile.path) {
            try self.init(vocabularyFile: vocabFile, flavor: flavor ?? .slow)
        } else {
            throw DataError(.notFound, file: url.path, "neither tokenizer.json nor vocab.txt in this folder")
        }
        // transformers lets tokenizer_config.json override the normalizer, as here.
        if let lower = config["do_lower_case"] as? Bool { basic.lowercase = lower }
        if config.keys.contains("strip_accents") { basic.stripAccents = config["strip_accents"] as? Bool }
        if let chinese = config["tokenize_chinese_chars"] as? Bool { basic.handleChineseCharacters = chinese }
        // Hugging Face writes 1e30 for "no limit".
        if let m = Self.int(config["model_max_length"]), m > 0, m <= 1_000_000 { modelMaxLength = m }
    }

    /// The designated initialiser: `entries` are (token, id) pairs.
    init(entries: [(String, Int)], basic: BertBasicTokenizer,
         unknownToken: String = "[UNK]", classifierToken: String = "[CLS]", separatorToken: String = "[SEP]",
         paddingToken: String = "[PAD]", maskToken: String = "[MASK]", extraSpecialTokens: Set<String> = [],
         continuingSubwordPrefix: String = "##", maxInputCharsPerWord: Int = 100,
         modelMaxLength: Int? = nil, source: String) throws {
        guard !entries.isEmpty else { throw DataError(.corrupt, file: source, "the vocabulary is empty") }
        var vocab: [[Unicode.Scalar]: Int] = [:]
        var idToToken: [Int: String] = [:]
        vocab.reserveCapacity(entries.count)
        for (token, id) in entries {
            let key = Array(token.unicodeScalars)
            if let old = vocab[key] { idToToken[old] = nil }
            vocab[key] = id
            idToToken[id] = token
        }
        for (role, token) in [("unknown", unknownToken), ("classifier", classifierToken),
                              ("separator", separatorToken), ("padding", paddingToken)]
        where vocab[Array(token.unicodeScalars)] == nil {
            throw DataError(.corrupt, file: source, "the vocabulary has no \(token) (the \(role) token)")
        }
        self.vocab = vocab
        self.idToToken = idToToken
        self.basic = basic
        self.unknownToken = unknownToken
        self.classifierToken = classifierToken
        self.separatorToken = separatorToken
        self.paddingToken = paddingToken
        self.maskToken = vocab[Array(maskToken.unicodeScalars)] == nil ? nil : maskToken
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.prefixScalars = Array(continuingSubwordPrefix.unicodeScalars)
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.modelMaxLength = modelMaxLength
        self.source = source
        var specials = extraSpecialTokens
        specials.formUnion([unknownToken, classifierToken, separatorToken, paddingToken])
        if let m = self.maskToken { specials.insert(m) }
        let specialScalars = specials.map { Array($0.unicodeScalars) }.filter { !$0.isEmpty }
        self.specialTokens = specialScalars.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1, by: { $0.value < $1.value }) }
        self.specialIds = Set(specialScalars.compactMap { vocab[$0] })
    }

    // MARK: - Tokenising

    /// The WordPiece tokens of `text`, without [CLS]/[SEP].
    public func tokenize(_ text: String) -> [String] {
        tokenIds(text).map { idToToken[$0] ?? unknownToken }
    }

    /// The ids of `text`'s tokens, without [CLS]/[SEP].
    public func tokenIds(_ text: String) -> [Int] {
        var ids: [Int] = []
        let unk = unknownId
        for piece in splitOnSpecialTokens(Array(text.unicodeScalars)) {
            switch piece {
            case .special(let id):
                ids.append(id)
            case .text(let scalars):
                for word in basic.wordScalars(scalars) { appendWordPieces(word, unknown: unk, to: &ids) }
            }
        }
        return ids
    }

    private enum Piece {
        case text([Unicode.Scalar])
        case special(Int)
    }

    /// Cuts the raw text at every special token (exact scalars, leftmost, longest), as
    /// transformers' added-token trie and the Rust library's added-vocabulary matcher do.
    private func splitOnSpecialTokens(_ text: [Unicode.Scalar]) -> [Piece] {
        guard !specialTokens.isEmpty else { return [.text(text)] }
        var pieces: [Piece] = []
        var start = 0, i = 0
        outer: while i < text.count {
            for special in specialTokens where special.count <= text.count - i && special.first == text[i] {
                if text[i..<(i + special.count)].elementsEqual(special), let id = vocab[special] {
                    if start < i { pieces.append(.text(Array(text[start..<i]))) }
                    pieces.append(.special(id))
                    i += special.count
                    start = i
                    continue outer
                }
            }
            i += 1
        }
        if start < text.count { pieces.append(.text(Array(text[start...]))) }
        return pieces
    }

    /// Greedy longest-match-first WordPiece on one word.
    private func appendWordPieces(_ word: [Unicode.Scalar], unknown: Int, to ids: inout [Int]) {
        if word.count > maxInputCharsPerWord {
            ids.append(unknown)
            return
        }
        var pieces: [Int] = []
        var start = 0
        var key: [Unicode.Scalar] = []
        key.reserveCapacity(word.count + prefixScalars.count)
        while start < word.count {
            var end = word.count
            var found: Int?
            while start < end {
                key.removeAll(keepingCapacity: true)
                if start > 0 { key.append(contentsOf: prefixScalars) }
                key.append(contentsOf: word[start..<end])
                if let id = vocab[key] { found = id; break }
                end -= 1
            }
            guard let id = found else {
                ids.append(unknown)
                return
            }
            pieces.append(id)
            start = end
        }
        ids.append(contentsOf: pieces)
    }

    // MARK: - Encoding

    /// `text` (and `pair`) as model input: `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]` (token type
    /// 1 on `b [SEP]`), truncated to `maxLength` positions when given (for a pair, the
    /// `longest_first` strategy: tokens come off the longer text first; the special tokens stay
    /// even when `maxLength` is smaller than their count). No padding: the mask is all ones.
    public func encode(_ text: String, pair: String? = nil, addSpecialTokens: Bool = true,
                       maxLength: Int? = nil) -> BertEncoding {
        var a = tokenIds(text)
        var b = pair.map(tokenIds)
        if let maxLength {
            require(maxLength >= 0, "BertTokenizer.encode: maxLength must be ≥ 0, got \(maxLength)")
            let specials = addSpecialTokens ? (b == nil ? 2 : 3) : 0
            truncate(&a, &b, budget: maxLength - specials)
        }
        var ids: [Int] = []
        var types: [Int] = []
        if addSpecialTokens { ids.append(classifierId); types.append(0) }
        ids += a
        types += Array(repeating: 0, count: a.count)
        if addSpecialTokens { ids.append(separatorId); types.append(0) }
        if let b {
            ids += b
            types += Array(repeating: 1, count: b.count)
            if addSpecialTokens { ids.append(separatorId); types.append(1) }
        }
        return BertEncoding(ids: ids, tokens: ids.map { idToToken[$0] ?? unknownToken },
                            tokenTypeIds: types, attentionMask: Array(repeating: 1, count: ids.count))
    }

    /// Shortens `a` and `b` to `budget` tokens in all, as Hugging Face's `longest_first`.
    private func truncate(_ a: inout [Int], _ b: inout [Int]?, budget: Int) {
        let budget = Swift.max(budget, 0)
        guard var second = b else {
            if a.count > budget { a.removeLast(a.count - budget) }
            return
        }
        let total = a.count + second.count
        guard total > budget else { return }
        var keepA: Int, keepB: Int
        switch flavor {
        case .slow:
            // transformers: first even out the lengths, then take the rest half from each,
            // the odd one from the second text (or the first when it is the longer).
            let remove = total - budget
            let first = Swift.min(abs(second.count - a.count), remove)
            let rest = remove - first
            let removeA: Int, removeB: Int
            if a.count > second.count {
                removeA = first + rest / 2
                removeB = rest - rest / 2
            } else {
                removeA = rest / 2
                removeB = first + rest - rest / 2
            }
            keepA = Swift.max(a.count - removeA, 0)
            keepB = Swift.max(second.count - removeB, 0)
        case .fast:
            // tokenizers (utils/truncation.rs): the shorter keeps what it can; when both must
            // shrink, budget/2 each and the odd token to the longer.
            var n1 = a.count, n2 = second.count
            let swapped = n1 > n2
            if swapped { swap(&n1, &n2) }
            n2 = n1 > budget ? n1 : Swift.max(n1, budget - n1)
            if n1 + n2 > budget {
                n1 = budget / 2
                n2 = n1 + budget % 2
            }
            if swapped { swap(&n1, &n2) }
            keepA = n1
            keepB = n2
        }
        if a.count > keepA { a.removeLast(a.count - keepA) }
        if second.count > keepB { second.removeLast(second.count - keepB) }
        b = second
    }

    /// Encodes `texts` (with `pairs`, one per text, when given) and pads them on the right with
    /// the padding token (mask 0, token type 0) to the longest row or to `maxLength`.
    /// `maxLength` also truncates each row; `.maxLength` padding without a `maxLength` uses
    /// `modelMaxLength`.
    public func encodeBatch(_ texts: [String], pairs: [String]? = nil, maxLength: Int? = nil,
                            padding: BertPadding = .longest, addSpecialTokens: Bool = true) -> BertBatch {
        if let pairs {
            require(pairs.count == texts.count,
                    "BertTokenizer.encodeBatch: \(texts.count) texts but \(pairs.count) pairs")
        }
        let limit: Int?
        switch padding {
        case .longest:
            limit = maxLength
        case .maxLength:
            limit = maxLength ?? modelMaxLength
            require(limit != nil, "BertTokenizer.encodeBatch: padding .maxLength needs a maxLength (the tokenizer has no modelMaxLength)")
        }
        var rows = texts.indices.map {
            encode(texts[$0], pair: pairs?[$0], addSpecialTokens: addSpecialTokens, maxLength: limit)
        }
        let lengths = rows.map(\.count)
        let width: Int
        switch padding {
        case .longest: width = lengths.max() ?? 0
        case .maxLength: width = Swift.max(limit ?? 0, lengths.max() ?? 0)
        }
        let pad = paddingId
        for i in rows.indices where rows[i].count < width {
            let n = width - rows[i].count
            rows[i].ids += Array(repeating: pad, count: n)
            rows[i].tokens += Array(repeating: paddingToken, count: n)
            rows[i].tokenTypeIds += Array(repeating: 0, count: n)
            rows[i].attentionMask += Array(repeating: 0, count: n)
        }
        let shape = [rows.count, width]
        return BertBatch(inputIds: Tensor(rows.flatMap(\.ids), shape: shape),
                         attentionMask: Tensor(rows.flatMap(\.attentionMask), shape: shape),
                         tokenTypeIds: Tensor(rows.flatMap(\.tokenTypeIds), shape: shape),
                         encodings: rows, lengths: lengths)
    }

    // MARK: - Decoding

    /// Text from ids, as Hugging Face's `decode`: tokens joined by spaces, `##` pieces glued to
    /// the piece before, special tokens dropped when `skipSpecialTokens`, and with
    /// `cleanUpSpaces` the spaces before `. ? ! ,` removed. The `.slow` flavour cleans the
    /// whole text, so English contractions close up too (`"it ' s"` → `"it's"`); the `.fast` one
    /// (the Rust WordPiece decoder) cleans token by token, so they stay apart. Accents and case
    /// removed by tokenisation stay removed. An id outside the vocabulary reads as the unknown
    /// token (and, not being a special id, is kept, as in Hugging Face).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true, cleanUpSpaces: Bool = true) -> String {
        var tokens: [String] = []
        for id in ids {
            if skipSpecialTokens && specialIds.contains(id) { continue }
            tokens.append(idToToken[id] ?? unknownToken)
        }
        switch flavor {
        case .slow:
            var text = Array(tokens.joined(separator: " ").unicodeScalars)
            text = Self.replacing(text, " " + continuingSubwordPrefix, with: "")
            while let f = text.first, BertBasicTokenizer.isPythonSpace(f) { text.removeFirst() }
            while let l = text.last, BertBasicTokenizer.isPythonSpace(l) { text.removeLast() }
            if cleanUpSpaces { text = Self.cleanUp(text) }
            return BertBasicTokenizer.string(text)
        case .fast:
            var text: [Unicode.Scalar] = []
            for (i, token) in tokens.enumerated() {
                var piece = Array(token.unicodeScalars)
                if i > 0 {
                    if piece.starts(with: prefixScalars) { piece.removeFirst(prefixScalars.count) } else { piece.insert(" ", at: 0) }
                }
                text += cleanUpSpaces ? Self.cleanUp(piece) : piece
            }
            return BertBasicTokenizer.string(text)
        }
    }

    /// transformers' `clean_up_tokenization` (the Rust decoder's list adds `" do not"` → `" don't"`,
    /// which a single token never holds).
    static func cleanUp(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var text = text
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            text = replacing(text, from, with: to)
        }
        return text
    }

    /// Python's `str.replace`, scalar by scalar (Swift's own string search compares
    /// characters, so `" ##"` before a combining mark would not match).
    static func replacing(_ text: [Unicode.Scalar], _ target: String, with replacement: String) -> [Unicode.Scalar] {
        let t = Array(target.unicodeScalars), r = Array(replacement.unicodeScalars)
        guard !t.isEmpty, text.count >= t.count else { return text }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if text[i] == t[0], i + t.count <= text.count, text[i..<(i + t.count)].elementsEqual(t) {
                out += r
                i += t.count
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }

    // MARK: - Files

    /// The lines of a vocab.txt, as transformers' `load_vocab` reads them (CRLF tolerated;
    /// no line after the final newline).
    static func readVocabularyLines(_ url: URL) throws -> [String] {
        let data = try readFile(url)
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError(.corrupt, file: url.path, "not UTF-8 text: a vocab.txt has one token per line")
        }
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            BertBasicTokenizer.string(line.last == "\r" ? line.dropLast() : line[...])
        }
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw DataError(.corrupt, file: url.path, "the vocabulary file is empty") }
        return lines
    }

    static func readFile(_ url: URL) throws -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError(.notFound, file: url.path, "no such file")
        }
        do { return try Data(contentsOf: url) } catch {
            throw DataError(.notFound, file: url.path, "cannot be read (\(error.localizedDescription))")
        }
    }

    static func readJSONObject(_ url: URL) throws -> [String: Any] {
        let data = try readFile(url)
        guard !data.isEmpty else { throw DataError(.parse, file: url.path, "the file is empty (expected a JSON object)") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw DataError(.parse, file: url.path, "malformed JSON (\(error.localizedDescription))")
        }
        guard let dict = object as? [String: Any] else {
            throw DataError(.parse, file: url.path, "expected a JSON object at the top level")
        }
        return dict
    }

    /// An integer from a JSON value (JSONSerialization gives NSNumber or Int, and 1e30 as Double).
    static func int(_ value: Any?) -> Int? {
        switch value {
        case let i as Int: return i
        case let d as Double where d.isFinite && abs(d) < 9e18 && d == d.rounded(): return Int(d)
        case let n as NSNumber: return Int(exactly: n.doubleValue)
        default: return nil
        }
    }
}
