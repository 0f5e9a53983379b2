import Foundation
import Testing
import Myelin

/// Transformer encoder/decoder layers and stacks, and positional encodings: parity with
/// PyTorch (scripts/fixtures_attention.py), forward and backward, in train and eval modes.
@Suite struct TransformerTests {
    static var file: CaseFixtures { AttentionTests.file }

    @Test(arguments: [("enc_post_relu", TransformerActivation.relu, false), ("enc_pre_gelu", .gelu, true)])
    func encoderLayerMatchesPyTorch(_ name: String, _ activation: TransformerActivation, _ normFirst: Bool) throws {
        let layer = TransformerEncoderLayer(dModel: 8, heads: 2, feedForward: 16, dropout: 0, activation: activation, normFirst: normFirst)
        try checkAttentionParity(Self.file, name, layer, inputs: ["x"], weights: false) { t in
            (layer(t["x"]!, keyPaddingMask: t["kpm"]), nil)
        }
        layer.eval()
        let y = layer(Self.file.tensor("\(name).x"), keyPaddingMask: Self.file.tensor("\(name).kpm"))
        expectClose(y, Self.file.tensor("\(name).eval.out"), rtol: 1e-4, atol: 1e-5, "\(name) eval output")
    }

    @Test func decoderLayerMatchesPyTorch() throws {
        let layer = TransformerDecoderLayer(dModel: 8, heads: 2, feedForward: 16, dropout: 0)
        let f = Self.file
        try checkAttentionParity(f, "dec_causal", layer, inputs: ["tgt", "memory"], weights: false) { t in
            (layer(t["tgt"]!, memory: t["memory"]!, targetMask: t["mask"], memoryKeyPaddingMask: t["mkpm"], targetIsCausal: true), nil)
        }
        // The causal flag alone, and the helper's mask alone, give the same result.
        let tgt = f.tensor("dec_causal.tgt"), memory = f.tensor("dec_causal.memory"), mkpm = f.tensor("dec_causal.mkpm")
        expectClose(layer(tgt, memory: memory, memoryKeyPaddingMask: mkpm, targetIsCausal: true), f.tensor("dec_causal.out"),
                    rtol: 1e-4, atol: 1e-5, "isCausal without a mask")
        expectClose(layer(tgt, memory: memory, targetMask: Transformer.causalMask(size: 4), memoryKeyPaddingMask: mkpm),
                    f.tensor("dec_causal.out"), rtol: 1e-4, atol: 1e-5, "Transformer.causalMask")
    }

    @Test func encoderStackWithFinalNormMatchesPyTorch() throws {
        let encoder = TransformerEncoder(count: 2, norm: LayerNorm(8)) {
            TransformerEncoderLayer(dModel: 8, heads: 2, feedForward: 16, dropout: 0)
        }
        #expect(encoder.stateDict().keys.contains("layers.1.self_attn.in_proj_weight"))
        #expect(encoder.stateDict().keys.contains("norm.weight"))
        try checkAttentionParity(Self.file, "encoder_2", encoder, inputs: ["x"], weights: false) { t in
            (encoder(t["x"]!, keyPaddingMask: t["kpm"]), nil)
        }
        encoder.eval()
        let y = encoder(Self.file.tensor("encoder_2.x"), keyPaddingMask: Self.file.tensor("encoder_2.kpm"))
        expectClose(y, Self.file.tensor("encoder_2.eval.out"), rtol: 1e-4, atol: 1e-5, "encoder_2 eval output")
    }

    @Test func causalMaskValues() {
        let m = Transformer.causalMask(size: 3).scalars(as: Float.self)
        #expect(m == [0, -.infinity, -.infinity, 0, 0, -.infinity, 0, 0, 0])
    }

