import Foundation
import Myelin
import Testing

/// The ImageNet models of the zoo: torchvision's parameter counts and names, the
/// multiply-accumulates the literature quotes, and summaries that agree with real forward passes.
/// Serialized: VGG models hold over half a gigabyte each.
@Suite(.serialized) struct ZooTests {
    /// Rounds MACs to GMACs with two decimals, as tables quote them.
    func gmacs(_ s: ModelSummary) -> Double { (s.gigaMACs * 100).rounded() / 100 }

    @Test func resNetParameterCountsAndMACs() {
        let expected: [(Int, Int, Double?)] = [
            (18, 11_689_512, 1.81), (34, 21_797_672, 3.66), (50, 25_557_032, 4.09),
            (101, 44_549_160, 7.80), (152, 60_192_808, 11.51),
        ]
        for (depth, params, g) in expected {
            let model = ResNet(depth: depth)
            #expect(model.parameterCount == params, "ResNet-\(depth)")
            let s = ModelSummary(model, inputShape: [3, 224, 224])
            #expect(s.totalParameters == params)
            #expect(s.outputShape == [1, 1000])
            #expect(!s.macsIncomplete)
            if let g { #expect(gmacs(s) == g, "ResNet-\(depth): \(s.gigaMACs) GMACs") }
        }
    }

    /// The paper's FLOPs (3.8, 7.6, 11.3 × 10⁹, counting multiply-adds) come from the
    /// original v1 block, stride 2 in the first 1×1 convolution: 3.86, 7.57, 11.28 G.
    @Test func resNetV1ReproducesThePapersFLOPs() {
        for (depth, paper, exact, params) in [(50, 3.8, 3.86, 25_557_032), (101, 7.6, 7.57, 44_549_160), (152, 11.3, 11.28, 60_192_808)] {
            let model = ResNet(depth: depth, variant: .v1)
            let s = ModelSummary(model, inputShape: [3, 224, 224])
            #expect(gmacs(s) == exact, "ResNet-\(depth) v1: \(s.gigaMACs)")
            #expect(abs(s.gigaMACs - paper) < 0.1, "ResNet-\(depth) v1: \(s.gigaMACs) vs the paper's \(paper)")
            // Same weights as v1.5: only where the stride sits differs.
            #expect(model.parameterCount == params)
            #expect((model.layer2[0] as? Bottleneck)?.conv1.stride == 2)
            #expect((model.layer2[0] as? Bottleneck)?.conv2.stride == 1)
        }
        let v15 = ResNet(depth: 50)
        #expect((v15.layer2[0] as? Bottleneck)?.conv1.stride == 1)
        #expect((v15.layer2[0] as? Bottleneck)?.conv2.stride == 2)
    }

    /// The CIFAR stem (3×3/1 conv1, no max-pool) as in BENCHMARKS.md's W4: torchvision's resnet18/34
    /// with conv1 replaced and maxpool = Identity count 11,173,962 and 21,282,122 parameters.
    @Test func resNetCIFARStem() {
        for (depth, params) in [(18, 11_173_962), (34, 21_282_122)] {
            let model = ResNet(depth: depth, classes: 10, stem: .cifar)
            #expect(model.parameterCount == params, "ResNet-\(depth) CIFAR")
            #expect(model.maxpool == nil)
            #expect(model.stateDict()["conv1.weight"]?.shape == [64, 3, 3, 3])
            let s = ModelSummary(model, inputShape: [3, 32, 32])
            #expect(s.totalParameters == params)
            #expect(s.outputShape == [1, 10])
        }
        // ResNet-18 on 32×32 with this stem: 0.56 GMACs, the figure CIFAR papers quote.
        #expect(gmacs(ModelSummary(ResNet(depth: 18, classes: 10, stem: .cifar), inputShape: [3, 32, 32])) == 0.56)
        let features = withoutGradients { ResNet(depth: 18, classes: 10, includeTop: false, stem: .cifar)(Tensor.zeros([1, 3, 32, 32])) }
        #expect(features.shape == [1, 512, 4, 4])
    }

    @Test func resNetNamesFollowTorchvision() {
        let r18 = ResNet(depth: 18).stateDict()
        // torchvision's resnet18 state dict: 62 parameters and 60 BN buffers.
        #expect(r18.count == 122)
        #expect(r18["conv1.weight"]?.shape == [64, 3, 7, 7])
        #expect(r18["bn1.running_mean"]?.shape == [64])
        #expect(r18["layer1.0.conv1.weight"]?.shape == [64, 64, 3, 3])
        #expect(r18["layer1.0.downsample.0.weight"] == nil)
        #expect(r18["layer2.0.downsample.0.weight"]?.shape == [128, 64, 1, 1])
        #expect(r18["layer2.0.downsample.1.num_batches_tracked"] != nil)
        #expect(r18["fc.weight"]?.shape == [1000, 512])
        let r50 = ResNet(depth: 50).stateDict()
        #expect(r50.count == 320)
        #expect(r50["layer1.0.downsample.0.weight"]?.shape == [256, 64, 1, 1])
        #expect(r50["layer4.2.conv3.weight"]?.shape == [2048, 512, 1, 1])
        #expect(r50["layer3.5.bn2.running_var"]?.shape == [256])
        #expect(r50["fc.bias"]?.shape == [1000])
    }

    @Test func resNetForwardMatchesTheSummary() {
        let r18 = ResNet(depth: 18, classes: 10, generator: RandomGenerator(seed: 1))
        r18.eval()
        let x = Tensor.randn([1, 3, 64, 64], generator: RandomGenerator(seed: 2))
        let y = withoutGradients { r18(x) }
        #expect(y.shape == [1, 10])
        #expect(ModelSummary(r18, inputShape: [3, 64, 64]).outputShape == [1, 10])

        let features = ResNet(depth: 50, includeTop: false, variant: .v1, generator: RandomGenerator(seed: 1))
        #expect(features.fc == nil && features.stateDict()["fc.weight"] == nil)
        features.eval()
        let f = withoutGradients { features(x) }
        #expect(f.shape == [1, 2048, 2, 2])
        let s = ModelSummary(features, inputShape: [3, 64, 64])
        #expect(s.outputShape == f.shape)
        let row = s.layers.first { $0.name == "layer2.0.conv1" }
        #expect(row?.outputShape == [1, 128, 8, 8])  // v1: the 1×1 already strides
        #expect(row?.macs == 128 * 8 * 8 * 256)
    }

    @Test func vggParameterCountsAndMACs() {
        let expected: [(Int, Int, Double)] = [
            (11, 132_863_336, 7.61), (13, 133_047_848, 11.31), (16, 138_357_544, 15.47), (19, 143_667_240, 19.63),
        ]
        for (depth, params, g) in expected {
            let s = ModelSummary(VGG(depth: depth), inputShape: [3, 224, 224])
            #expect(s.totalParameters == params, "VGG-\(depth)")
            #expect(gmacs(s) == g, "VGG-\(depth): \(s.gigaMACs)")
            #expect(s.outputShape == [1, 1000])
        }
    }

    @Test func vggConfigurationsAndBatchNorm() {
        // C: D with a 1×1 convolution ending blocks 3 to 5 (the paper's 134 million).
        let c = VGG(.c, includeTop: false)
        #expect(c.parameterCount == 14_714_688 - 256 * 256 * 8 - 2 * 512 * 512 * 8)
        #expect(VGG(.c).parameterCount == 133_638_952)
        #expect((c.features[14] as? Conv2D)?.kernelSize == 1)
        #expect(c.features.count == 13 * 2 + 5)  // 13 convolutions + 3 linear = 16 weight layers
        // Batch norm adds 2 parameters per channel and sits after each convolution, as vgg16_bn.
        let bn = VGG(.d, batchNorm: true, includeTop: false)
        #expect(bn.parameterCount == 14_714_688 + 2 * 4224)
        #expect(bn.features[1] is BatchNorm2D)
        let state = bn.stateDict()
        #expect(state["features.1.running_var"]?.shape == [64])
        #expect(state["features.40.weight"]?.shape == [512, 512, 3, 3])
        #expect(state["classifier.0.weight"] == nil)
        // The forward pass agrees with the summary on a small input.
        bn.eval()
        let x = Tensor.randn([1, 3, 32, 32], generator: RandomGenerator(seed: 3))
        let y = withoutGradients { bn(x) }
        #expect(y.shape == [1, 512, 1, 1])
        #expect(ModelSummary(bn, inputShape: [3, 32, 32]).outputShape == y.shape)
        #expect(ModelSummary(VGG(.e, batchNorm: true, includeTop: false), inputShape: [3, 224, 224]).layers.count == 1 + 1 + 16 * 3 + 5)
    }

    @Test func alexNetCountsAndTheLecturesShapes() throws {
        let tv = AlexNet()
        #expect(tv.parameterCount == 61_100_840)
        let names = Set(tv.stateDict().keys)
        #expect(names == ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
                          "features.6.weight", "features.6.bias", "features.8.weight", "features.8.bias",
                          "features.10.weight", "features.10.bias", "classifier.1.weight", "classifier.1.bias",
                          "classifier.4.weight", "classifier.4.bias", "classifier.6.weight", "classifier.6.bias"])
        let s = ModelSummary(tv, inputShape: [3, 224, 224])
        #expect(gmacs(s) == 0.71)

