import Foundation
import Myelin
import Testing

/// The Hugging Face references written by scripts/fixtures_minilm.py.
private enum MiniLMFixtures {
    static let file: (tensors: [String: Tensor], metadata: [String: String]) = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/minilm.safetensors")
        do { return try SafeTensors.read(contentsOf: url) } catch {
            fatalError("cannot read \(url.path): \(error); run scripts/fixtures_minilm.py")
        }
    }()

    static func tensor(_ name: String) -> Tensor {
        guard let t = file.tensors[name] else { fatalError("fixture '\(name)' is missing; rerun scripts/fixtures_minilm.py") }
        return t
    }

    /// Every tensor under `prefix`, keyed by the rest of its name.
    static func group(_ prefix: String) -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (k, v) in file.tensors where k.hasPrefix(prefix) { d[String(k.dropFirst(prefix.count))] = v }
        return d
    }

    static func configData(_ prefix: String) -> Data { Data((file.metadata["\(prefix).config"] ?? "").utf8) }
}

private let miniLMFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("../shared/data/pretrained/all-MiniLM-L6-v2").standardizedFileURL
private let haveMiniLM = FileManager.default.fileExists(atPath: miniLMFolder.appendingPathComponent("model.safetensors").path)

private func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Double {
    zip(a.scalars(as: Double.self), b.scalars(as: Double.self)).reduce(0) { Swift.max($0, abs($1.0 - $1.1)) }
}

