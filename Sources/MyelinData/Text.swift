import Foundation
import MyelinCore

/// Splits plain text into lower-case words, for word vectors and word-level models.
///
/// The rules, chosen for English plays and prose:
/// - a word is a run of letters and digits; an apostrophe joins two such runs
///   (`"o'er"`, `"ne'er"`, `"king's"` stay one word; a typographic ’ counts as ') but is
///   dropped at either end
///   (`"'tis"` → `"tis"`, `"lovers'"` → `"lovers"`);
/// - everything else (punctuation, hyphens, white space) separates words, so
///   `"New-bent"` gives `"new"`, `"bent"`;
/// - letters are lower-cased;
/// - with `dropSpeakerLabels` (the default), a line that is only a speaker's name
///   followed by a colon (`"Theseus:"`, `"First Citizen:"`: at most four words, the
///   first capitalised) is skipped: the play-script labels would otherwise be the most
///   frequent neighbours of every word of a speech.
public struct WordTokenizer: Sendable, Equatable {
    public var dropSpeakerLabels: Bool

    public init(dropSpeakerLabels: Bool = true) {
        self.dropSpeakerLabels = dropSpeakerLabels
    }

    /// The words of `text`, in order.
    public func tokenize(_ text: String) -> [String] {
        var words: [String] = []
        text.enumerateLines { line, _ in
            if dropSpeakerLabels && Self.isSpeakerLabel(line) { return }
            Self.appendWords(of: line, to: &words)
        }
        return words
    }

    /// True for a line such as `"Theseus:"` or `"Second Servingman:"`.
    public static func isSpeakerLabel(_ line: Substring) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.count >= 2, trimmed.last == ":", let first = trimmed.first, first.isUppercase else { return false }
        let name = trimmed.dropLast()
        let parts = name.split(separator: " ")
        return parts.count <= 4 && name.allSatisfy { $0.isLetter || $0 == " " || $0 == "'" || $0 == "." || $0 == "-" }
    }

    public static func isSpeakerLabel(_ line: String) -> Bool { isSpeakerLabel(line[...]) }

    static func appendWords(of line: String, to words: inout [String]) {
        var current = ""
        var pendingApostrophe = false
        func flush() {
            if !current.isEmpty { words.append(current) }
            current = ""
            pendingApostrophe = false
        }
        for ch in line {
            if ch.isLetter || ch.isNumber {
                if pendingApostrophe { current.append("'"); pendingApostrophe = false }
                current += ch.lowercased()
            } else if ch == "'" || ch == "\u{2019}" {
                // Kept only if a letter follows and one precedes.
                if current.isEmpty || pendingApostrophe { flush() } else { pendingApostrophe = true }
            } else {
                flush()
            }
        }
        flush()
    }
}

/// Reads a UTF-8 text file (a corpus) into a string.
public enum TextCorpus {
    public static func read(contentsOf url: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError(.notFound, file: url.path, "no such text file")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError(.notFound, file: url.path, "cannot be read (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError(.corrupt, file: url.path, "is not UTF-8 text")
        }
        return text
    }

    /// The words of the file at `url`, by `tokenizer`.
    public static func words(contentsOf url: URL, tokenizer: WordTokenizer = WordTokenizer()) throws -> [String] {
        tokenizer.tokenize(try read(contentsOf: url))
    }
}

/// The words a model knows, each with an index and the number of times it was seen.
///
/// Words are ordered by decreasing count (ties by first appearance), so index 0 is the
/// most frequent word; when there is an unknown token it comes first, at index 0, and
/// its count is the number of tokens that fell below the minimum count.
/// Saved as a text file: a header line `# myelin vocabulary 1 unknown=<token>` (or
/// `unknown=` for none), then one `word<TAB>count` line per word, in index order.
public struct Vocabulary: Sendable, Equatable {
    public static let defaultUnknownToken = "<unk>"

    /// Index → word.
    public let words: [String]
    /// Index → how many times the word occurred in the counted text.
    public let counts: [Int]
    /// The token that stands for every other word (at index 0), or nil when unknown
    /// words are dropped.
    public let unknownToken: String?
    private let indexOf: [String: Int]

    /// Counts `tokens`, keeping the words seen at least `minCount` times (at most
    /// `maxSize` of them, the most frequent, the unknown token included).
    public init(counting tokens: some Sequence<String>, minCount: Int = 1, maxSize: Int? = nil,
                unknownToken: String? = Vocabulary.defaultUnknownToken) {
        require(minCount >= 1, "Vocabulary: minCount must be at least 1, got \(minCount)")
        require(maxSize.map { $0 >= 1 } ?? true, "Vocabulary: maxSize must be at least 1, got \(maxSize ?? 0)")
        var tally: [String: Int] = [:]
        var order: [String] = []
        var total = 0
        for t in tokens {
            total += 1
            if let c = tally[t] { tally[t] = c + 1 } else { tally[t] = 1; order.append(t) }
        }
        if let unknownToken { tally[unknownToken] = nil; order.removeAll { $0 == unknownToken } }
        let firstSeen = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        var kept = order.filter { (tally[$0] ?? 0) >= minCount }
        kept.sort { a, b in
            let (ca, cb) = (tally[a] ?? 0, tally[b] ?? 0)
            return ca != cb ? ca > cb : (firstSeen[a] ?? 0) < (firstSeen[b] ?? 0)
        }
        if let maxSize { kept = Array(kept.prefix(unknownToken == nil ? maxSize : maxSize - 1)) }
        var words = kept, counts = kept.map { tally[$0] ?? 0 }
        if let unknownToken {
            words.insert(unknownToken, at: 0)
            counts.insert(total - counts.reduce(0, +), at: 0)
        }
        self.init(uncheckedWords: words, counts: counts, unknownToken: unknownToken)
    }

