import Foundation
import MyelinCore

// The plays corpus (one UTF-8 file per play, in one folder per genre; each file is speeches
// in "Speaker:\nline\nline\n\n" blocks) read into labelled word sequences for sequence
// classification: which genre (or which play) a speech comes from.

/// One speech of a play: who speaks, and the lines spoken.
public struct PlaySpeech: Sendable, Equatable {
    /// The play's file name without ".txt" ("twelfth-night").
    public let play: String
    /// The genre folder it lies in ("comedies").
    public let genre: String
    public let speaker: String
    /// The spoken lines, joined by newlines.
    public let text: String
}

/// Reads a plays folder: `root/GENRE/PLAY.txt`.
public enum PlayCorpus {
    /// Genre folder → the plays in it (file stems, sorted).
    public static func catalogue(of root: URL) throws -> [String: [String]] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError(.notFound, file: root.path, "no such plays folder (expected one folder per genre holding one .txt file per play)")
        }
        var out: [String: [String]] = [:]
        for genre in try fm.contentsOfDirectory(atPath: root.path) where !genre.hasPrefix(".") {
            let dir = root.appendingPathComponent(genre)
            guard fm.fileExists(atPath: dir.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let plays = try fm.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".txt") }.map { String($0.dropLast(4)) }.sorted()
            if !plays.isEmpty { out[genre] = plays }
        }
        return out
    }

    /// The speeches of one play file, in order. A block whose first line is not a speaker
    /// label ("Name:") continues the previous speaker.
    public static func speeches(contentsOf url: URL, genre: String) throws -> [PlaySpeech] {
        let text = try TextCorpus.read(contentsOf: url)
        let play = url.deletingPathExtension().lastPathComponent
        var out: [PlaySpeech] = []
        var speaker = "", lines: [String] = []
        func flush() {
            if !lines.isEmpty { out.append(PlaySpeech(play: play, genre: genre, speaker: speaker, text: lines.joined(separator: "\n"))) }
            lines = []
        }
        text.enumerateLines { line, _ in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { flush(); return }
            if lines.isEmpty && WordTokenizer.isSpeakerLabel(trimmed) {
                speaker = String(trimmed.dropLast())
                return
            }
            lines.append(trimmed)
        }
        flush()
        return out
    }
}

/// What a class of a play-classification task is: a genre folder or a single play.
public enum PlayClassKind: String, Sendable, Codable {
    case genre, play
}

/// How the examples are split into train, validation and test.
public enum PlaySplitUnit: String, Sendable, Codable, CaseIterable {
    /// Whole plays go to one split (each class keeps at least one play in every split): the
    /// test measures the genre, not memorised names and phrases of plays seen in training.
    case play
    /// Speeches are shuffled and split within each class: the same plays appear in every split.
    case speech
}

/// One example: word indices (truncated) and a class.
public struct SequenceExample: Sendable, Equatable {
    public let tokens: [Int]
    public let label: Int
    /// The play it comes from.
    public let source: String
    public init(tokens: [Int], label: Int, source: String = "") { self.tokens = tokens; self.label = label; self.source = source }
}

/// A padded batch of examples for a recurrent classifier.
public struct SequenceBatch: Sendable {
    /// Word indices [N, T] (int64), padded with `paddingIndex` past each length.
    public let tokens: Tensor
    /// Real tokens per example (1...T).
    public let lengths: [Int]
    /// Labels [N] (int64).
    public let labels: Tensor
    /// [N, T] bool, true at real tokens (the prefix mask of `lengths`).
    public var mask: Tensor {
        let t = tokens.shape[1]
        return Tensor(lengths.flatMap { l in (0..<t).map { $0 < l ? 1.0 : 0.0 } }, shape: [lengths.count, t]) .> 0.5
    }
}

/// A sequence-classification data set from the plays corpus: speeches labelled by genre (or
/// by play), split by play or by speech with a fixed seed, a word vocabulary counted on the
/// training split only, each speech truncated to `maxTokens` words.
public struct PlayClassificationData: Sendable {
    /// How the data set is built.
    public struct Options: Sendable, Codable {
        /// The class names: genre folders ("comedies", "tragedies") or plays ("hamlet", "twelfth-night").
        public var classes: [String]
        public var splitBy: PlaySplitUnit = .play
        public var validationFraction = 0.15
        public var testFraction = 0.15
        public var seed: UInt64 = 0
        /// Words seen fewer times in the training split become the unknown token.
        public var minCount = 2
        /// At most this many words (the unknown token included).
        public var maxVocabulary: Int? = 20000
        /// Longer speeches keep their first `maxTokens` words.
        public var maxTokens = 50
        /// Shorter speeches are left out.
        public var minTokens = 1
        /// When set, an example is this many consecutive spoken lines of a play (speaker labels
        /// dropped, across speeches) instead of one speech: longer, evenly sized examples.
        public var linesPerExample: Int? = nil
        public init(classes: [String]) { self.classes = classes }
    }

