import Foundation
import Testing
import Myelin

@Suite struct LRNTests {
    static let cases = Conv4Fixtures.names(op: "lrn")

    @Test func fixturesCoverEvenOddAndRank3() {
        for required in ["lrn_default5", "lrn_even2", "lrn_rank3", "lrn_wide"] {
            #expect(Self.cases.contains(required), "missing fixture case \(required)")
        }
    }

    @Test(arguments: cases, [DType.float64, .float32])
    func matchesPyTorch(_ name: String, _ dtype: DType) {
        let c = Conv4Fixtures.named(name)
        let layer = LocalResponseNorm(Int(c.number("size")), alpha: c.number("alpha"), beta: c.number("beta"), k: c.number("k"))
        let x = Conv4Fixtures.tensor("\(name).input").to(dtype).requiringGrad()
        let y = layer(x)
        #expect(y.dtype == dtype)
        y.backward(gradient: Conv4Fixtures.tensor("\(name).grad_output").to(dtype))
        let (rtol, atol) = dtype == .float64 ? (1e-11, 1e-12) : (1e-5, 1e-6)
        expectClose(y, Conv4Fixtures.tensor("\(name).output"), rtol: rtol, atol: atol, "\(name) (\(dtype)) output")
        expectClose(x.grad, Conv4Fixtures.tensor("\(name).grad_input"), rtol: rtol, atol: atol, "\(name) (\(dtype)) grad input")
    }

    @Test(arguments: [(5, 0.5, 0.75, 1.0), (2, 0.3, 0.75, 1.0), (3, 0.4, 0.5, 2.0), (1, 1.0, 0.75, 1.0)])
    func gradients(_ size: Int, _ alpha: Double, _ beta: Double, _ k: Double) {
        let x = randomDoubles([2, 5, 2, 3], seed: 21)
        expectGradients([x], "LRN size \(size)") { v in localResponseNorm(v[0], size: size, alpha: alpha, beta: beta, k: k) }
    }

    @Test func handComputedSingleChannelWindow() {
        // size 1, alpha 1: b = a / (1 + a²)^β.
        let x = Tensor([1.0, 2.0], shape: [1, 2, 1, 1]).to(.float64)
        let y = localResponseNorm(x, size: 1, alpha: 1, beta: 0.5, k: 1).scalars(as: Double.self)
        #expect(abs(y[0] - 1 / 2.0.squareRoot()) < 1e-14 && abs(y[1] - 2 / 5.0.squareRoot()) < 1e-14)
        // size 3 on 3 channels: the middle channel sees all three, the ends see two (zero padding).
        let z = localResponseNorm(Tensor([1.0, 2.0, 3.0], shape: [1, 3, 1]).to(.float64), size: 3, alpha: 3, beta: 1, k: 1)
            .scalars(as: Double.self)
        #expect(abs(z[0] - 1.0 / 6) < 1e-14 && abs(z[1] - 2.0 / 15) < 1e-14 && abs(z[2] - 3.0 / 14) < 1e-14)
    }

    @Test func shapeAndDescription() {
        let layer = LocalResponseNorm(5, alpha: 1e-4, beta: 0.75, k: 2)
        #expect(layer(Tensor.ones([2, 96, 5, 5])).shape == [2, 96, 5, 5])
        #expect(layer.parameters().isEmpty)
        #expect(layer.layerDescription == "LocalResponseNorm(5, alpha 0.0001, beta 0.75, k 2.0)")
    }

    @Test func rankTwoInputStopsNamingLayerAndShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LocalResponseNorm(5)(Tensor.zeros([4, 8]))
        }
        let err = stopMessage(result)
        #expect(err.contains("LocalResponseNorm(5, alpha 0.0001, beta 0.75, k 1.0): input must be [N, C, ...] with at least 3 dimensions, got shape [4, 8]"), "stderr: \(err)")
    }
}
