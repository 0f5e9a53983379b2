import Foundation
import Testing
import Myelin

/// The small-image CNNs: VGG-style and the CIFAR ResNets, against PyTorch
/// (scripts/torch_small_nets.py; fixtures by scripts/fixtures_nn.py).
@Suite struct SmallNetTests {
    @Test func smallVGGMatchesPyTorch() throws {
        let net = SmallVGG(classes: 3, inputChannels: 1, widths: [4, 8], hidden: 16, dropout: 0)
        // After 3 SGD steps (lr 0.1) float32 rounding differences have grown to ~1e-3 in a few eval gradients.
        try checkLayerCase("vgg_small", net, rtol: 1e-4, atol: 1e-5, evalTolerance: (3e-3, 1e-4))
    }

    @Test func cifarResNetsMatchPyTorch() throws {
        try checkLayerCase("resnet8_narrow", CIFARResNet(depth: 8, classes: 3, inputChannels: 2, widths: [4, 8, 16]), rtol: 1e-4, atol: 1e-5,
                           evalTolerance: (3e-3, 1e-4))
        // Eval gradients of up to 63 in magnitude: PyTorch's own float32 values differ from
        // its float64 ones by up to 2e-4 in absolute terms after the 3 steps (ours are closer).
        try checkLayerCase("resnet14_narrow", CIFARResNet(depth: 14, classes: 4, inputChannels: 3, widths: [2, 4, 8]), rtol: 1e-4, atol: 1e-5,
                           evalTolerance: (3e-3, 1e-3))
    }

    /// The paper's table 6: 0.27 M, 0.46 M, 0.66 M, 0.85 M, 1.7 M (exact counts from PyTorch).
    @Test(arguments: [(20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018), (110, 1_727_962)])
    func cifarResNetParameterCounts(_ depth: Int, _ count: Int) throws {
        let net = try VisionModels.make("resnet\(depth)", classes: 10, inputShape: [3, 32, 32])
        #expect(net.parameterCount == count)
    }

    @Test func summaryFigures() throws {
        let resnet20 = ModelSummary(CIFARResNet(depth: 20), inputShape: [3, 32, 32])
        // The paper: "41 million FLOPs" (multiply-adds) for ResNet-20.
        #expect(resnet20.totalMACs == 40_551_040, "\(resnet20.totalMACs)")
        #expect(!resnet20.macsIncomplete)
        #expect(resnet20.outputShape == [1, 10])
        let vgg = ModelSummary(SmallVGG(classes: 10, inputChannels: 1), inputShape: [1, 28, 28])
        #expect(vgg.totalParameters == 322_474 && vgg.totalMACs == 29_162_496)
        #expect(try VisionModels.make("vgg-small", classes: 10, inputShape: [3, 32, 32]).parameterCount == 323_050)
    }

    @Test func optionBProjectsTheShortcut() {
        let a = CIFARResNet(depth: 20, shortcut: .a), b = CIFARResNet(depth: 20, shortcut: .b)
        // Two projections (16→32, 32→64): 1×1 convolutions plus batch norm.
        #expect(b.parameterCount - a.parameterCount == 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64)
        #expect(b.stateDict()["layer2.0.downsample.0.weight"]?.shape == [32, 16, 1, 1])
        let x = Tensor.randn([2, 3, 16, 16], generator: RandomGenerator(seed: 1))
        #expect(withoutGradients { b(x) }.shape == [2, 10])
    }

    @Test func featureExtractors() {
        let x = Tensor.randn([2, 1, 28, 28], generator: RandomGenerator(seed: 2))
        #expect(withoutGradients { SmallVGG(inputChannels: 1, includeTop: false)(x) }.shape == [2, 128, 3, 3])
        #expect(withoutGradients { CIFARResNet(depth: 20, inputChannels: 1, includeTop: false)(x) }.shape == [2, 64, 7, 7])
    }

    @Test func tooSmallInputsAreRefusedByName() {
        #expect(throws: ModelZooError.self) { try VisionModels.make("vgg-small", inputShape: [1, 7, 7]) }
        do {
            _ = try VisionModels.make("vgg-small", inputShape: [1, 7, 7])
        } catch {
            #expect("\(error)".contains("at least 8×8"))
        }
    }

    @Test func badDepthStops() async {
        await #expect(processExitsWith: .failure) { _ = CIFARResNet(depth: 21) }
    }
}