    public let options: Options
    public let kind: PlayClassKind
    public let classNames: [String]
    public let vocabulary: Vocabulary
    public let train: [SequenceExample]
    public let validation: [SequenceExample]
    public let test: [SequenceExample]
    /// Class → the plays of each split (train, validation, test); every play when split by speech.
    public let plays: [(train: [String], validation: [String], test: [String])]
    /// Pads batches: index 0, the unknown token (padding steps are skipped by the lengths anyway).
    public var paddingIndex: Int { 0 }

    /// Reads `root` (see `PlayCorpus`) and builds the task. Throws, naming the folder, when it
    /// is missing, when fewer than two classes are asked for or a class is neither a genre folder
    /// nor a play, or when a class has too few plays (split by play) or speeches.
    public init(root: URL, options: Options) throws {
        self.options = options
        let catalogue = try PlayCorpus.catalogue(of: root)
        let classes = options.classes
        guard classes.count >= 2, Set(classes).count == classes.count else {
            throw DataError(.invalidArgument, file: root.path, "needs at least 2 distinct classes, got \(classes) (genres here: \(catalogue.keys.sorted().joined(separator: ", ")))")
        }
        guard catalogue.count >= 1 else { throw DataError(.notFound, file: root.path, "holds no genre folder with .txt plays") }
        let genreOf = Dictionary(catalogue.flatMap { g, ps in ps.map { ($0, g) } }, uniquingKeysWith: { a, _ in a })
        if classes.allSatisfy({ catalogue[$0] != nil }) {
            kind = .genre
        } else if classes.allSatisfy({ genreOf[$0] != nil }) {
            kind = .play
        } else {
            let unknown = classes.filter { catalogue[$0] == nil && genreOf[$0] == nil }
            throw DataError(.invalidArgument, file: root.path,
                            "\(unknown.isEmpty ? "mixes genres and plays in \(classes)" : "has no genre folder or play named \(unknown.joined(separator: ", "))") "
                            + "(genres: \(catalogue.keys.sorted().joined(separator: ", ")))")
        }
        guard catalogue.keys.count >= 2 || kind == .play else {
            throw DataError(.invalidArgument, file: root.path, "has fewer than 2 genre folders")
        }
        classNames = classes
        let v = options.validationFraction, t = options.testFraction
        guard v > 0, t > 0, v + t < 1 else {
            throw DataError(.invalidArgument, file: root.path, "validation (\(v)) and test (\(t)) fractions must be positive and sum below 1")
        }
        if kind == .play && options.splitBy == .play {
            throw DataError(.invalidArgument, file: root.path, "classes are plays (\(classes.joined(separator: ", "))): split by speech, not by play")
        }
        let tokenizer = WordTokenizer()
        // Speeches per class, as word lists.
        var byClass: [[(play: String, words: [String])]] = []
        var playsOf: [[String]] = []
        for name in classes {
            let members = kind == .genre ? (catalogue[name] ?? []) : [name]
            var items: [(String, [String])] = []
            for play in members {
                let genre = kind == .genre ? name : (genreOf[play] ?? "")
                let url = root.appendingPathComponent(genre).appendingPathComponent(play + ".txt")
                let speeches = try PlayCorpus.speeches(contentsOf: url, genre: genre)
                var texts = speeches.map(\.text)
                if let k = options.linesPerExample {
                    let lines = speeches.flatMap { $0.text.split(separator: "\n").map(String.init) }
                    texts = stride(from: 0, to: lines.count, by: Swift.max(1, k)).map { lines[$0..<Swift.min($0 + Swift.max(1, k), lines.count)].joined(separator: "\n") }
                }
                for text in texts {
                    let words = tokenizer.tokenize(text)
                    if words.count >= Swift.max(1, options.minTokens) { items.append((play, words)) }
                }
            }
            guard items.count >= 3 else {
                throw DataError(.invalidArgument, file: root.path, "class \(name) has \(items.count) speeches of at least \(options.minTokens) words; need 3 or more")
            }
            byClass.append(items)
            playsOf.append(members)
        }

        // The split: per class, so every split holds every class.
        let rng = RandomGenerator(seed: options.seed)
        func counts(_ n: Int) -> (val: Int, test: Int) {
            (Swift.max(1, Int((Double(n) * v).rounded())), Swift.max(1, Int((Double(n) * t).rounded())))
        }
        var parts: [[(play: String, words: [String], label: Int)]] = [[], [], []]
        var playSplits: [(train: [String], validation: [String], test: [String])] = []
        for (label, items) in byClass.enumerated() {
            switch options.splitBy {
            case .play:
                let plays = playsOf[label]
                guard plays.count >= 3 else {
                    throw DataError(.invalidArgument, file: root.appendingPathComponent(classes[label]).path,
                                    "has \(plays.count) plays; splitting by play needs 3 or more per class (or split by speech)")
                }
                let order = rng.permutation(plays.count).map { plays[$0] }
                let (nv, nt) = counts(plays.count)
                let test = Array(order.prefix(nt)), val = Array(order.dropFirst(nt).prefix(nv)), tr = Array(order.dropFirst(nt + nv))
                playSplits.append((tr.sorted(), val.sorted(), test.sorted()))
                for it in items {
                    let k = test.contains(it.play) ? 2 : val.contains(it.play) ? 1 : 0
                    parts[k].append((it.play, it.words, label))
                }
            case .speech:
                let order = rng.permutation(items.count)
                let (nv, nt) = counts(items.count)
                for (rank, i) in order.enumerated() {
                    let k = rank < nt ? 2 : rank < nt + nv ? 1 : 0
                    parts[k].append((items[i].play, items[i].words, label))
                }
                let all = playsOf[label]
                playSplits.append((all, all, all))
            }
        }
        plays = playSplits
        // The vocabulary sees the training split only (the words kept after truncation).
        let maxTokens = Swift.max(1, options.maxTokens)
        vocabulary = Vocabulary(counting: parts[0].lazy.flatMap { $0.words.prefix(maxTokens) }, minCount: options.minCount,
                                maxSize: options.maxVocabulary)
        let vocab = vocabulary
        func encode(_ p: [(play: String, words: [String], label: Int)]) -> [SequenceExample] {
            p.map { SequenceExample(tokens: vocab.encode(Array($0.words.prefix(maxTokens))), label: $0.label, source: $0.play) }
        }
        train = encode(parts[0])
        validation = encode(parts[1])
        test = encode(parts[2])
    }

