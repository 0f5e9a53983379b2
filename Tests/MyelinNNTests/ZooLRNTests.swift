import Foundation
import Myelin
import Testing

/// VGG's A-LRN configuration and AlexNet with the paper's local response normalisation.
@Suite(.serialized) struct ZooLRNTests {
    @Test func vggALRN() throws {
        let model = VGG(.aLRN)
        // LRN has no parameters: the same count as A (VGG-11).
        #expect(model.parameterCount == 132_863_336)
        #expect(VGG.Configuration(rawValue: "A-LRN") == .aLRN && VGG.Configuration.aLRN.depth == 11)
        let lrn = try #require(model.features[2] as? LocalResponseNorm)
        #expect(lrn.size == 5 && lrn.alpha == 1e-4 && lrn.beta == 0.75 && lrn.k == 2)
        #expect(model.features[0] is Conv2D && model.features[1] is ReLU && model.features[3] is MaxPool2D)
        #expect(model.features.layers.filter { $0 is LocalResponseNorm }.count == 1)
        // The indices after it shift by one from A's.
        #expect(model.stateDict()["features.4.weight"]?.shape == [128, 64, 3, 3])
        let s = ModelSummary(model, inputShape: [3, 224, 224])
        #expect(!s.macsIncomplete && s.outputShape == [1, 1000])
        // LRN adds no multiply-accumulates to A's 7.61 G.
        #expect(ModelSummary(VGG(.aLRN, includeTop: false), inputShape: [3, 224, 224]).totalMACs
                == ModelSummary(VGG(.a, includeTop: false), inputShape: [3, 224, 224]).totalMACs)
        #expect((s.gigaMACs * 100).rounded() == 761)
        #expect(s.layers.first { $0.name == "features.2" }?.outputShape == [1, 64, 224, 224])
        #expect(VisionModels.entry("vgg-a-lrn") != nil && VisionModels.entry("vgg-a-lrn-bn") != nil)
        // A small forward agrees with the summary.
        let small = VGG(.aLRN, includeTop: false, generator: RandomGenerator(seed: 1))
        let y = withoutGradients { small(Tensor.randn([1, 3, 32, 32], generator: RandomGenerator(seed: 2))) }
        #expect(y.shape == [1, 512, 1, 1])
    }

    @Test func alexNetWithLRN() throws {
        let model = AlexNet(variant: .original, lrn: true)
        #expect(model.parameterCount == AlexNet(variant: .original).parameterCount)
        #expect(model.features[2] is LocalResponseNorm && model.features[6] is LocalResponseNorm)
        #expect(model.stateDict()["features.4.weight"]?.shape == [256, 96, 5, 5])
        let rows = ModelSummary(model, inputShape: [3, 224, 224]).layers
        // The lecture's shapes, with the normalisations keeping theirs.
        let shapes = rows.filter { ["Conv2D", "MaxPool2D", "Linear", "LocalResponseNorm"].contains($0.type) }.map(\.outputShape)
        #expect(shapes == [[1, 96, 55, 55], [1, 96, 55, 55], [1, 96, 27, 27], [1, 256, 27, 27], [1, 256, 27, 27], [1, 256, 13, 13],
                           [1, 384, 13, 13], [1, 384, 13, 13], [1, 256, 13, 13], [1, 256, 6, 6], [1, 4096], [1, 4096], [1, 1000]])
        #expect(VisionModels.entry("alexnet-original-lrn") != nil)
        let features = AlexNet(variant: .original, lrn: true, includeTop: false, generator: RandomGenerator(seed: 3))
        let y = withoutGradients { features(Tensor.randn([1, 3, 100, 100], generator: RandomGenerator(seed: 4))) }
        #expect(y.shape == ModelSummary(features, inputShape: [3, 100, 100]).outputShape)
    }
}
