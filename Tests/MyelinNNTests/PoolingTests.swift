import Foundation
import Testing
import Myelin

/// Deterministic float64 test data in [-1, 1).
private func data(_ shape: [Int], seed: UInt64) -> Tensor {
    Tensor.uniform(shape, low: -1, high: 1, dtype: .float64, generator: RandomGenerator(seed: seed))
}

@Suite struct PoolingTests {
    static let poolCases: [String] = ConvFixtures.file.cases.filter { $0.op != "conv2d" }.map(\.name)

    /// Runs fixture case `name` through the op it names.
    private static func run(_ name: String, _ x: Tensor) -> Tensor {
        let c = ConvFixtures.named(name)
        switch c.op {
        case "maxPool2d":
            return maxPool2d(x, kernelSize: c.pair("kernel"), stride: c.pair("stride"),
                             padding: c.pair("padding"), dilation: c.pair("dilation"),
                             ceilMode: c.bools["ceil"] ?? false)
        case "avgPool2d":
            return avgPool2d(x, kernelSize: c.pair("kernel"), stride: c.pair("stride"),
                             padding: c.pair("padding"), ceilMode: c.bools["ceil"] ?? false,
                             countIncludePad: c.bools["count_include_pad"] ?? true)
        case "adaptiveAvgPool2d":
            return adaptiveAvgPool2d(x, outputSize: c.pair("output"))
        case "globalAvgPool":
            return globalAvgPool(x)
        default:
            fatalError("unknown op \(c.op)")
        }
    }

    @Test func fixturesCoverEveryPooling() {
        let ops = Set(ConvFixtures.file.cases.map(\.op))
        #expect(ops.isSuperset(of: ["maxPool2d", "avgPool2d", "adaptiveAvgPool2d", "globalAvgPool"]))
        #expect(Self.poolCases.count >= 10)
    }

    @Test(arguments: poolCases, [DType.float64, .float32])
    func poolingMatchesPyTorch(_ name: String, _ dtype: DType) {
        let x = ConvFixtures.tensor("\(name).input").to(dtype).requiringGrad()
        let y = Self.run(name, x)
        #expect(y.dtype == dtype)
        y.backward(gradient: ConvFixtures.tensor("\(name).grad_output").to(dtype))
        let tol = dtype == .float64 ? 1e-12 : 1e-6
        expectConvClose(y, ConvFixtures.tensor("\(name).output"), rtol: tol, atol: tol, "\(name) (\(dtype)) output")
        expectConvClose(x.grad ?? Tensor.zeros([0]), ConvFixtures.tensor("\(name).grad_input"), rtol: tol, atol: tol,
                        "\(name) (\(dtype)) grad input")
    }

    // MARK: Gradient checks

    struct PoolCase: CustomTestStringConvertible, Sendable {
        let label: String
        let shape: [Int]
        let f: @Sendable (Tensor) -> Tensor
        var testDescription: String { label }
    }

    static let gradCases: [PoolCase] = [
        PoolCase(label: "maxPool2d 2", shape: [2, 2, 4, 4]) { maxPool2d($0, kernelSize: 2) },
        PoolCase(label: "maxPool2d 3 stride 2 padding 1", shape: [1, 2, 5, 5]) { maxPool2d($0, kernelSize: 3, stride: 2, padding: 1) },
        PoolCase(label: "maxPool2d overlapping, dilation 2, ceil", shape: [1, 2, 6, 7]) {
            maxPool2d($0, kernelSize: [2, 3], stride: 1, padding: 1, dilation: 2, ceilMode: true)
        },
        PoolCase(label: "avgPool2d 2", shape: [2, 2, 4, 4]) { avgPool2d($0, kernelSize: 2) },
        PoolCase(label: "avgPool2d 3 stride 2 padding 1 ceil", shape: [1, 2, 6, 5]) {
            avgPool2d($0, kernelSize: 3, stride: 2, padding: 1, ceilMode: true)
        },
        PoolCase(label: "avgPool2d excluding padding", shape: [1, 2, 5, 5]) {
            avgPool2d($0, kernelSize: 3, stride: 1, padding: 1, countIncludePad: false)
        },
        PoolCase(label: "adaptiveAvgPool2d 5×7 → 3×2", shape: [2, 2, 5, 7]) { adaptiveAvgPool2d($0, outputSize: [3, 2]) },
        PoolCase(label: "adaptiveAvgPool2d upsampling 3 → 4", shape: [1, 1, 3, 3]) { adaptiveAvgPool2d($0, outputSize: 4) },
        PoolCase(label: "globalAvgPool", shape: [2, 3, 3, 4]) { globalAvgPool($0) },
    ]

    @Test(arguments: gradCases)
    func poolingGradients(_ t: PoolCase) {
        // Distinct values (a shuffled ramp plus noise) so max pooling has no ties to break.
        let n = t.shape.reduce(1, *)
        let x = Tensor((0..<n).map { Double(($0 * 7919) % n) / Double(n) }, shape: t.shape).to(.float64) + data(t.shape, seed: 3) * 1e-3
        let result = checkGradients([x]) { t.f($0[0]) }
        #expect(result.passed, "\(t.label): \(result)")
    }

    // MARK: Values and shapes

