import Foundation
import Testing
import Myelin

/// Every zoo model's direct children are observable by forward hooks (feature maps).
@Suite(.serialized) struct ZooHookTests {
    @Test func googLeNetInceptionModulesAreObservable() {
        let net = GoogLeNet(classes: 5, auxLogits: true, generator: RandomGenerator(seed: 1))
        net.train()
        let x = Tensor.randn([1, 3, 64, 64], generator: RandomGenerator(seed: 2))
        let (out, features) = withoutGradients { FeatureExtractor(net, layers: ["inception4a", "inception5b", "fc"])(x) }
        #expect(features["inception4a"]?.shape == [1, 512, 4, 4])
        #expect(features["inception5b"]?.shape == [1, 1024, 2, 2])
        // The auxiliary classifiers run in forwardWithAuxiliary (training), where hooks see them too.
        var seen: [Int] = []
        let handle = net.aux1?.registerForwardHook { _, _, output in seen = output.shape }
        _ = withoutGradients { net.forwardWithAuxiliary(x) }
        handle?.remove()
        #expect(seen == [1, 5])
        #expect(features["fc"]?.scalars(as: Float.self) == out.scalars(as: Float.self))
    }

    @Test func denseNetMobileNetUNetAndYOLOChildren() {
        let x = Tensor.randn([1, 3, 32, 32], generator: RandomGenerator(seed: 3))
        let dense = DenseNet(growthRate: 4, blockConfig: [2, 2], initFeatures: 8, classes: 3)
        dense.eval()
        let d = withoutGradients { FeatureExtractor(dense, layers: ["features.denseblock1", "features.transition1", "classifier"])(x) }
        #expect(d.features["features.denseblock1"]?.shape == [1, 16, 8, 8])
        #expect(d.features["features.transition1"]?.shape == [1, 8, 4, 4])
        #expect(d.features["classifier"]?.shape == [1, 3])

        let unet = UNet(classes: 2, inputChannels: 3, baseWidth: 4, depth: 2)
        unet.eval()
        let u = withoutGradients { FeatureExtractor(unet, layers: ["inc", "down2", "up1.up", "up2.conv", "outc"])(x) }
        #expect(u.features["inc"]?.shape == [1, 4, 32, 32])
        #expect(u.features["down2"]?.shape == [1, 16, 8, 8])
        #expect(u.features["up2.conv"]?.shape == [1, 4, 32, 32])
        #expect(u.features["outc"]?.scalars(as: Float.self) == u.output.scalars(as: Float.self))

        let yolo = YOLOv1(classes: 3, gridSize: 2, boxesPerCell: 1, backbone: CIFARResNet(depth: 8, includeTop: false),
                          inputSize: 32, hiddenFeatures: 8)
        yolo.eval()
        let y = withoutGradients { FeatureExtractor(yolo, layers: ["backbone", "head"])(x) }
        #expect(y.features["backbone"]?.shape == [1, 64, 8, 8])
        #expect(y.features["head"]?.shape == [1, 2 * 2 * 8])
    }
}
