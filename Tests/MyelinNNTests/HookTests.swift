import Foundation
import Myelin
import Testing

@Suite("Forward hooks")
struct HookTests {
    static func model() -> Sequential {
        let g = RandomGenerator(seed: 3)
        return Sequential {
            Conv2D(1, 4, 3, generator: g)
            ReLU()
            Sequential { Conv2D(4, 2, 3, generator: g); ReLU() }
            Flatten()
            Linear(2 * 4 * 4, 3, generator: g)
        }
    }

    @Test func hookSeesLayerInSequentialAndRemoves() {
        let m = Self.model()
        let x = Tensor.uniform([2, 1, 8, 8], generator: RandomGenerator(seed: 1))
        var calls = 0
        var seen: Tensor?
        let handle = m[1].registerForwardHook { module, input, output in
            calls += 1
            #expect(module === m[1] && input.shape == [2, 4, 6, 6])
            seen = output
        }
        _ = m(x)
        #expect(calls == 1)
        // The hooked output is the prefix of the model run by hand.
        let prefix = m[1](m[0](x))
        #expect(seen?.scalars() == prefix.scalars())
        handle.remove()
        _ = m(x)
        #expect(calls == 1 && !m[1].hasForwardHooks)
    }

    @Test func featureExtractorByName() {
        let m = Self.model()
        let x = Tensor.uniform([1, 1, 8, 8], generator: RandomGenerator(seed: 2))
        let fx = FeatureExtractor(m, layers: ["0", "2.0", "2"])
        let (out, features) = fx(x)
        #expect(out.scalars() == m(x).scalars())
        #expect(features["0"]?.scalars() == m[0](x).scalars())
        let inner = (m[2] as! Sequential)
        #expect(features["2.0"]?.scalars() == inner[0](m[1](m[0](x))).scalars())
        // A Sequential is captured through its last layer: the whole block's output.
        #expect(features["2"]?.scalars() == inner(m[1](m[0](x))).scalars())
        #expect(m.namedModules().allSatisfy { !$0.1.hasForwardHooks })
        #expect(FeatureExtractor.observableLayers(m, input: x) == ["0", "1", "2.0", "2", "2.1", "3", "4"])
    }

    @Test func lenetConvLayersAreObservable() {
        let net = LeNet5(generator: RandomGenerator(seed: 4))
        let x = Tensor.uniform([1, 1, 28, 28], generator: RandomGenerator(seed: 5))
        let (_, f) = FeatureExtractor(net, layers: ["conv1", "conv2", "fc3"])(x)
        #expect(f["conv1"]?.shape == [1, 6, 28, 28] && f["conv1"]?.scalars() == net.conv1(x).scalars())
        #expect(f["conv2"]?.shape == [1, 16, 10, 10] && f["fc3"]?.shape == [1, 10])
    }

    @Test func resnetStemStagesAndBlocksAreObservable() {
        let net = ResNet(depth: 18, classes: 5)
        net.eval()
        let x = Tensor.uniform([1, 3, 32, 32], generator: RandomGenerator(seed: 6))
        let (out, f) = FeatureExtractor(net, layers: ["conv1", "layer1", "layer2.0", "layer4", "fc"])(x)
        #expect(f["conv1"]?.scalars() == net.conv1(x).scalars())
        #expect(f["layer1"]?.shape == [1, 64, 8, 8] && f["layer2.0"]?.shape == [1, 128, 4, 4] && f["layer4"]?.shape == [1, 512, 1, 1])
        #expect(f["fc"]?.scalars() == out.scalars())
    }

    @Test func hooksAreNotParametersOrState() {
        let m = Self.model()
        let before = m.stateDict().keys.sorted()
        m[0].registerForwardHook { _, _, _ in }
        #expect(m.stateDict().keys.sorted() == before && m.namedChildren().count == 5)
    }
}