    @Test func maxPoolValuesAndRouting() {
        let x = Tensor((1...16).map(Double.init), shape: [1, 1, 4, 4]).requiringGrad()
        let y = maxPool2d(x, kernelSize: 2)
        #expect(y.scalars() == [6, 8, 14, 16])
        y.sum().backward()
        #expect(x.grad?.scalars() == [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1])
        // Overlapping windows route to a shared maximum twice.
        let z = Tensor([0.0, 9, 0, 0, 0, 0, 0, 0, 0], shape: [1, 1, 3, 3]).requiringGrad()
        maxPool2d(z, kernelSize: 2, stride: 1).sum().backward()
        #expect(z.grad?.scalars()[1] == 2)
        // NaN wins its window, as in PyTorch.
        let withNaN = Tensor([1.0, .nan, 3, 4], shape: [1, 1, 2, 2]).requiringGrad()
        let nan = maxPool2d(withNaN, kernelSize: 2)
        #expect(nan.scalars()[0].isNaN)
        nan.sum().backward()
        #expect(withNaN.grad?.scalars() == [0, 1, 0, 0], "the gradient goes to the NaN")
        // Ties: the first maximum in row-major window order takes the gradient, as in PyTorch.
        let tie = Tensor([5.0, 5, 1, 5], shape: [1, 1, 2, 2]).requiringGrad()
        maxPool2d(tie, kernelSize: 2).sum().backward()
        #expect(tie.grad?.scalars() == [1, 0, 0, 0])
        // Padding is −∞, not 0: an all-negative image keeps its values.
        let neg = maxPool2d(Tensor([-1.0, -2, -3, -4], shape: [1, 1, 2, 2]), kernelSize: 2, stride: 1, padding: 1)
        #expect(neg.scalars() == [-1, -1, -2, -1, -1, -2, -3, -3, -4])
    }

    @Test func avgPoolValues() {
        let x = Tensor((1...16).map(Double.init), shape: [1, 1, 4, 4])
        #expect(avgPool2d(x, kernelSize: 2).scalars() == [3.5, 5.5, 11.5, 13.5])
        // Padding counts as zeros by default; excluded it averages the real pixels only.
        let ones = Tensor.ones([1, 1, 2, 2])
        #expect(avgPool2d(ones, kernelSize: 2, stride: 1, padding: 1).scalars() == [0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25])
        #expect(avgPool2d(ones, kernelSize: 2, stride: 1, padding: 1, countIncludePad: false).scalars() == [Float](repeating: 1, count: 9))
        #expect(globalAvgPool(x).scalars() == [8.5])
        #expect(globalAvgPool(x, keepDims: true).shape == [1, 1, 1, 1])
        // Adaptive to 1×1 is the global mean; to the input size it is the identity.
        #expect(adaptiveAvgPool2d(x, outputSize: 1).scalars() == [8.5])
        #expect(adaptiveAvgPool2d(x, outputSize: 4).scalars() == x.scalars())
    }

    @Test func outputShapes() {
        let x = Tensor.zeros([2, 3, 28, 28])
        #expect(maxPool2d(x, kernelSize: 2).shape == [2, 3, 14, 14])
        #expect(maxPool2d(x, kernelSize: 3, stride: 2).shape == [2, 3, 13, 13])
        #expect(maxPool2d(x, kernelSize: 3, stride: 2, ceilMode: true).shape == [2, 3, 14, 14])
        #expect(maxPool2d(x, kernelSize: 3, stride: 2, padding: 1).shape == [2, 3, 14, 14])
        #expect(maxPool2d(x, kernelSize: 2, dilation: 2).shape == [2, 3, 13, 13])
        #expect(avgPool2d(x, kernelSize: [2, 4]).shape == [2, 3, 14, 7])
        #expect(avgPool2d(Tensor.zeros([1, 1, 5, 5]), kernelSize: 2, ceilMode: true).shape == [1, 1, 3, 3])
        #expect(adaptiveAvgPool2d(x, outputSize: [7, 3]).shape == [2, 3, 7, 3])
        #expect(globalAvgPool(x).shape == [2, 3])
        #expect(maxPool2d(Tensor.zeros([3, 8, 8]), kernelSize: 2).shape == [3, 4, 4])
    }

    @Test func layersWrapTheFunctions() {
        let x = data([2, 3, 8, 8], seed: 5)
        #expect(MaxPool2D(2)(x).scalars(as: Double.self) == maxPool2d(x, kernelSize: 2).scalars(as: Double.self))
        #expect(MaxPool2D(3, stride: 2, padding: 1)(x).shape == [2, 3, 4, 4])
        #expect(AvgPool2D(2)(x).scalars(as: Double.self) == avgPool2d(x, kernelSize: 2).scalars(as: Double.self))
        #expect(AvgPool2D(3, stride: 1, padding: 1, countIncludePad: false)(x).shape == [2, 3, 8, 8])
        #expect(AdaptiveAvgPool2D([2, 1])(x).shape == [2, 3, 2, 1])
        #expect(GlobalAvgPool2D()(x).shape == [2, 3])
        #expect(GlobalAvgPool2D(keepDims: true)(x).shape == [2, 3, 1, 1])
        #expect(Flatten()(x).shape == [2, 192])
        #expect(Flatten(startAxis: 2)(x).shape == [2, 3, 64])
        #expect(Flatten(startAxis: 0, endAxis: 1)(x).shape == [6, 8, 8])
        #expect(MaxPool2D(2).parameterCount == 0 && Flatten().parameterCount == 0)
        #expect(MaxPool2D(2).layerDescription == "MaxPool2D(2×2)")
    }

    // MARK: Misuse

    @Test func tooSmallInputNamesLayerAndShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = MaxPool2D(3)(Tensor.zeros([1, 1, 2, 2]))
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("MaxPool2D(3×3): input 2×2 is too small") && err.contains("[1, 1, 2, 2]"), "stderr: \(err)")
    }

    @Test func paddingOverHalfTheKernelIsRejected() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = maxPool2d(Tensor.zeros([1, 1, 8, 8]), kernelSize: 2, padding: 2)
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("maxPool2d: padding 2 must be between 0 and half the kernel size 2"), "stderr: \(err)")
    }
}