    /// A vocabulary from its words and counts (index order); words must be distinct and,
    /// with an unknown token, `words[0]` must be it.
    public init(words: [String], counts: [Int], unknownToken: String?) {
        require(words.count == counts.count, "Vocabulary: \(words.count) words but \(counts.count) counts")
        require(Set(words).count == words.count, "Vocabulary: words must be distinct")
        require(counts.allSatisfy { $0 >= 0 }, "Vocabulary: counts must be non-negative")
        if let unknownToken {
            require(words.first == unknownToken, "Vocabulary: the unknown token '\(unknownToken)' must be the first word")
        }
        self.init(uncheckedWords: words, counts: counts, unknownToken: unknownToken)
    }

    private init(uncheckedWords words: [String], counts: [Int], unknownToken: String?) {
        self.words = words
        self.counts = counts
        self.unknownToken = unknownToken
        self.indexOf = Dictionary(uniqueKeysWithValues: words.enumerated().map { ($1, $0) })
    }

    public static func == (a: Vocabulary, b: Vocabulary) -> Bool {
        a.words == b.words && a.counts == b.counts && a.unknownToken == b.unknownToken
    }

    /// The number of words, the unknown token included.
    public var count: Int { words.count }
    /// The index of the unknown token, if there is one (always 0).
    public var unknownIndex: Int? { unknownToken == nil ? nil : 0 }
    public func contains(_ word: String) -> Bool { indexOf[word] != nil }
    public subscript(index: Int) -> String {
        require(index >= 0 && index < words.count, "Vocabulary: index \(index) out of range 0..<\(words.count)")
        return words[index]
    }

    /// The word's own index, nil when it is not in the vocabulary (the unknown token is not used).
    public func index(of word: String) -> Int? { indexOf[word] }

    /// Indices of `tokens`; a word not in the vocabulary becomes the unknown index, or is
    /// dropped when `dropUnknown` is set or there is no unknown token.
    public func encode(_ tokens: [String], dropUnknown: Bool = false) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(tokens.count)
        for t in tokens {
            if let i = indexOf[t] { out.append(i) } else if !dropUnknown, let u = unknownIndex { out.append(u) }
        }
        return out
    }

    public func decode(_ indices: [Int]) -> [String] { indices.map { self[$0] } }

    static let header = "# myelin vocabulary 1 unknown="

    /// The file's text (see the type's documentation).
    public func serialized() -> String {
        var s = Self.header + (unknownToken ?? "") + "\n"
        for (w, c) in zip(words, counts) { s += "\(w)\t\(c)\n" }
        return s
    }

    public func write(to url: URL) throws {
        do {
            try Data(serialized().utf8).write(to: url, options: .atomic)
        } catch {
            throw DataError(.writeFailed, file: url.path, "cannot write the vocabulary (\(error.localizedDescription))")
        }
    }

    public static func read(contentsOf url: URL) throws -> Vocabulary {
        try parse(try TextCorpus.read(contentsOf: url), file: url.path)
    }

    public static func parse(_ text: String, file: String = "<vocabulary>") throws -> Vocabulary {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let first = lines.first, first.hasPrefix(header) else {
            throw DataError(.parse, file: file, line: 1, "not a Myelin vocabulary file: the first line must start with '\(header)'")
        }
        let unk = String(first.dropFirst(header.count))
        var words: [String] = [], counts: [Int] = [], seen = Set<String>()
        for (n, line) in lines.dropFirst().enumerated() {
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, let c = Int(parts[1]), c >= 0 else {
                throw DataError(.parse, file: file, line: n + 2, "expected 'word<TAB>count', got '\(line)'")
            }
            let w = String(parts[0])
            guard seen.insert(w).inserted else {
                throw DataError(.parse, file: file, line: n + 2, "the word '\(w)' appears twice")
            }
            words.append(w)
            counts.append(c)
        }
        if !unk.isEmpty && words.first != unk {
            throw DataError(.parse, file: file, line: 2, "the header names the unknown token '\(unk)' but the first word is '\(words.first ?? "")'")
        }
        return Vocabulary(uncheckedWords: words, counts: counts, unknownToken: unk.isEmpty ? nil : unk)
    }
}
