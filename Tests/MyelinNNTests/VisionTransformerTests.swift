import Foundation
import Testing
import Myelin

@Suite struct VisionTransformerTests {
    @Test func matchesTorchvisionByNameForwardAndBackward() throws {
        let f = TransformerLMTests.fixtures
        let vit = VisionTransformer(imageSize: 8, patchSize: 4, layers: 2, heads: 2, width: 16, mlpWidth: 32, classes: 5)
        // Strict: every torchvision name is found, none is left over.
        try vit.loadStateDict(f.tensorsGroup("vit.state."))
        vit.train()
        let x = f.tensor("vit.x")
        let y = vit(x)
        (y * f.tensor("vit.r")).sum().backward()
        expectClose(y, f.tensor("vit.out"), rtol: 1e-4, atol: 1e-5, "ViT logits")
        let grads = f.tensorsGroup("vit.grad.")
        #expect(Set(grads.keys) == Set(vit.namedParameters().map(\.0)))
        for (k, p) in vit.namedParameters() {
            guard let g = grads[k] else { continue }
            expectClose(p.grad, g, rtol: 1e-3, atol: 1e-5, "ViT gradient of \(k)")
        }
    }

    @Test func torchvisionNamesAndShapes() throws {
        let vit = try VisionModels.make("vit-mnist", classes: 10, inputShape: [1, 28, 28], generator: RandomGenerator(seed: 1))
        let state = vit.stateDict()
        #expect(state["conv_proj.weight"]?.shape == [64, 1, 7, 7])
        #expect(state["class_token"]?.shape == [1, 1, 64])
        #expect(state["encoder.pos_embedding"]?.shape == [1, 17, 64])
        #expect(state["encoder.layers.encoder_layer_3.ln_1.weight"]?.shape == [64])
        #expect(state["encoder.layers.encoder_layer_0.self_attention.in_proj_weight"]?.shape == [192, 64])
        #expect(state["encoder.layers.encoder_layer_0.self_attention.out_proj.bias"]?.shape == [64])
        #expect(state["encoder.layers.encoder_layer_0.mlp.0.weight"]?.shape == [128, 64])
        #expect(state["encoder.layers.encoder_layer_0.mlp.3.weight"]?.shape == [64, 128])
        #expect(state["encoder.ln.bias"]?.shape == [64])
        #expect(state["heads.head.weight"]?.shape == [10, 64])
        #expect(vit.headName == "heads.head")
        let x = Tensor.normal([2, 1, 28, 28], generator: RandomGenerator(seed: 2))
        #expect(withoutGradients { vit(x) }.shape == [2, 10])
        let features = try VisionModels.make("vit-mnist", classes: 10, inputShape: [1, 28, 28], includeTop: false)
        #expect(withoutGradients { features(x) }.shape == [2, 64])
        #expect(!features.stateDict().keys.contains { $0.hasPrefix("heads") })
    }

    @Test func parameterCountFormula() throws {
        for (size, patch, layers, width, mlp, classes, channels, top) in [(28, 7, 4, 64, 128, 10, 1, true), (32, 4, 2, 48, 96, 100, 3, true),
                                                                          (30, 7, 1, 16, 8, 3, 2, false)] {
            let vit = VisionTransformer(imageSize: size, patchSize: patch, layers: layers, heads: 4, width: width, mlpWidth: mlp,
                                        classes: classes, includeTop: top, inputChannels: channels)
            #expect(vit.parameterCount == VisionTransformer.parameterCount(imageSize: IntPair(size), patchSize: patch, layers: layers, width: width,
                                                                           mlpWidth: mlp, classes: classes, includeTop: top, inputChannels: channels))
        }
        #expect(VisionTransformer.parameterCount(imageSize: 224, patchSize: 16, layers: 12, width: 768, mlpWidth: 3072) == 86_567_656)
    }

    @Test func vitB16HasTorchvisionsParameterCountInTheSummary() throws {
        // Counted as `myelin summary vit-b-16` does: shapes traced, nothing run, no gradients.
        let net = try VisionModels.make("vit-b-16")
        let summary = ModelSummary(net, inputShape: [3, 224, 224])
        #expect(summary.totalParameters == 86_567_656)
        #expect(summary.outputShape == [1, 1000])
        #expect(!summary.macsIncomplete)
        // fvcore counts 17.56 G for vit_b_16: projections, attention products, MLPs, patch embedding, head.
        #expect(abs(summary.gigaMACs - 17.56) < 0.02, "\(summary.gigaMACs) GMACs")
        #expect(summary.layers.contains { $0.name == "encoder.layers.encoder_layer_11.self_attention" })
    }

    @Test func summaryOfTheSmallOneAddsUp() throws {
        let net = try VisionModels.make("vit-mnist", classes: 10, inputShape: [1, 28, 28])
        let s = ModelSummary(net, inputShape: [1, 28, 28])
        #expect(s.totalParameters == net.parameterCount && s.outputShape == [1, 10])
        // Every parameter but the class token [1, 1, 64] and the positions [1, 17, 64] sits in a leaf.
        #expect(s.layers.filter(\.isLeaf).reduce(0) { $0 + $1.parameters } + 64 + 17 * 64 == net.parameterCount)
    }

    /// Which quadrant of an 8×8 image is +1 (the rest −1, plus noise): 4 classes, chance 25%.
    /// (With a bright quadrant on 0 and few samples, a ViT — torchvision's too — memorises the
    /// noise: LayerNorm removes the magnitude that tells the quadrants apart.)
    static func quadrants(_ n: Int, seed: UInt64) -> (Tensor, Tensor) {
        let g = RandomGenerator(seed: seed)
        var pixels = [Float](repeating: 0, count: n * 64), labels = [Int64](repeating: 0, count: n)
        for i in 0..<n {
            let c = g.nextInt(0, 4)
            labels[i] = Int64(c)
            for y in 0..<8 {
                for x in 0..<8 {
                    let inside = (y / 4) == c / 2 && (x / 4) == c % 2
                    pixels[i * 64 + y * 8 + x] = Float(g.nextNormal(mean: inside ? 1 : -1, std: 0.2))
                }
            }
        }
        return (Tensor(pixels, shape: [n, 1, 8, 8]), Tensor(labels, shape: [n]))
    }

    @Test func aTinySeededViTLearnsASyntheticTask() {
        let vit = VisionTransformer(imageSize: 8, patchSize: 4, layers: 1, heads: 2, width: 16, mlpWidth: 32, classes: 4, inputChannels: 1,
                                    generator: RandomGenerator(seed: 3))
        let (x, y) = Self.quadrants(256, seed: 1), (tx, ty) = Self.quadrants(200, seed: 2)
        let opt = AdamW(vit.parameters(), learningRate: 3e-3)
        for _ in 0..<100 {
            opt.zeroGrad()
            crossEntropy(vit(x), y).backward()
            opt.step()
        }
        vit.eval()
        let predicted = withoutGradients { vit(tx).argmax(axis: 1) }
        let accuracy = Double(zip(predicted.scalars(as: Double.self), ty.scalars(as: Double.self)).filter { $0 == $1 }.count) / 200
        #expect(accuracy > 0.6, "test accuracy \(accuracy), chance 0.25")
    }
}