    @Test func namesMatchPyTorch() {
        let layer = TransformerDecoderLayer(dModel: 8, heads: 2, feedForward: 16)
        let expected: Set<String> = [
            "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias", "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias",
            "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias"]
        #expect(Set(layer.stateDict().keys) == expected)
        let t = Transformer(dModel: 8, heads: 2, encoderLayers: 2, decoderLayers: 1, feedForward: 16)
        let keys = Set(t.stateDict().keys)
        #expect(keys.contains("encoder.layers.1.linear2.bias") && keys.contains("decoder.layers.0.multihead_attn.in_proj_bias")
                && keys.contains("encoder.norm.weight") && keys.contains("decoder.norm.bias"))
        // As nn.Transformer(8, 2, 2, 1, 16): 600 per encoder layer, 904 per decoder layer, 16 per final norm.
        #expect(t.parameterCount == 2 * (4 * 64 + 4 * 8 + 2 * 128 + 16 + 8 + 4 * 8) + 16
                + (8 * 64 + 8 * 8 + 2 * 128 + 16 + 8 + 6 * 8) + 16)
    }

    @Test func transformerRunsEndToEndAndTrains() {
        let model = Transformer(dModel: 8, heads: 2, encoderLayers: 1, decoderLayers: 1, feedForward: 16, dropout: 0,
                                generator: RandomGenerator(seed: 1))
        let src = Tensor.normal([2, 5, 8], generator: RandomGenerator(seed: 2))
        let tgt = Tensor.normal([2, 4, 8], generator: RandomGenerator(seed: 3))
        let y = model(src, tgt, targetIsCausal: true)
        #expect(y.shape == [2, 4, 8])
        // Causality: changing the last target position leaves earlier outputs unchanged.
        var tgt2 = tgt
        tgt2.withUnsafeMutablePointer(as: Float.self) { p in for j in 0..<8 { p[3 * 8 + j] += 1 } }
        let y2 = model(src, tgt2, targetIsCausal: true)
        expectClose(y2[.all, 0..<3], y[.all, 0..<3], rtol: 1e-5, atol: 1e-6, "outputs before the changed position")
        let opt = SGD(model.parameters(), learningRate: 0.05)
        var losses: [Float] = []
        for _ in 0..<5 {
            opt.zeroGrad()
            let loss = (model(src, tgt, targetIsCausal: true) - tgt).pow(2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        }
        #expect(losses.last! < losses.first!, "loss \(losses)")
    }

    // MARK: Positional encodings

    @Test func sinusoidalTableMatchesTheFormula() {
        for d in [8, 7] {
            let pe = SinusoidalPositionalEncoding(dModel: d, maxLength: 10)
            expectClose(pe.pe.value[0..<6], Self.file.tensor("sinusoidal_\(d).pe"), rtol: 1e-6, atol: 1e-6, "sinusoidal table d=\(d)")
            #expect(pe.stateDict().isEmpty && pe.parameterCount == 0)
        }
        let pe = SinusoidalPositionalEncoding(dModel: 8, maxLength: 10)
        let x = Tensor.normal([2, 6, 8], generator: RandomGenerator(seed: 4))
        expectClose(pe(x), x + Self.file.tensor("sinusoidal_8.pe"), rtol: 1e-6, atol: 1e-6, "added to [B, L, E]")
        let seqFirst = SinusoidalPositionalEncoding(dModel: 8, maxLength: 10, batchFirst: false)
        expectClose(seqFirst(x.transposed(0, 1)), (x + Self.file.tensor("sinusoidal_8.pe")).transposed(0, 1),
                    rtol: 1e-6, atol: 1e-6, "added to [L, B, E]")
    }

    @Test func learnedPositionalEmbeddingAddsRowsAndTrains() {
        let pos = LearnedPositionalEmbedding(maxLength: 6, dModel: 4, generator: RandomGenerator(seed: 5))
        #expect(Array(pos.stateDict().keys) == ["weight"])
        let x = Tensor.zeros([2, 3, 4])
        let y = pos(x, offset: 2)
        expectClose(y[0], pos.weight[2..<5], rtol: 0, atol: 0, "rows 2..<5")
        y.sum().backward()
        let g = pos.weight.grad?.scalars(as: Float.self) ?? []
        #expect(Array(g[0..<8]) == [Float](repeating: 0, count: 8) && Array(g[8..<20]) == [Float](repeating: 2, count: 12)
                && Array(g[20..<24]) == [Float](repeating: 0, count: 4))
    }

    @Test func tooLongInputsNameTheLength() async {
        let learned = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LearnedPositionalEmbedding(maxLength: 4, dModel: 2)(Tensor.zeros([1, 5, 2]))
        }
        let sinusoidal = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = SinusoidalPositionalEncoding(dModel: 2, maxLength: 4)(Tensor.zeros([1, 5, 2]))
        }
        for result in [learned, sinusoidal] {
            let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
            #expect(text.contains("length 5") && text.contains("maximum length 4"), "\(text)")
        }
    }
}