    /// Examples per class in each split.
    public func classCounts(_ examples: [SequenceExample]) -> [Int] {
        var c = [Int](repeating: 0, count: classNames.count)
        for e in examples { c[e.label] += 1 }
        return c
    }

    /// The accuracy of always answering the training split's most frequent class, on `examples`.
    public func majorityBaseline(on examples: [SequenceExample]) -> (className: String, accuracy: Double) {
        let trainCounts = classCounts(train)
        let top = trainCounts.indices.max { trainCounts[$0] < trainCounts[$1] } ?? 0
        let hits = examples.filter { $0.label == top }.count
        return (classNames[top], examples.isEmpty ? 0 : Double(hits) / Double(examples.count))
    }

    /// A table of the class counts of each split, with each class's share.
    public func report() -> String {
        let width = Swift.max(10, classNames.map(\.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: Swift.max(0, w - s.count)) }
        var lines = [pad("class", width) + "       train  validation        test"]
        let splits = [train, validation, test].map(classCounts)
        for (i, name) in classNames.enumerated() {
            let cells = splits.map { c -> String in
                let total = Swift.max(1, c.reduce(0, +))
                return String(format: "%5d (%2.0f%%)", c[i], 100 * Double(c[i]) / Double(total))
            }
            lines.append(pad(name, width) + "  " + cells.joined(separator: " "))
        }
        lines.append(pad("total", width) + "  " + splits.map { String(format: "%11d", $0.reduce(0, +)) }.joined(separator: " "))
        return lines.joined(separator: "\n")
    }

    /// Padded batches of `examples`: in order without `shuffle`; with it, shuffled, then sorted
    /// by length within pools of 20 batches (less padding) and the batches shuffled again.
    public func batches(_ examples: [SequenceExample], batchSize: Int, shuffle: RandomGenerator? = nil) -> [SequenceBatch] {
        Self.batches(examples, batchSize: batchSize, paddingIndex: paddingIndex, shuffle: shuffle)
    }

    /// See the instance method; `paddingIndex` fills the steps past each length.
    public static func batches(_ examples: [SequenceExample], batchSize: Int, paddingIndex: Int = 0,
                               shuffle: RandomGenerator? = nil) -> [SequenceBatch] {
        require(batchSize >= 1, "PlayClassificationData.batches: batchSize must be at least 1, got \(batchSize)")
        var order = Array(examples.indices)
        if let rng = shuffle {
            order = rng.permutation(examples.count).map { order[$0] }
            let pool = batchSize * 20
            order = stride(from: 0, to: order.count, by: pool).flatMap { s in
                order[s..<Swift.min(s + pool, order.count)].sorted { examples[$0].tokens.count < examples[$1].tokens.count }
            }
        }
        var out: [SequenceBatch] = []
        for s in stride(from: 0, to: order.count, by: batchSize) {
            let idx = order[s..<Swift.min(s + batchSize, order.count)]
            let lengths = idx.map { Swift.max(1, examples[$0].tokens.count) }
            let t = lengths.max() ?? 1
            var ids = [Int64](repeating: Int64(paddingIndex), count: idx.count * t)
            for (r, i) in idx.enumerated() {
                for (j, w) in examples[i].tokens.enumerated() { ids[r * t + j] = Int64(w) }
            }
            out.append(SequenceBatch(tokens: Tensor(ids, shape: [idx.count, t], dtype: .int64), lengths: lengths,
                                     labels: Tensor(idx.map { Int64(examples[$0].label) }, shape: [idx.count], dtype: .int64)))
        }
        if let rng = shuffle { out = rng.permutation(out.count).map { out[$0] } }
        return out
    }
}
