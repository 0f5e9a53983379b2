import Myelin
import Testing

/// The float32 LSTM and GRU steps run fused C kernels (vectorised per ISA); float64 runs
/// the Swift reference loop that the gradient checks verify. Both must agree, forward and
/// backward, with frozen rows (lengths) and in both directions.
@Suite("Recurrent step kernels")
struct RecurrentKernelTests {
    /// Output, input gradient and every parameter gradient of one run at `dtype`.
    func run(_ layer: RecurrentLayer, _ forward: (Tensor) -> RecurrentOutput, _ x: Tensor, dtype: DType) -> [Tensor] {
        for p in layer.parameters() { p.grad = nil }
        let input = x.to(dtype).requiringGrad()
        let out = forward(input)
        // A loss that weighs every output and the final states differently.
        let weights = Tensor.linspace(0.5, 1.5, count: out.output.shape.last ?? 1, dtype: dtype)
        let loss = (out.output * weights).sin().sum() + out.hN.square().sum() + (out.cN?.sum() ?? Tensor.zeros([], dtype: dtype))
        loss.backward()
        return [out.output.to(.float64), input.grad!.to(.float64)] + layer.parameters().map { $0.grad!.to(.float64) }
    }

    static let lengths = [7, 3, 1, 6, 7]

    func expectAgree(_ layer: RecurrentLayer, _ forward: (Tensor) -> RecurrentOutput) {
        let x = Tensor.randn([7, 5, 6], generator: RandomGenerator(seed: 4))  // [T, N, I]
        let single = run(layer, forward, x, dtype: .float32)
        let double = run(layer, forward, x, dtype: .float64)
        #expect(single.count == double.count)
        for (a, b) in zip(single, double) {
            let err = (a - b).abs().max().itemDouble()
            let scale = Swift.max(1, b.abs().max().itemDouble())
            #expect(err / scale < 2e-5, "float32 kernel vs float64 reference: max error \(err) at scale \(scale)")
        }
    }

    @Test func lstmKernelMatchesTheReference() {
        let lstm = LSTM(inputSize: 6, hiddenSize: 19, numLayers: 2, bidirectional: true, generator: RandomGenerator(seed: 1))
        expectAgree(lstm) { lstm($0, lengths: Self.lengths) }
    }

    @Test func gruKernelMatchesTheReference() {
        let gru = GRU(inputSize: 6, hiddenSize: 19, numLayers: 2, bidirectional: true, generator: RandomGenerator(seed: 2))
        expectAgree(gru) { gru($0, lengths: Self.lengths) }
    }
}
