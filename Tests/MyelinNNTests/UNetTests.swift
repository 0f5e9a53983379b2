import Foundation
import Myelin
import Testing

/// U-Net against milesial/Pytorch-UNet (written out in scripts/fixtures_detection.py), the
/// paper's shapes and counts, and its summary.
@Suite(.serialized) struct UNetTests {
    /// Loads PyTorch's state by name (strict), then compares the training-mode output, the
    /// gradients of sum(y·r), the batch-norm buffers after that forward, and evaluation mode.
    func checkParity(_ name: String, _ model: UNet) throws {
        try model.loadStateDict(DetectionFixtures.group("\(name).state."))
        model.train()
        let x = DetectionFixtures.tensor("\(name).x").requiringGrad()
        let y = model(x)
        (y * DetectionFixtures.tensor("\(name).r")).sum().backward()
        let tol = (rtol: 1e-4, atol: 1e-5)
        expectClose(y, DetectionFixtures.tensor("\(name).out"), rtol: tol.rtol, atol: tol.atol, "\(name) output")
        expectClose(x.grad, DetectionFixtures.tensor("\(name).grad.x"), rtol: tol.rtol, atol: tol.atol, "\(name) input gradient")
        let grads = DetectionFixtures.group("\(name).grad.")
        #expect(Set(grads.keys.filter { $0 != "x" }) == Set(model.namedParameters().map(\.0)), "\(name): parameter names")
        for (k, p) in model.namedParameters() {
            guard let g = grads[k] else { continue }
            expectClose(p.grad, g, rtol: 1e-3, atol: 1e-4, "\(name) gradient of \(k)")
        }
        let stats = DetectionFixtures.group("\(name).stats.")
        #expect(Set(stats.keys) == Set(model.namedBuffers().map(\.0)), "\(name): buffer names")
        for (k, b) in model.namedBuffers() {
            guard let s = stats[k] else { continue }
            expectClose(b.value, s, rtol: tol.rtol, atol: tol.atol, "\(name) buffer \(k)")
        }
        model.eval()
        let e = withoutGradients { model(DetectionFixtures.tensor("\(name).x")) }
        expectClose(e, DetectionFixtures.tensor("\(name).eval.out"), rtol: tol.rtol, atol: tol.atol, "\(name) eval output")
        #expect(ModelSummary(model, inputShape: Array(x.shape.dropFirst()), batchSize: 2).outputShape == y.shape)
    }

    @Test func sameBatchNormMatchesMilesial() throws {
        // 20×22 input: 10×11, 5×5, 2×2 on the way down, so two up-steps pad a row or column.
        let model = UNet(classes: 2, inputChannels: 3, baseWidth: 4, depth: 3)
        try checkParity("unet_same_bn", model)
        #expect(model(Tensor.zeros([1, 3, 20, 22])).shape == [1, 2, 20, 22])
    }

    @Test func bilinearMatchesMilesial() throws {
        try checkParity("unet_bilinear", UNet(classes: 3, inputChannels: 2, baseWidth: 4, depth: 2, upsampling: .bilinear))
    }

    @Test func validMatchesThePaperWithCentreCrops() throws {
        // 45×44: valid convolutions shrink every level; an odd difference crops ⌊d/2⌋ at the top.
        let model = UNet(classes: 2, inputChannels: 1, baseWidth: 2, depth: 2, padding: .valid, batchNorm: false)
        try checkParity("unet_valid", model)
        #expect(model.outputSize(for: 45) == 4 && model.outputSize(for: 44) == 4)
    }

    @Test func namesFollowMilesial() {
        let state = UNet(classes: 2, baseWidth: 4).stateDict()
        #expect(state["inc.double_conv.0.weight"]?.shape == [4, 3, 3, 3])
        #expect(state["inc.double_conv.1.running_mean"]?.shape == [4])
        #expect(state["inc.double_conv.0.bias"] == nil)  // bias-free before batch norm
        #expect(state["down1.maxpool_conv.1.double_conv.0.weight"]?.shape == [8, 4, 3, 3])
        #expect(state["down4.maxpool_conv.1.double_conv.3.weight"]?.shape == [64, 64, 3, 3])
        #expect(state["up1.up.weight"]?.shape == [64, 32, 2, 2])
        #expect(state["up1.up.bias"]?.shape == [32])
        #expect(state["up1.conv.double_conv.0.weight"]?.shape == [32, 64, 3, 3])
        #expect(state["up4.conv.double_conv.4.running_var"]?.shape == [4])
        #expect(state["outc.conv.weight"]?.shape == [2, 4, 1, 1])
        let paper = UNet.paper(classes: 2, includeTop: false).stateDict()
        #expect(paper["inc.double_conv.2.bias"]?.shape == [64])
        #expect(paper["outc.conv.weight"] == nil)
    }

