import Foundation
import Testing
import Myelin

/// The PyTorch reference values written by scripts/fixtures_conv.py, and the case list
/// (JSON in the file's metadata) that says which op and arguments produced each.
enum ConvFixtures {
    typealias Case = CaseFixtures.Case
    static let file = CaseFixtures(file: "conv.safetensors", script: "fixtures_conv.py", flags: ["bias", "ceil", "count_include_pad"])
    static func tensor(_ name: String) -> Tensor { file.tensor(name) }
    static func has(_ name: String) -> Bool { file.has(name) }
    static func named(_ name: String) -> Case { file.named(name) }
}

/// Element-wise |a − b| ≤ atol + rtol·|b|, reporting the worst element.
func expectConvClose(_ a: Tensor, _ b: Tensor, rtol: Double, atol: Double, _ what: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.shape == b.shape, "\(what): shape \(a.shape), PyTorch \(b.shape)", sourceLocation: sourceLocation)
    guard a.shape == b.shape else { return }
    let x = a.scalars(as: Double.self), y = b.scalars(as: Double.self)
    var worst = 0.0, at = -1
    for i in x.indices {
        let excess = abs(x[i] - y[i]) - (atol + rtol * abs(y[i]))
        if excess > worst || x[i].isNaN != y[i].isNaN { worst = Swift.max(worst, excess); at = i }
    }
    #expect(at < 0, "\(what): element \(at) is \(at >= 0 ? x[at] : 0), PyTorch has \(at >= 0 ? y[at] : 0)",
            sourceLocation: sourceLocation)
}

/// A ReLU layer for the stacks below (activation layers live on another branch).
private final class TestReLU: Module, UnaryLayer {
    func callAsFunction(_ x: Tensor) -> Tensor { x.relu() }
}

/// Deterministic float64 test data in [-1, 1).
private func data(_ shape: [Int], seed: UInt64) -> Tensor {
    Tensor.uniform(shape, low: -1, high: 1, dtype: .float64, generator: RandomGenerator(seed: seed))
}

@Suite struct ConvTests {
    // MARK: Parity with PyTorch

    static let convCases: [String] = ConvFixtures.file.cases.filter { $0.op == "conv2d" }.map(\.name)

    private static func arguments(_ name: String) -> (IntPair, Padding2D, IntPair, Int) {
        let c = ConvFixtures.named(name)
        let padding: Padding2D
        switch c.strings["padding"] {
        case "same": padding = .same
        case "valid": padding = .valid
        default: let p = c.pair("padding"); padding = .symmetric(p.height, p.width)
        }
        return (c.pair("stride"), padding, c.pair("dilation"), c.ints["groups"] ?? 1)
    }

    @Test func fixturesCoverTheRequiredConfigurations() {
        #expect(Self.convCases.count >= 10)
        for required in ["conv_depthwise", "conv_dilation2", "conv_stride2_pad1", "conv_same_3x3", "conv_same_even4", "conv_1x1"] {
            #expect(Self.convCases.contains(required), "missing fixture case \(required)")
        }
    }

    @Test(arguments: convCases, [DType.float64, .float32])
    func conv2dMatchesPyTorch(_ name: String, _ dtype: DType) {
        let (stride, padding, dilation, groups) = Self.arguments(name)
        let x = ConvFixtures.tensor("\(name).input").to(dtype).requiringGrad()
        let w = ConvFixtures.tensor("\(name).weight").to(dtype).requiringGrad()
        let b = ConvFixtures.has("\(name).bias") ? ConvFixtures.tensor("\(name).bias").to(dtype).requiringGrad() : nil
        let y = conv2d(x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups)
        #expect(y.dtype == dtype)
        y.backward(gradient: ConvFixtures.tensor("\(name).grad_output").to(dtype))
        // float64 agrees to rounding; float32 to float32 rounding of sums of ~100 products.
        let (rtol, atol) = dtype == .float64 ? (1e-11, 1e-11) : (2e-5, 2e-5)
        let what = "\(name) (\(dtype))"
        expectConvClose(y, ConvFixtures.tensor("\(name).output"), rtol: rtol, atol: atol, "\(what) output")
        expectConvClose(x.grad ?? Tensor.zeros([0]), ConvFixtures.tensor("\(name).grad_input"), rtol: rtol, atol: atol, "\(what) grad input")
        expectConvClose(w.grad ?? Tensor.zeros([0]), ConvFixtures.tensor("\(name).grad_weight"), rtol: rtol, atol: atol * 10, "\(what) grad weight")
        if let b {
            expectConvClose(b.grad ?? Tensor.zeros([0]), ConvFixtures.tensor("\(name).grad_bias"), rtol: rtol, atol: atol * 10, "\(what) grad bias")
        }
    }

