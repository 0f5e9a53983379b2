import Testing
import Myelin

@Suite struct LinearTests {
    @Test(arguments: ["linear", "linear_3d", "linear_nobias"])
    func matchesPyTorch(_ name: String) throws {
        try checkLayerCase(name, Linear(5, 3, bias: name != "linear_nobias"))
    }

    @Test func gradientCheck() {
        let x = randomDoubles([4, 5], seed: 1), w = randomDoubles([3, 5], seed: 2), b = randomDoubles([3], seed: 3)
        expectGradients([x, w, b], "linear") { linear($0[0], weight: $0[1], bias: $0[2]) }
        expectGradients([x.reshaped([2, 2, 5]), w], "linear without bias, 3-D input") { linear($0[0], weight: $0[1]) }
        expectGradients([randomDoubles([5], seed: 4), w, b], "linear on a vector") { linear($0[0], weight: $0[1], bias: $0[2]) }
    }

    @Test func fusedBiasMatchesMatmulPlusBias() {
        let x = Tensor.randn([7, 6]), w = Tensor.randn([4, 6]), b = Tensor.randn([4])
        let fused = linear(x, weight: w, bias: b)
        let reference = matmul(x, w, transposeB: true) + b
        expectClose(fused, reference, rtol: 1e-6, atol: 1e-6, "linear vs matmul + bias")
    }

    @Test func defaultInitIsPyTorchs() {
        let layer = Linear(64, 200, generator: RandomGenerator(seed: 7))
        let bound = 1 / 8.0
        let w = layer.weight.scalars(as: Double.self), b = layer.bias?.value.scalars(as: Double.self) ?? []
        #expect(w.allSatisfy { abs($0) <= bound } && b.allSatisfy { abs($0) <= bound })
        // U(−a, a) has variance a²/3.
        let variance = w.map { $0 * $0 }.reduce(0, +) / Double(w.count)
        #expect(abs(variance - bound * bound / 3) < 0.1 * bound * bound / 3)
        #expect(layer.namedParameters().map(\.0) == ["weight", "bias"])
        #expect(Linear(3, 2, bias: false).parameterCount == 6)
    }

    @Test func wrongInputWidthStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Linear(5, 3)(Tensor.zeros([2, 4]))
        }
        let message = stopMessage(result)
        #expect(message.contains("Linear(5 → 3)") && message.contains("[2, 4]"), "\(message)")
    }
}
