import Foundation
import Testing
import Myelin

/// Made-up play folders: GENRE/PLAY.txt with "Speaker:\nline\n\n" blocks.
enum MadeUpPlays {
    /// Writes `plays` (genre → play → speeches) under a fresh temporary folder.
    static func write(_ plays: [String: [String: [String]]], label: String = #function) throws -> URL {
        let root = try TestData.scratchFolder(label)
        for (genre, ps) in plays {
            let dir = root.appendingPathComponent(genre)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for (play, speeches) in ps {
                let text = speeches.enumerated().map { i, s in "Speaker \(["One", "Two"][i % 2]):\n\(s)\n" }.joined(separator: "\n")
                try text.write(to: dir.appendingPathComponent(play + ".txt"), atomically: true, encoding: .utf8)
            }
        }
        return root
    }

    /// Three comedies and three tragedies; each play's speeches carry its own marker word
    /// ("zanyA", "grimB", ...) so the split tests can see where each word came from.
    static func small(label: String = #function) throws -> URL {
        var plays: [String: [String: [String]]] = ["comedies": [:], "tragedies": [:]]
        for (genre, word) in [("comedies", "merry"), ("tragedies", "woe")] {
            for p in ["a", "b", "c"] {
                let marker = (genre == "comedies" ? "zany" : "grim") + p
                plays[genre]?["\(genre)-\(p)"] = (0..<6).map { i in
                    "\(word) \(marker) the\nand so \(i == 0 ? "one two three four five six seven eight nine ten" : word)"
                }
            }
        }
        plays["histories"] = ["lonely": ["a king speaks"]]
        return try write(plays, label: label)
    }
}

@Suite struct PlayCorpusTests {
    @Test func speechesAreReadWithSpeakersAndGenre() throws {
        let root = try MadeUpPlays.write(["comedies": ["x": ["Hello there,\nfriend.", "Bye."]], "tragedies": ["y": ["Alas."]]])
        let speeches = try PlayCorpus.speeches(contentsOf: root.appendingPathComponent("comedies/x.txt"), genre: "comedies")
        #expect(speeches.map(\.text) == ["Hello there,\nfriend.", "Bye."])
        #expect(speeches.map(\.speaker) == ["Speaker One", "Speaker Two"])
        #expect(speeches.allSatisfy { $0.play == "x" && $0.genre == "comedies" })
        #expect(try PlayCorpus.catalogue(of: root) == ["comedies": ["x"], "tragedies": ["y"]])
    }

    @Test func splitByPlayKeepsPlaysApartAndCountsWordsOfTrainingOnly() throws {
        let root = try MadeUpPlays.small()
        var o = PlayClassificationData.Options(classes: ["comedies", "tragedies"])
        o.minCount = 1
        o.maxTokens = 6
        let data = try PlayClassificationData(root: root, options: o)
        #expect(data.kind == .genre && data.classNames == ["comedies", "tragedies"])
        // Each class: 3 plays → one per split; 6 speeches per play.
        #expect(data.classCounts(data.train) == [6, 6] && data.classCounts(data.validation) == [6, 6] && data.classCounts(data.test) == [6, 6])
        let sources = [data.train, data.validation, data.test].map { Set($0.map(\.source)) }
        #expect(sources[0].isDisjoint(with: sources[1]) && sources[0].isDisjoint(with: sources[2]) && sources[1].isDisjoint(with: sources[2]))
        for (i, split) in data.plays.enumerated() {
            #expect(split.train.count == 1 && split.validation.count == 1 && split.test.count == 1, "class \(i)")
        }
        // Labels follow the genre folder.
        #expect(data.train.allSatisfy { ($0.label == 0) == $0.source.hasPrefix("comedies") })
        // The vocabulary knows the training plays' markers only.
        let markers = ["a", "b", "c"].flatMap { ["zany\($0)", "grim\($0)"] }
        let trainPlays = sources[0]
        for m in markers {
            let inTrain = trainPlays.contains((m.hasPrefix("zany") ? "comedies-" : "tragedies-") + String(m.last ?? " "))
            #expect(data.vocabulary.contains(m) == inTrain, "\(m)")
        }
        // Unknown words map to <unk> (0); speeches are cut to 6 words.
        #expect(data.test.allSatisfy { $0.tokens.count <= 6 } && data.train.contains { $0.tokens.count == 6 })
        #expect(data.test.contains { $0.tokens.contains(0) })
        // The same seed gives the same split; the report lists every class.
        #expect(try PlayClassificationData(root: root, options: o).test == data.test)
        #expect(data.report().contains("comedies") && data.report().contains("tragedies"))
    }