    @Test func lenetStackMatchesPyTorchThroughLoadedStateDict() throws {
        let net = Sequential {
            Conv2D(3, 6, 5); TestReLU(); MaxPool2D(2)
            Conv2D(6, 16, 5); TestReLU(); MaxPool2D(2)
            Flatten()
        }
        var state: [String: Tensor] = [:]
        for key in ["0.weight", "0.bias", "3.weight", "3.bias"] { state[key] = ConvFixtures.tensor("lenet.state.\(key)").to(.float64) }
        let report = try net.loadStateDict(state)
        #expect(report.loaded.sorted() == ["0.bias", "0.weight", "3.bias", "3.weight"])
        let x = ConvFixtures.tensor("lenet.input").to(.float64).requiringGrad()
        let y = net(x)
        #expect(y.shape == [2, 400])
        y.backward(gradient: ConvFixtures.tensor("lenet.grad_output").to(.float64))
        expectConvClose(y, ConvFixtures.tensor("lenet.output"), rtol: 1e-10, atol: 1e-10, "lenet output")
        expectConvClose(x.grad ?? Tensor.zeros([0]), ConvFixtures.tensor("lenet.grad_input"), rtol: 1e-10, atol: 1e-10, "lenet grad input")
        // The layers' parameters are float32: their gradients are computed in float64 and stored rounded.
        let params = Dictionary(uniqueKeysWithValues: net.namedParameters())
        for key in ["0.weight", "0.bias", "3.weight", "3.bias"] {
            #expect(params[key]?.grad?.dtype == .float32)
            expectConvClose(params[key]?.grad ?? Tensor.zeros([0]), ConvFixtures.tensor("lenet.grad.\(key)"),
                            rtol: 1e-6, atol: 1e-6, "lenet grad \(key)")
        }
    }

    // MARK: Gradient checks (float64, finite differences)

    struct GradCase: CustomTestStringConvertible, Sendable {
        var n = 2, c = 2, h = 5, w = 5, o = 3, k = IntPair(3)
        var stride: IntPair = 1, padding: Padding2D = 0, dilation: IntPair = 1, groups = 1, bias = true
        let label: String
        var testDescription: String { label }
    }

    static let gradCases: [GradCase] = [
        GradCase(label: "3×3 plain with bias"),
        GradCase(stride: 2, padding: 1, label: "stride 2, padding 1"),
        GradCase(h: 7, w: 6, k: [2, 3], stride: [2, 1], padding: [1, 0], bias: false, label: "rectangular, no bias"),
        GradCase(h: 7, w: 7, dilation: 2, label: "dilation 2"),
        GradCase(c: 4, o: 2, padding: 1, groups: 2, label: "groups 2"),
        GradCase(c: 3, o: 3, padding: 1, groups: 3, label: "depthwise"),
        GradCase(h: 5, w: 6, k: 4, padding: .same, label: ".same with an even kernel"),
        GradCase(c: 4, o: 3, k: 1, label: "1×1 fast path"),
        GradCase(c: 4, o: 4, k: 1, groups: 2, bias: false, label: "1×1 grouped"),
        GradCase(c: 3, o: 2, k: 1, stride: 2, padding: 1, label: "1×1 stride 2 padded"),
    ]

    @Test(arguments: gradCases)
    func conv2dGradients(_ t: GradCase) {
        let x = data([t.n, t.c, t.h, t.w], seed: 1)
        let w = data([t.o, t.c / t.groups, t.k.height, t.k.width], seed: 2)
        var inputs = [x, w]
        if t.bias { inputs.append(data([t.o], seed: 3)) }
        let result = checkGradients(inputs) { v in
            conv2d(v[0], weight: v[1], bias: v.count > 2 ? v[2] : nil, stride: t.stride, padding: t.padding,
                   dilation: t.dilation, groups: t.groups)
        }
        #expect(result.passed, "\(t.label): \(result)")
    }

    @Test func gradientsOnlyWhereNeeded() {
        // A frozen weight and a data input: only the bias gets a gradient, and backward still runs.
        let x = data([1, 2, 4, 4], seed: 4), w = data([3, 2, 3, 3], seed: 5)
        let b = data([3], seed: 6).requiringGrad()
        conv2d(x, weight: w, bias: b).sum().backward()
        #expect(b.grad?.scalars(as: Double.self) == [4, 4, 4])
        #expect(x.grad == nil && w.grad == nil)
    }