        let original = AlexNet(variant: .original)
        let rows = ModelSummary(original, inputShape: [3, 224, 224]).layers
        let shapes = rows.filter { $0.type == "Conv2D" || $0.type == "MaxPool2D" || $0.type == "Linear" }.map(\.outputShape)
        #expect(shapes == [[1, 96, 55, 55], [1, 96, 27, 27], [1, 256, 27, 27], [1, 256, 13, 13], [1, 384, 13, 13],
                           [1, 384, 13, 13], [1, 256, 13, 13], [1, 256, 6, 6], [1, 4096], [1, 4096], [1, 1000]])
        original.eval()
        let y = withoutGradients { original(Tensor.randn([1, 3, 224, 224], generator: RandomGenerator(seed: 4))) }
        #expect(y.shape == [1, 1000])
        let features = AlexNet(variant: .original, includeTop: false)
        #expect(features.parameterCount == 3_747_200)
        #expect(ModelSummary(features, inputShape: [3, 224, 224]).outputShape == [1, 256, 6, 6])
    }

    @Test func summaryTableAndSmallModels() throws {
        let s = ModelSummary(ResNet(depth: 18), inputShape: [3, 224, 224])
        let text = s.description
        #expect(text.contains("Total params: 11,689,512"))
        #expect(text.contains("Total mult-adds (G): 1.81"))
        #expect(text.contains("conv1 (Conv2D)"))
        #expect(text.contains("[1, 64, 112, 112]"))
        #expect(text.contains("118,013,952"))  // conv1: 64·112·112 outputs × 3·7·7
        #expect(!s.table(maxDepth: 0).contains("BasicBlock"))
        // The earlier zoo models trace too: LeNet-5's 0.42 M MACs on MNIST.
        let lenet = try ModelZoo.make(ModelSpec(name: "lenet5", inputShape: [1, 28, 28], classes: 10))
        let ls = ModelSummary(lenet, inputShape: [1, 28, 28])
        #expect(ls.totalParameters == 61_706)
        #expect(ls.totalMACs == 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10)
        #expect(!ls.macsIncomplete)
        #expect(ls.outputShape == [1, 10])
        // Names resolve as the command line spells them.
        #expect(try VisionModels.make("resnet50-v1", includeTop: false).parameterCount == 23_508_032)
        #expect(throws: ModelZooError.self) { try VisionModels.make("resnet19") }
    }
}