    @Test func splitBySpeechAndPlaysAsClasses() throws {
        let root = try MadeUpPlays.small()
        var o = PlayClassificationData.Options(classes: ["comedies-a", "tragedies-b"])
        o.splitBy = .speech
        o.validationFraction = 0.2
        o.testFraction = 0.2
        let data = try PlayClassificationData(root: root, options: o)
        #expect(data.kind == .play)
        // 6 speeches per play: 1 (0.2·6 rounded) each to validation and test, 4 to training.
        #expect(data.classCounts(data.train) == [4, 4] && data.classCounts(data.validation) == [1, 1] && data.classCounts(data.test) == [1, 1])
        #expect(data.train.allSatisfy { $0.source == data.classNames[$0.label] })
        let baseline = data.majorityBaseline(on: data.test)
        #expect(baseline.accuracy == 0.5)
        // Examples of 3 lines across speeches: each play's 6 two-line speeches give 4 examples.
        o.linesPerExample = 3
        let chunked = try PlayClassificationData(root: root, options: o)
        #expect(chunked.classCounts(chunked.train + chunked.validation + chunked.test) == [4, 4])
        #expect(chunked.train.allSatisfy { $0.tokens.count >= 6 })
        o.linesPerExample = nil
        // Plays as classes cannot be split by play.
        o.splitBy = .play
        #expect(throws: DataError.self) { try PlayClassificationData(root: root, options: o) }
    }

    @Test func batchesPadAndCarryLengthsAndMasks() {
        let ex = [SequenceExample(tokens: [5, 6, 7], label: 1, source: "p"), SequenceExample(tokens: [8], label: 0, source: "q"),
                  SequenceExample(tokens: [9, 10], label: 1, source: "p")]
        let batches = PlayClassificationData.batches(ex, batchSize: 2, paddingIndex: 0)
        #expect(batches.count == 2)
        #expect(batches[0].tokens.shape == [2, 3] && batches[0].tokens.integers() == [5, 6, 7, 8, 0, 0])
        #expect(batches[0].lengths == [3, 1] && batches[0].labels.integers() == [1, 0])
        #expect(batches[0].mask.bools() == [true, true, true, true, false, false])
        #expect(batches[1].tokens.shape == [1, 2] && batches[1].lengths == [2])
        // Shuffled batches hold every example once.
        let shuffled = PlayClassificationData.batches(ex, batchSize: 2, shuffle: RandomGenerator(seed: 1))
        #expect(shuffled.flatMap { $0.labels.integers() }.sorted() == [0, 1, 1])
    }

    @Test func errorsNameTheFolder() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-plays-\(UUID().uuidString)")
        #expect { try PlayClassificationData(root: missing, options: .init(classes: ["comedies", "tragedies"])) } throws: { e in
            "\(e)".contains(missing.path) && "\(e)".contains("no such plays folder")
        }
        let root = try MadeUpPlays.small()
        #expect { try PlayClassificationData(root: root, options: .init(classes: ["comedies"])) } throws: { e in
            "\(e)".contains(root.path) && "\(e)".contains("at least 2 distinct classes")
        }
        #expect { try PlayClassificationData(root: root, options: .init(classes: ["comedies", "sonnets"])) } throws: { e in
            "\(e)".contains("no genre folder or play named sonnets")
        }
        // One play in histories: too few to split by play.
        #expect { try PlayClassificationData(root: root, options: .init(classes: ["comedies", "histories"])) } throws: { e in
            "\(e)".contains("histories") && "\(e)".contains("3 or more")
        }
    }
}