    @Test func batchMatchesImageByImage() {
        // A batch large enough to be spread over the cores: each worker accumulates its own
        // partial weight gradient, and the partials are summed. Single-image calls are the reference.
        let x = data([5, 3, 20, 20], seed: 11), w = data([2, 3, 5, 5], seed: 12), b = data([2], seed: 13)
        let gy = data([5, 2, 18, 18], seed: 14)
        func run(_ x: Tensor, _ gy: Tensor) -> (Tensor, Tensor, Tensor, Tensor) {
            let (xv, wv, bv) = (x.requiringGrad(), w.requiringGrad(), b.requiringGrad())
            let y = conv2d(xv, weight: wv, bias: bv, padding: 1)
            y.backward(gradient: gy)
            return (y, xv.grad ?? Tensor.zeros([0]), wv.grad ?? Tensor.zeros([0]), bv.grad ?? Tensor.zeros([0]))
        }
        let (y, dx, dw, db) = run(x, gy)
        var dwSum = Tensor.zeros(w.shape, dtype: .float64), dbSum = Tensor.zeros([2], dtype: .float64)
        for n in 0..<5 {
            let (yn, dxn, dwn, dbn) = run(x[n..<(n + 1)], gy[n..<(n + 1)])
            expectConvClose(y[n..<(n + 1)], yn, rtol: 1e-12, atol: 1e-12, "output of image \(n)")
            expectConvClose(dx[n..<(n + 1)], dxn, rtol: 1e-12, atol: 1e-12, "grad input of image \(n)")
            dwSum = dwSum + dwn
            dbSum = dbSum + dbn
        }
        expectConvClose(dw, dwSum, rtol: 1e-10, atol: 1e-10, "grad weight")
        expectConvClose(db, dbSum, rtol: 1e-10, atol: 1e-10, "grad bias")
    }

    // MARK: Shapes and values

    @Test func outputShapes() {
        let x = Tensor.zeros([2, 3, 32, 32])
        #expect(conv2d(x, weight: Tensor.zeros([6, 3, 5, 5])).shape == [2, 6, 28, 28])
        #expect(conv2d(x, weight: Tensor.zeros([8, 3, 3, 3]), stride: 2, padding: 1).shape == [2, 8, 16, 16])
        #expect(conv2d(x, weight: Tensor.zeros([8, 3, 3, 3]), padding: .same).shape == [2, 8, 32, 32])
        #expect(conv2d(x, weight: Tensor.zeros([8, 3, 4, 4]), padding: .same).shape == [2, 8, 32, 32])
        #expect(conv2d(x, weight: Tensor.zeros([8, 3, 3, 3]), padding: .valid).shape == [2, 8, 30, 30])
        #expect(conv2d(x, weight: Tensor.zeros([4, 3, 3, 3]), dilation: 2).shape == [2, 4, 28, 28])
        #expect(conv2d(x, weight: Tensor.zeros([3, 1, 3, 3]), padding: 1, groups: 3).shape == [2, 3, 32, 32])
        #expect(conv2d(x, weight: Tensor.zeros([5, 3, 1, 1])).shape == [2, 5, 32, 32])
        #expect(conv2d(x, weight: Tensor.zeros([5, 3, 3, 5]), stride: [1, 2], padding: [1, 2]).shape == [2, 5, 32, 16])
        #expect(conv2d(Tensor.zeros([3, 10, 10]), weight: Tensor.zeros([2, 3, 3, 3])).shape == [2, 8, 8])
        #expect(conv2d(Tensor.zeros([0, 3, 10, 10]), weight: Tensor.zeros([2, 3, 3, 3])).shape == [0, 2, 8, 8])
    }

    @Test func handComputedValues() throws {
        // 1×1 input channel, 3×3 image 1...9, 2×2 kernel of ones: each output sums a 2×2 window.
        let x = Tensor((1...9).map(Double.init), shape: [1, 1, 3, 3])
        let y = conv2d(x, weight: Tensor.ones([1, 1, 2, 2]), bias: Tensor([10.0]))
        #expect(y.scalars() == [22, 26, 34, 38])
        // Padding 1 and stride 2: the corners see one, two or four pixels.
        let z = conv2d(x, weight: Tensor.ones([1, 1, 2, 2]), stride: 2, padding: 1)
        #expect(z.scalars() == [1, 5, 11, 28])
        // A 1×1 convolution mixes channels per pixel: [[1, 2]] · [a; b].
        let two = Tensor([1.0, 2, 3, 4, 10, 20, 30, 40], shape: [1, 2, 2, 2])
        #expect(conv2d(two, weight: Tensor([1.0, 2], shape: [1, 2, 1, 1])).scalars() == [21, 42, 63, 84])
    }

