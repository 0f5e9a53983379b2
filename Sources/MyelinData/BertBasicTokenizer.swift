import Foundation

/// Which Hugging Face implementation a `BertTokenizer` reproduces where the two disagree.
///
/// They agree on almost every text. The differences, all checked by the fixtures:
/// - lower-casing: Python's `str.lower()` turns a word-final capital sigma into `ς`
///   (`"ΟΔΟΣ"` → `"οδος"`); the Rust library lower-cases one character at a time (`"οδοσ"`);
/// - pair truncation (`longest_first`) when both sequences must lose tokens: Python gives the
///   odd token to the first sequence, Rust to the second (and Rust splits the budget evenly
///   where Python removes one token at a time from the longer one);
/// - Python composes the text (NFC) before splitting it; Rust does not (this only shows with
///   `lowercase: false, stripAccents: false`).
public enum BertTokenizerFlavor: String, Sendable, CaseIterable {
    /// transformers' Python `BertTokenizer` (the "slow" reference one; `BertTokenizerLegacy` in
    /// transformers 5), which reads `vocab.txt`.
    case slow
    /// The Rust `tokenizers` library behind `BertTokenizerFast` and sentence-transformers,
    /// which reads `tokenizer.json`.
    case fast
}

/// BERT's basic tokenisation: text cleanup, CJK spacing, lower-casing, accent stripping and
/// punctuation splitting, before WordPiece. Reproduces Hugging Face's `BasicTokenizer`
/// (and the Rust `BertNormalizer` + `BertPreTokenizer`) code point by code point: it works on
/// Unicode scalars, not Swift `Character`s, as Python and Rust do.
public struct BertBasicTokenizer: Sendable, Equatable {
    /// Lower-case every word (uncased models).
    public var lowercase: Bool
    /// Strip accents (NFD, then drop the nonspacing marks). `nil`: follow `lowercase`, as BERT does.
    public var stripAccents: Bool?
    /// Put spaces around CJK ideographs so each is a word of its own.
    public var handleChineseCharacters: Bool
    /// Drop control characters, NUL and U+FFFD, and turn every white space into a space.
    public var cleanText: Bool
    /// Where Python and Rust disagree, which one to follow.
    public var flavor: BertTokenizerFlavor

    public init(lowercase: Bool = true, stripAccents: Bool? = nil, handleChineseCharacters: Bool = true,
                cleanText: Bool = true, flavor: BertTokenizerFlavor = .slow) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        self.handleChineseCharacters = handleChineseCharacters
        self.cleanText = cleanText
        self.flavor = flavor
    }

    /// The words and punctuation marks of `text`, normalised, each as its scalars.
    public func words(_ text: String) -> [String] {
        wordScalars(Array(text.unicodeScalars)).map(Self.string)
    }

    /// `words(_:)` on scalars, for the WordPiece stage.
    func wordScalars(_ input: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var text: [Unicode.Scalar] = []
        text.reserveCapacity(input.count)
        for s in input {
            if cleanText {
                if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
                if Self.isBertWhitespace(s) { text.append(" "); continue }
            }
            if handleChineseCharacters && Self.isChineseCharacter(s) {
                text.append(" "); text.append(s); text.append(" ")
            } else {
                text.append(s)
            }
        }
        if flavor == .slow {
            // transformers composes the text so that "e\u{301}" and "é" tokenise alike.
            text = Array(Self.string(text).precomposedStringWithCanonicalMapping.unicodeScalars)
        }
        let strip = stripAccents ?? lowercase
        var out: [[Unicode.Scalar]] = []
        for var word in Self.splitOnWhitespace(text) {
            switch flavor {
            case .slow:
                // Python: lower() first, then strip accents (when lower-casing, unless told not to).
                if lowercase {
                    word = Self.lowercasedPython(word)
                    if stripAccents != false { word = Self.strippingAccents(word) }
                } else if stripAccents == true {
                    word = Self.strippingAccents(word)
                }
            case .fast:
                // Rust's BertNormalizer: strip accents, then lower-case one character at a time.
                if strip { word = Self.strippingAccents(word) }
                if lowercase { word = Self.lowercasedPerScalar(word) }
            }
            Self.splitOnPunctuation(word, into: &out)
        }
        return out
    }

    // MARK: - Character classes (as transformers' tokenization_utils)

    /// Space, tab, newline, carriage return, or a space separator (Zs).
    public static func isBertWhitespace(_ s: Unicode.Scalar) -> Bool {
        if s == " " || s == "\t" || s == "\n" || s == "\r" { return true }
        return s.properties.generalCategory == .spaceSeparator
    }

    /// A C* category (control, format, surrogate, private use, unassigned), except tab, newline
    /// and carriage return, which count as white space.
    public static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    /// All non-alphanumeric printable ASCII (so `$`, `^`, `` ` ``, `+`, `<` count) plus the
    /// Unicode punctuation categories P*.
    public static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK Unified Ideographs blocks (and their extensions and compatibility block);
    /// not Hangul, Hiragana or Katakana, which are written with spaces between words.
    public static func isChineseCharacter(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// What Python's `str.split()` splits on (`str.isspace`): after cleanup only the space and
    /// the line and paragraph separators remain of these, but a tokenizer with `cleanText: false`
    /// sees them all.
    static func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    // MARK: - Steps

    static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }

    static func splitOnWhitespace(_ text: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        text.split(whereSeparator: isPythonSpace).map(Array.init)
    }

    /// NFD, then drop the nonspacing marks (Mn): "café" → "cafe", "Å" → "A".
    static func strippingAccents(_ word: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if word.allSatisfy({ $0.isASCII }) { return word }
        return string(word).decomposedStringWithCanonicalMapping.unicodeScalars
            .filter { $0.properties.generalCategory != .nonspacingMark }
    }

    /// Full lower-case mapping, one scalar at a time ("İ" → "i̇"), as Rust's `char::to_lowercase`.
    static func lowercasedPerScalar(_ word: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(word.count)
        for s in word {
            if s.isASCII {
                out.append((65...90).contains(s.value) ? Unicode.Scalar(UInt8(s.value + 32)) : s)
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// Python's `str.lower()`: the full mapping, plus the Final_Sigma rule: a capital sigma
    /// preceded by a cased letter and not followed by one (case-ignorable characters skipped)
    /// becomes `ς`.
    static func lowercasedPython(_ word: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard word.contains("\u{3A3}") else { return lowercasedPerScalar(word) }
        var out: [Unicode.Scalar] = []
        for (i, s) in word.enumerated() {
            guard s == "\u{3A3}" else {
                out.append(contentsOf: lowercasedPerScalar([s]))
                continue
            }
            var j = i - 1
            while j >= 0 && word[j].properties.isCaseIgnorable { j -= 1 }
            var final = j >= 0 && word[j].properties.isCased
            if final {
                var k = i + 1
                while k < word.count && word[k].properties.isCaseIgnorable { k += 1 }
                final = k == word.count || !word[k].properties.isCased
            }
            out.append(final ? "\u{3C2}" : "\u{3C3}")
        }
        return out
    }

    /// Each punctuation scalar becomes a word of its own; the runs between them stay whole.
    static func splitOnPunctuation(_ word: [Unicode.Scalar], into out: inout [[Unicode.Scalar]]) {
        var current: [Unicode.Scalar] = []
        for s in word {
            if isPunctuation(s) {
                if !current.isEmpty { out.append(current); current = [] }
                out.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { out.append(current) }
    }
}