    @Test func papersShapesAndCounts() {
        // The paper's network: 572×572 → 388×388, 31,030,658 parameters (PyTorch gives the same).
        let paper = UNet.paper()
        #expect(paper.parameterCount == 31_030_658)
        #expect(DetectionFixtures.int("unet_paper_params") == 31_030_658)
        #expect(paper.outputSize(for: 572) == 388)
        let s = ModelSummary(paper, inputShape: [1, 572, 572])
        #expect(s.outputShape == [1, 2, 388, 388])
        #expect(!s.macsIncomplete)
        // The paper's figure 1, level by level.
        let shapes = Dictionary(uniqueKeysWithValues: s.layers.map { ($0.name, $0.outputShape) })
        #expect(shapes["inc"] == [1, 64, 568, 568])
        #expect(shapes["down1"] == [1, 128, 280, 280])
        #expect(shapes["down2"] == [1, 256, 136, 136])
        #expect(shapes["down3"] == [1, 512, 64, 64])
        #expect(shapes["down4"] == [1, 1024, 28, 28])
        #expect(shapes["up1.up"] == [1, 512, 56, 56])
        #expect(shapes["up1"] == [1, 512, 52, 52])
        #expect(shapes["up4.up"] == [1, 64, 392, 392])
        #expect(shapes["up4.conv"] == [1, 64, 388, 388])
        // A transposed convolution counts in·(out/groups)·kh·kw per input pixel, as PyTorch's tools.
        let up = s.layers.first { $0.name == "up1.up" }
        #expect(up?.macs == 1024 * 28 * 28 * 512 * 4)
        // milesial's defaults (batch norm, same padding) and its bilinear variant.
        // Multiply-accumulates as PyTorch forward hooks count them (transposed convolutions per input pixel).
        #expect(s.totalMACs == 150_428_424_448)
        let milesial = UNet(classes: 2)
        #expect(milesial.parameterCount == 31_037_698)
        #expect(ModelSummary(milesial, inputShape: [3, 224, 224]).totalMACs == 36_881_367_040)
        #expect(UNet(classes: 2, upsampling: .bilinear).parameterCount == 17_263_042)
        #expect(DetectionFixtures.int("unet_milesial_params") == 31_037_698)
        #expect(DetectionFixtures.int("unet_milesial_bilinear_params") == 17_263_042)
        #expect(ModelSummary(UNet(classes: 5), inputShape: [3, 64, 48]).outputShape == [1, 5, 64, 48])
    }

    @Test func featureMapsAndRegistry() throws {
        let features = UNet(classes: 3, inputChannels: 1, baseWidth: 4, depth: 2, includeTop: false)
        features.eval()
        let y = withoutGradients { features(Tensor.randn([1, 1, 12, 12], generator: RandomGenerator(seed: 1))) }
        #expect(y.shape == [1, 4, 12, 12])
        #expect(UNet.minimumInputSize(depth: 4, padding: .same) == 16)
        let paperMin = UNet.minimumInputSize(depth: 4, padding: .valid)
        #expect(UNet.outputSize(for: paperMin, depth: 4, padding: .valid) != nil)
        #expect(UNet.outputSize(for: paperMin - 1, depth: 4, padding: .valid) == nil)
        #expect(VisionModels.entry("unet-paper")?.minimumSize == paperMin)
        let net = try VisionModels.make("unet", classes: 4, inputShape: [1, 32, 32])
        #expect(ModelSummary(net, inputShape: [1, 32, 32]).outputShape == [1, 4, 32, 32])
        #expect(throws: ModelZooError.self) { try VisionModels.make("unet-paper", inputShape: [1, paperMin - 1, paperMin - 1]) }
    }

    @Test func summaryTracesTheNewLayersWithoutRunningThem() {
        let model = Sequential {
            ZeroPad2D(left: 1, right: 2, top: 0, bottom: 1)
            Upsample(scaleFactor: 1.5, mode: .bilinear)
            LocalResponseNorm(3)
            ConvTranspose2D(4, 6, 3, stride: 2, padding: 1, outputPadding: 1, groups: 2)
            LeakyReLU(negativeSlope: 0.1)
            Upsample(size: [7, 9])
        }
        let s = ModelSummary(model, inputShape: [4, 5, 5], batchSize: 2)
        let y = withoutGradients { model(Tensor.randn([2, 4, 5, 5], generator: RandomGenerator(seed: 5))) }
        #expect(s.outputShape == y.shape)
        #expect(s.layers.map(\.outputShape).dropFirst() == [[2, 4, 6, 8], [2, 4, 9, 12], [2, 4, 9, 12], [2, 6, 18, 24], [2, 6, 18, 24], [2, 6, 7, 9]])
        // Transposed convolution: every input element meets (6 / 2)·3·3 weights.
        #expect(s.layers[4].macs == 2 * 4 * 9 * 12 * 3 * 9)
        #expect(!s.macsIncomplete)
    }

    @Test func tooSmallInputStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = UNet(classes: 2, baseWidth: 2, depth: 3)(Tensor.zeros([1, 3, 7, 16]))
        }
        #expect(stopMessage(result).contains("at least 8"))
    }
}
