import Foundation
import MyelinCore

/// The characters of a text, for character-level language models: every distinct Unicode
/// scalar, sorted, numbered from 0. (Scalars, not Swift's `Character`s: "\r\n" is one
/// `Character` but two symbols a model should see.)
public struct CharacterVocabulary: Codable, Sendable, Equatable {
    /// The symbols, by index.
    public let symbols: [String]
    private let indexOf: [UInt32: Int]

    /// Every distinct character of `text`, sorted by code point.
    public init(text: String) {
        let scalars = Set(text.unicodeScalars.map(\.value)).sorted()
        self.init(codePoints: scalars)
    }

    /// A vocabulary with exactly these symbols, in this order (one character each).
    public init(symbols: [String]) throws {
        var points: [UInt32] = []
        for s in symbols {
            let scalars = Array(s.unicodeScalars)
            guard scalars.count == 1 else {
                throw DataError(.invalidArgument, file: "vocabulary", "symbol \(s.debugDescription) is not one character")
            }
            points.append(scalars[0].value)
        }
        guard Set(points).count == points.count else {
            throw DataError(.invalidArgument, file: "vocabulary", "symbols repeat: every character may appear once")
        }
        self.init(codePoints: points)
    }

    init(codePoints: [UInt32]) {
        symbols = codePoints.map { String(Unicode.Scalar($0).map(Character.init) ?? "?") }
        indexOf = Dictionary(uniqueKeysWithValues: codePoints.enumerated().map { ($0.element, $0.offset) })
    }

    public var count: Int { symbols.count }

    /// The indices of `text`'s characters; a character outside the vocabulary throws, naming it.
    public func encode(_ text: String) throws -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            guard let i = indexOf[s.value] else {
                throw DataError(.invalidArgument, file: "text",
                                "character \(String(s).debugDescription) (U+\(String(s.value, radix: 16, uppercase: true))) is not in the vocabulary of \(count) characters")
            }
            out.append(i)
        }
        return out
    }

    /// The text of `indices` (each must be in 0..<count).
    public func decode(_ indices: [Int]) -> String {
        indices.map { $0 >= 0 && $0 < symbols.count ? symbols[$0] : "\u{FFFD}" }.joined()
    }

    public static func == (a: CharacterVocabulary, b: CharacterVocabulary) -> Bool { a.symbols == b.symbols }

    enum CodingKeys: String, CodingKey { case symbols }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(symbols: c.decode([String].self, forKey: .symbols))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(symbols, forKey: .symbols)
    }
}

/// A text prepared for a character-level language model: its vocabulary and the encoded
/// characters split in reading order, the last `validationFraction` held out (so
/// validation text is text the model has never seen, not a shuffled sample of it).
public struct CharacterCorpus: Sendable {
    public let vocabulary: CharacterVocabulary
    public let train: [Int]
    public let validation: [Int]

    public init(text: String, validationFraction: Double = 0.1, vocabulary: CharacterVocabulary? = nil) throws {
        require(validationFraction >= 0 && validationFraction < 1,
                "CharacterCorpus: validationFraction must be in [0, 1), got \(validationFraction)")
        let vocab = vocabulary ?? CharacterVocabulary(text: text)
        let ids = try vocab.encode(text)
        guard ids.count >= 2 else {
            throw DataError(.invalidArgument, file: "text", "has \(ids.count) character(s); a language model needs at least 2")
        }
        let split = ids.count - Int((Double(ids.count) * validationFraction).rounded())
        self.vocabulary = vocab
        train = Array(ids[..<split])
        validation = Array(ids[split...])
    }

    /// Reads a UTF-8 text file; a missing or undecodable file throws, naming it.
    public init(contentsOf url: URL, validationFraction: Double = 0.1, vocabulary: CharacterVocabulary? = nil) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError(.notFound, file: url.path, "cannot be read (\(FileManager.default.fileExists(atPath: url.path) ? "not a readable file" : "no such file"))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError(.corrupt, file: url.path, "is not UTF-8 text")
        }
        try self.init(text: text, validationFraction: validationFraction, vocabulary: vocabulary)
    }
}

/// A long stream of tokens cut for truncated backpropagation through time, as PyTorch's
/// word_language_model example: the stream is split into `batchSize` parallel streams
/// (the remainder dropped), and chunk `i` is columns [i·T, i·T + T) of them, the target
/// the same columns shifted by one. Consecutive chunks continue each stream, so a model
/// may carry its hidden state (detached) from one chunk to the next.
public struct SequenceChunks: Sequence, Sendable {
    /// [batchSize, streamLength] int64.
    public let streams: Tensor
    public let chunkLength: Int

    public init(_ tokens: [Int], batchSize: Int, chunkLength: Int) {
        require(batchSize > 0 && chunkLength > 0, "SequenceChunks: batchSize and chunkLength must be positive, got \(batchSize) and \(chunkLength)")
        let length = tokens.count / batchSize
        require(length >= 2, "SequenceChunks: \(tokens.count) tokens cannot fill \(batchSize) streams of at least 2")
        streams = Tensor(tokens.prefix(length * batchSize).map(Int64.init)).reshaped([batchSize, length])
        self.chunkLength = chunkLength
    }

    public var batchSize: Int { streams.shape[0] }

    /// Chunks per pass (the last may be shorter than `chunkLength`).
    public var count: Int { (streams.shape[1] - 1 + chunkLength - 1) / chunkLength }

    /// Chunk `i`: inputs and targets [batchSize, ≤ chunkLength] int64.
    public subscript(i: Int) -> (input: Tensor, target: Tensor) {
        require(i >= 0 && i < count, "SequenceChunks: chunk \(i) is out of range 0..<\(count)")
        let start = i * chunkLength, end = Swift.min(start + chunkLength, streams.shape[1] - 1)
        return (streams[.all, start..<end], streams[.all, (start + 1)..<(end + 1)])
    }

    public func makeIterator() -> AnyIterator<(input: Tensor, target: Tensor)> {
        var i = 0
        return AnyIterator {
            guard i < count else { return nil }
            defer { i += 1 }
            return self[i]
        }
    }
}