    @Test func lenetStackGives400Features() {
        let net = Sequential {
            Conv2D(3, 6, 5); TestReLU(); MaxPool2D(2)
            Conv2D(6, 16, 5); TestReLU(); MaxPool2D(2)
            Flatten()
        }
        #expect(net(Tensor.zeros([4, 3, 32, 32])).shape == [4, 400])
        #expect(net.parameterCount == 6 * 3 * 25 + 6 + 16 * 6 * 25 + 16)
        #expect(net.namedParameters().map(\.0) == ["0.weight", "0.bias", "3.weight", "3.bias"])
    }

    @Test func conv2DLayerInitialisesAsPyTorch() {
        let conv = Conv2D(4, 8, [3, 5], groups: 2, generator: RandomGenerator(seed: 7))
        #expect(conv.weight.shape == [8, 2, 3, 5])
        #expect(conv.bias?.shape == [8])
        let bound = 1 / (2.0 * 3 * 5).squareRoot()
        let w = conv.weight.scalars(as: Double.self), b = conv.bias?.value.scalars(as: Double.self) ?? []
        #expect(w.allSatisfy { abs($0) <= bound } && b.allSatisfy { abs($0) <= bound })
        #expect(w.max()! > bound * 0.8 && w.min()! < -bound * 0.8, "spread over the whole range")
        #expect(Conv2D(3, 6, 5, bias: false).namedParameters().map(\.0) == ["weight"])
        // The same seed gives the same weights.
        #expect(Conv2D(4, 8, [3, 5], groups: 2, generator: RandomGenerator(seed: 7)).weight.scalars() == conv.weight.scalars())
    }

    @Test func conv2DLayerAppliesItsArguments() {
        let conv = Conv2D(2, 4, 3, stride: 2, padding: 1, groups: 2)
        let x = data([1, 2, 9, 9], seed: 8).to(.float32)
        let expected = conv2d(x, weight: conv.weight, bias: conv.bias?.value, stride: 2, padding: 1, groups: 2)
        #expect(conv(x).shape == [1, 4, 5, 5])
        #expect(conv(x).scalars() == expected.scalars())
        #expect(conv.layerDescription == "Conv2D(2 → 4, 3×3, stride 2, padding 1, groups 2)")
    }

    // MARK: Misuse

    @Test func wrongChannelCountNamesLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Conv2D(3, 6, 5)(Tensor.zeros([2, 1, 32, 32]))
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("Conv2D(3 → 6, 5×5): input has 1 channels, expected 3 (input shape [2, 1, 32, 32])"), "stderr: \(err)")
    }

    @Test func inputSmallerThanKernelIsNamed() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Conv2D(1, 1, 5)(Tensor.zeros([1, 1, 4, 4]))
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("Conv2D(1 → 1, 5×5): input 4×4 is smaller than the kernel 5×5"), "stderr: \(err)")
    }

    @Test func functionalShapeErrorsNameOpAndShapes() async {
        let channels = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = conv2d(Tensor.zeros([1, 4, 8, 8]), weight: Tensor.zeros([6, 3, 3, 3]))
        }
        let e1 = String(decoding: channels?.standardErrorContent ?? [], as: UTF8.self)
        #expect(e1.contains("conv2d: input [1, 4, 8, 8] has 4 channels but weight [6, 3, 3, 3] expects 3"), "stderr: \(e1)")
        let same = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = conv2d(Tensor.zeros([1, 3, 8, 8]), weight: Tensor.zeros([6, 3, 3, 3]), stride: 2, padding: .same)
        }
        let e2 = String(decoding: same?.standardErrorContent ?? [], as: UTF8.self)
        #expect(e2.contains("conv2d: padding .same needs stride 1"), "stderr: \(e2)")
        let groups = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = conv2d(Tensor.zeros([1, 4, 8, 8]), weight: Tensor.zeros([3, 2, 3, 3]), groups: 2)
        }
        let e3 = String(decoding: groups?.standardErrorContent ?? [], as: UTF8.self)
        #expect(e3.contains("conv2d: groups 2 must divide"), "stderr: \(e3)")
    }
}
