import ArgumentParser
import Foundation
import Myelin

/// The folder of a sentence-transformers model, defaulting to the shared all-MiniLM-L6-v2.
struct SentenceModelOptions: ParsableArguments {
    @Option(help: "A sentence-transformers model folder (default: MYELIN_DATA or ../shared/data, then pretrained/all-MiniLM-L6-v2).")
    var model: String?
    @Option(help: "Sentences per forward pass.") var batchSize: Int = 32

    func load() throws -> SentenceEncoder {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be positive, not \(batchSize)") }
        let path = model ?? ProcessInfo.processInfo.environment["MYELIN_DATA"].map { "\($0)/pretrained/all-MiniLM-L6-v2" }
            ?? "../shared/data/pretrained/all-MiniLM-L6-v2"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError("\(path): no such model folder (give --model PATH)")
        }
        return try SentenceEncoder(directory: URL(fileURLWithPath: path))
    }
}

/// `myelin embed "sentence" ...`: sentence vectors, printed or saved.
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sentence embeddings from a pretrained sentence-transformers model (all-MiniLM-L6-v2 by default).")

    @OptionGroup var options: SentenceModelOptions
    @Argument(help: "The sentences.") var sentences: [String] = []
    @Option(help: "Read the sentences from this file instead, one per line (empty lines skipped).") var input: String?
    @Option(help: "Write the vectors to this safetensors file (embeddings [N, D], the sentences in its metadata) instead of printing them.")
    var output: String?
    @Flag(help: "Print every component (default: the first 8 and the norm).") var full = false

    func run() throws {
        var texts = sentences
        if let input {
            guard let data = FileManager.default.contents(atPath: input), let text = String(data: data, encoding: .utf8) else {
                throw CLIError("\(input): cannot be read as UTF-8 text")
            }
            texts += text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        }
        guard !texts.isEmpty else { throw ValidationError("give at least one sentence (or --input FILE)") }
        let encoder = try options.load()
        let vectors = encoder.embed(texts, batchSize: options.batchSize)
        if let output {
            var metadata = ["format": "myelin-sentence-embeddings", "count": "\(texts.count)", "dimension": "\(vectors.shape[1])"]
            if let json = try? JSONSerialization.data(withJSONObject: texts), let list = String(data: json, encoding: .utf8) {
                metadata["sentences"] = list
            }
            try SafeTensors.write(["embeddings": vectors], metadata: metadata, to: URL(fileURLWithPath: output))
            print("wrote \(texts.count) × \(vectors.shape[1]) embeddings to \(output)")
            return
        }
        for (i, text) in texts.enumerated() {
            let v = vectors[i].scalars(as: Float.self)
            let norm = v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let shown = full ? v : Array(v.prefix(8))
            let numbers = shown.map { String(format: "%+.4f", $0) }.joined(separator: " ")
            print("\(text.debugDescription)\n  [\(numbers)\(full ? "" : " …")]  (\(v.count) dims, norm \(String(format: "%.4f", norm)))")
        }
    }
}

/// `myelin similarity "a" "b"`: the cosine of two sentences' embeddings.
struct Similarity: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cosine similarity of two sentences' embeddings.")

    @OptionGroup var options: SentenceModelOptions
    @Argument(help: "The first sentence.") var first: String
    @Argument(help: "The second sentence.") var second: String

    func run() throws {
        let v = try options.load().embed([first, second], batchSize: options.batchSize)
        let cosine = SentenceTransformer.cosineSimilarity(v[0], v[1]).itemDouble()
        print(String(format: "%.4f", cosine))
    }
}

/// `myelin search --corpus FILE "query"`: the lines of a file ranked by similarity to a query.
struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rank the lines of a text file by semantic similarity to a query.")

    @OptionGroup var options: SentenceModelOptions
    @Option(help: "The text file whose lines are searched (UTF-8; empty lines skipped).") var corpus: String
    @Option(help: "How many lines to show.") var top: Int = 5
    @Argument(help: "The query.") var query: String

    func run() throws {
        guard top >= 1 else { throw ValidationError("--top must be positive, not \(top)") }
        guard let data = FileManager.default.contents(atPath: corpus), let text = String(data: data, encoding: .utf8) else {
            throw CLIError("\(corpus): cannot be read as UTF-8 text")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .map { (number: $0.offset + 1, text: $0.element.trimmingCharacters(in: .whitespacesAndNewlines)) }
            .filter { !$0.text.isEmpty }
        guard !lines.isEmpty else { throw CLIError("\(corpus): has no non-empty line to search") }
        let encoder = try options.load()
        let queryVector = encoder.embed([query])
        let lineVectors = encoder.embed(lines.map(\.text), batchSize: options.batchSize)
        let scores = SentenceTransformer.cosineSimilarityMatrix(queryVector, lineVectors).scalars(as: Float.self)
        let ranked = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(top)
        print("\(lines.count) lines of \(corpus), ranked by cosine similarity to \(query.debugDescription):")
        for (rank, i) in ranked.enumerated() {
            print(String(format: "%2d. %.4f  line %d: ", rank + 1, scores[i], lines[i].number) + lines[i].text)
        }
    }
}