/// The error's text when `body` throws a ModelZooError; records an issue otherwise.
private func zooErrorText(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    do {
        try body()
        Issue.record("expected a ModelZooError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let e as ModelZooError {
        return e.description
    } catch {
        Issue.record("expected a ModelZooError, got \(error)", sourceLocation: sourceLocation)
    }
    return ""
}

private func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("myelin-bert-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private func tinyModel(_ prefix: String) throws -> BertModel {
    let config = try BertConfiguration(jsonData: MiniLMFixtures.configData(prefix), source: "\(prefix).config")
    return try BertModel.load(configuration: config, tensors: MiniLMFixtures.group("\(prefix).state."), source: "minilm.safetensors")
}

@Suite("BERT")
struct BERTTests {
    // MARK: Parity with transformers.BertModel

    @Test(arguments: ["tiny", "tiny_tanh"])
    func tinyBertMatchesHuggingFace(prefix: String) throws {
        let model = try tinyModel(prefix)
        #expect(model.configuration.hiddenAct == (prefix == "tiny" ? .gelu : .geluTanh))
        let ids = MiniLMFixtures.tensor("\(prefix).input_ids"), mask = MiniLMFixtures.tensor("\(prefix).attention_mask")
        let types = MiniLMFixtures.tensor("\(prefix).token_type_ids")
        let hidden = model.forward(inputIds: ids, attentionMask: mask, tokenTypeIds: types)
        let expected = MiniLMFixtures.tensor("\(prefix).last_hidden_state")
        #expect(hidden.shape == expected.shape)
        let err = maxAbsDifference(hidden, expected)
        print("\(prefix): last_hidden_state max abs error \(err)")
        #expect(err < 2e-5, "\(prefix): last hidden state differs from Hugging Face's by \(err)")
        expectClose(model.pooledOutput(hidden), MiniLMFixtures.tensor("\(prefix).pooler_output"), rtol: 1e-4, atol: 2e-5, "\(prefix) pooler")
        let st = SentenceTransformer(encoder: model)
        expectClose(st.embed(inputIds: ids, attentionMask: mask, tokenTypeIds: types),
                    MiniLMFixtures.tensor("\(prefix).sentence_embedding"), rtol: 1e-4, atol: 2e-5, "\(prefix) sentence embedding")
    }

    @Test func stateDictNamesAndShapesAreHuggingFaces() throws {
        let config = try BertConfiguration(jsonData: MiniLMFixtures.configData("tiny"))
        let mine = BertModel(configuration: config).stateDict()
        let hf = MiniLMFixtures.group("tiny.state.")
        let onlyMine = Set(mine.keys).subtracting(hf.keys).sorted(), onlyHF = Set(hf.keys).subtracting(mine.keys).sorted()
        #expect(Set(mine.keys) == Set(hf.keys), "only in Myelin: \(onlyMine); only in HF: \(onlyHF)")
        for (k, t) in hf { #expect(mine[k]?.shape == t.shape, "\(k): \(mine[k]?.shape ?? []) vs HF's \(t.shape)") }
        #expect(mine["encoder.layer.1.attention.output.LayerNorm.weight"] != nil)
        #expect(mine["encoder.layer.0.attention.self.query.weight"] != nil)
        #expect(BertModel(configuration: config, addPoolingLayer: false).stateDict().count == hf.count - 2)
    }

    @Test func paddingDoesNotLeakIntoRealTokens() throws {
        let model = try tinyModel("tiny")
        let ids = MiniLMFixtures.tensor("tiny.input_ids"), mask = MiniLMFixtures.tensor("tiny.attention_mask")
        // Other ids in the padded slots must not change any real token's vector.
        let mixed = select(mask .== 0, Tensor.full(ids.shape, 7, dtype: .int64), ids)
        let a = model.forward(inputIds: ids, attentionMask: mask), b = model.forward(inputIds: mixed, attentionMask: mask)
        let keep = mask.to(.float32).reshaped([3, 12, 1])
        #expect(maxAbsDifference(a * keep, b * keep) < 1e-6)
        #expect(maxAbsDifference(a, b) > 1e-3, "the padded positions themselves should differ")
    }

    // MARK: Loading from a folder

    @Test func loadsAFolderWithBertPrefixAndExtraTensors() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try MiniLMFixtures.configData("tiny").write(to: folder.appendingPathComponent("config.json"))
        var state: [String: Tensor] = [:]
        for (k, v) in MiniLMFixtures.group("tiny.state.") { state["bert." + k] = v }
        state["bert.embeddings.position_ids"] = Tensor.arange(32).reshaped([1, 32])
        state["cls.predictions.bias"] = Tensor.zeros([100])
        try SafeTensors.write(state, to: folder.appendingPathComponent("model.safetensors"))
        let model = try BertModel.load(directory: folder)
        #expect(model.pooler != nil)
        #expect(!model.training)
        let out = model.forward(inputIds: MiniLMFixtures.tensor("tiny.input_ids"), attentionMask: MiniLMFixtures.tensor("tiny.attention_mask"),
                                tokenTypeIds: MiniLMFixtures.tensor("tiny.token_type_ids"))
        #expect(maxAbsDifference(out, MiniLMFixtures.tensor("tiny.last_hidden_state")) < 2e-5)
    }

    @Test func sentenceTransformerFolderMatchesHuggingFace() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try MiniLMFixtures.configData("tiny").write(to: folder.appendingPathComponent("config.json"))
        // Without the pooler, as sentence-transformers checkpoints sometimes are.
        try SafeTensors.write(MiniLMFixtures.group("tiny.state.").filter { !$0.key.hasPrefix("pooler.") },
                              to: folder.appendingPathComponent("model.safetensors"))
        let modules = #"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},"#
            + #"{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},"#
            + #"{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#
        try Data(modules.utf8)
            .write(to: folder.appendingPathComponent("modules.json"))
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        try Data(#"{"word_embedding_dimension": 32, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true}"#.utf8)
            .write(to: folder.appendingPathComponent("1_Pooling/config.json"))
        try Data(#"{"max_seq_length": 16, "do_lower_case": false}"#.utf8).write(to: folder.appendingPathComponent("sentence_bert_config.json"))
        let st = try SentenceTransformer(directory: folder)
        #expect(st.maxSequenceLength == 16 && st.normalize && st.pooling.meanTokens && !st.pooling.clsToken && st.dimension == 32)
        #expect(st.encoder.pooler == nil)
        let v = st.embed(inputIds: MiniLMFixtures.tensor("tiny.input_ids"), attentionMask: MiniLMFixtures.tensor("tiny.attention_mask"),
                         tokenTypeIds: MiniLMFixtures.tensor("tiny.token_type_ids"))
        expectClose(v, MiniLMFixtures.tensor("tiny.sentence_embedding"), rtol: 1e-4, atol: 2e-5, "folder sentence embedding")
    }

    @Test func loadErrorsNameTheFileAndTheTensor() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var text = zooErrorText { _ = try BertModel.load(directory: folder) }
        #expect(text.contains("config.json") && text.contains("model.safetensors"), "\(text)")
        try MiniLMFixtures.configData("tiny").write(to: folder.appendingPathComponent("config.json"))
        text = zooErrorText { _ = try BertModel.load(directory: folder) }
        #expect(text.contains("missing model.safetensors") && !text.contains("missing config.json"), "\(text)")

        var state = MiniLMFixtures.group("tiny.state.")
        state["encoder.layer.1.output.dense.weight"] = nil
        try SafeTensors.write(state, to: folder.appendingPathComponent("model.safetensors"))
        text = zooErrorText { _ = try BertModel.load(directory: folder) }
        #expect(text.contains("model.safetensors") && text.contains("encoder.layer.1.output.dense.weight"), "\(text)")

        state = MiniLMFixtures.group("tiny.state.")
        state["embeddings.word_embeddings.weight"] = Tensor.zeros([99, 32])
        text = zooErrorText { _ = try BertModel.load(configuration: BertConfiguration(jsonData: MiniLMFixtures.configData("tiny")),
                                                    tensors: state, source: "w.safetensors") }
        #expect(text.contains("w.safetensors") && text.contains("embeddings.word_embeddings.weight") && text.contains("[99, 32]"), "\(text)")

        text = zooErrorText { _ = try SentenceTransformer(directory: folder) }
        #expect(text.contains("modules.json"), "\(text)")
    }

    // MARK: Configuration

    static let miniLMConfig = """
        {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
         "hidden_act": "gelu", "max_position_embeddings": 512, "vocab_size": 30522, "type_vocab_size": 2,
         "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
         "position_embedding_type": "absolute", "model_type": "bert", "architectures": ["BertModel"]}
        """

    @Test func parsesAHuggingFaceConfig() throws {
        let c = try BertConfiguration(jsonData: Data(Self.miniLMConfig.utf8))
        #expect(c == BertConfiguration(hiddenSize: 384, numHiddenLayers: 6, numAttentionHeads: 12, intermediateSize: 1536))
        #expect(c.hiddenAct == .gelu && c.layerNormEps == 1e-12 && c.vocabSize == 30522)
        // Round trip through its own encoding.
        #expect(try BertConfiguration(jsonData: JSONEncoder().encode(c)) == c)
        // Optional keys take Hugging Face's defaults; the tanh GELUs share one case.
        let minimal = #"{"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "#
            + #""max_position_embeddings": 4, "vocab_size": 10, "hidden_act": "gelu_pytorch_tanh"}"#
        let m = try BertConfiguration(jsonData: Data(minimal.utf8))
        #expect(m.hiddenAct == .geluTanh && m.typeVocabSize == 2 && m.layerNormEps == 1e-12 && m.hiddenDropoutProb == 0.1)
        #expect(BertActivation(configName: "gelu_new") == .geluTanh && BertActivation(configName: "relu") == .relu)
        #expect(BertActivation(configName: "swish") == nil)
    }

    @Test func configErrorsNameTheFileAndTheKey() throws {
        func error(_ json: String) -> String { zooErrorText { _ = try BertConfiguration(jsonData: Data(json.utf8), source: "m/config.json") } }
        var text = error(Self.miniLMConfig.replacingOccurrences(of: "\"hidden_size\": 384,", with: ""))
        #expect(text.contains("m/config.json") && text.contains("hidden_size") && text.contains("missing"), "\(text)")
        text = error(Self.miniLMConfig.replacingOccurrences(of: "\"num_attention_heads\": 12", with: "\"num_attention_heads\": \"twelve\""))
        #expect(text.contains("m/config.json") && text.contains("num_attention_heads"), "\(text)")
        text = error(Self.miniLMConfig.replacingOccurrences(of: "\"num_attention_heads\": 12", with: "\"num_attention_heads\": 7"))
        #expect(text.contains("num_attention_heads") && text.contains("384"), "\(text)")
        text = error(Self.miniLMConfig.replacingOccurrences(of: "\"gelu\"", with: "\"swish\""))
        #expect(text.contains("hidden_act") && text.contains("swish"), "\(text)")
        text = error(Self.miniLMConfig.replacingOccurrences(of: "\"num_hidden_layers\": 6", with: "\"num_hidden_layers\": 0"))
        #expect(text.contains("num_hidden_layers") && text.contains("positive"), "\(text)")
        text = error(Self.miniLMConfig.replacingOccurrences(of: "\"absolute\"", with: "\"relative_key\""))
        #expect(text.contains("position_embedding_type"), "\(text)")
        text = error("{ not json")
        #expect(text.contains("m/config.json") && text.contains("JSON"), "\(text)")
        text = zooErrorText { _ = try BertConfiguration.load(contentsOf: URL(fileURLWithPath: "/nonexistent/config.json")) }
        #expect(text.contains("/nonexistent/config.json"), "\(text)")
    }

    // MARK: Pooling and similarity

    @Test func poolingModesOverTheMask() {
        // Two sentences of 3 slots, H = 2; the second has one padded slot holding a huge value.
        let tokens = Tensor([1, 2, 3, 4, 5, 6, 10, -1, 20, 1, 999, 999] as [Float], shape: [2, 3, 2])
        let mask = Tensor([1, 1, 1, 1, 1, 0] as [Int64], shape: [2, 3])
        let mean = SentencePooling()(tokens, attentionMask: mask)
        expectClose(mean, Tensor([3, 4, 15, 0] as [Float], shape: [2, 2]), "mean pooling")
        let all = SentencePooling(clsToken: true, maxTokens: true, meanTokens: true, meanSqrtLengthTokens: true)
        let pooled = all(tokens, attentionMask: mask)
        let r2 = 2.0.squareRoot(), r3 = 3.0.squareRoot()
        let expected: [Float] = [1, 2, 5, 6, 3, 4, Float(9 / r3), Float(12 / r3),
                                 10, -1, 20, 1, 15, 0, Float(30 / r2), 0]
        expectClose(pooled, Tensor(expected, shape: [2, 8]), "cls, max, mean, mean-sqrt-len")
        #expect(all.outputDimension(hidden: 2) == 8)
    }

    @Test func cosineSimilarity() {
        let a = Tensor([1, 0, 0, 2, 2, 2] as [Float], shape: [3, 2])
        let b = Tensor([3, 0] as [Float], shape: [2])
        expectClose(SentenceTransformer.cosineSimilarity(a, b), Tensor([1, 0, Float(0.5.squareRoot())] as [Float], shape: [3]), "cosine")
        let m = SentenceTransformer.cosineSimilarityMatrix(a, a)
        #expect(m.shape == [3, 3])
        expectClose(m[1], Tensor([0, 1, Float(0.5.squareRoot())] as [Float], shape: [3]), "cosine matrix row")
        let n = SentenceTransformer.l2Normalized(a)
        expectClose((n * n).sum(axis: 1), Tensor([1, 1, 1] as [Float], shape: [3]), "unit norms")
    }

    // MARK: The real all-MiniLM-L6-v2

    /// Embeddings of the fixture sentences in two padded batches: the short ones trimmed to their
    /// longest, and the one longer than 128 tokens alone.
    static func miniLMEmbeddings(_ st: SentenceTransformer) -> Tensor {
        let ids = MiniLMFixtures.tensor("minilm.input_ids"), mask = MiniLMFixtures.tensor("minilm.attention_mask")
        let lengths = mask.sum(axis: 1).integers()
        let short = lengths.indices.filter { lengths[$0] <= 128 }, long = lengths.indices.filter { lengths[$0] > 128 }
        var rows = [Tensor?](repeating: nil, count: lengths.count)
        for group in [short, long] where !group.isEmpty {
            let width = group.map { lengths[$0] }.max() ?? 1
            let pick = Tensor(group.map(Int64.init), shape: [group.count])
            let e = st.embed(inputIds: ids.indexSelect(axis: 0, indices: pick)[.all, 0..<width],
                             attentionMask: mask.indexSelect(axis: 0, indices: pick)[.all, 0..<width])
            for (j, i) in group.enumerated() { rows[i] = e[j] }
        }
        return Tensor.stack(rows.compactMap { $0 }, axis: 0)
    }

    @Test(.enabled(if: haveMiniLM, "../shared/data/pretrained/all-MiniLM-L6-v2 is absent: skipping the real-model checks"))
    func miniLMMatchesSentenceTransformers() throws {
        let st = try SentenceTransformer(directory: miniLMFolder)
        #expect(st.maxSequenceLength == 256 && st.normalize && st.pooling == SentencePooling() && st.dimension == 384)
        let mine = Self.miniLMEmbeddings(st)
        let reference = MiniLMFixtures.tensor("minilm.embeddings")
        #expect(mine.shape == reference.shape)
        let cosines = SentenceTransformer.cosineSimilarity(mine, reference).scalars(as: Double.self)
        let worst = cosines.enumerated().min { $0.element < $1.element }
        print("all-MiniLM-L6-v2: min cosine with sentence-transformers over \(cosines.count) sentences: "
              + "\(worst?.element ?? .nan) (sentence \(worst?.offset ?? -1)); max abs error \(maxAbsDifference(mine, reference))")
        for (i, c) in cosines.enumerated() { #expect(c >= 0.9999, "sentence \(i): cosine \(c)") }

        // Near-paraphrases score clearly above unrelated pairs.
        let sim = SentenceTransformer.cosineSimilarityMatrix(mine, mine)
        func s(_ i: Int, _ j: Int) -> Double { sim[i, j].itemDouble() }
        let similar = [(7, 8), (9, 10), (20, 21)]   // movie awesome/great, chocolate cake, rain in London
        let unrelated = [(7, 17), (9, 22), (20, 23)] // vs quantum entanglement, photosynthesis, earnings report
        for ((a, b), (c, d)) in zip(similar, unrelated) {
            print("similar (\(a), \(b)) \(s(a, b))  unrelated (\(c), \(d)) \(s(c, d))")
            #expect(s(a, b) > 0.6 && s(c, d) < 0.3 && s(a, b) > s(c, d) + 0.4)
        }
    }
}
