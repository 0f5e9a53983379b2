import Myelin
import Testing

/// The recurrent layers' scan: the batch's rows split between threads for the whole time loop,
/// W_hh packed once, and the sparse (one-hot) input projection, against the float64 reference
/// path and against each other.
@Suite("Recurrent scan", .serialized)
struct RecurrentScanTests {
    /// Output, final states, input gradient (when the input takes one) and every parameter gradient.
    func run(_ layer: RecurrentLayer, _ x: Tensor, dtype: DType, lengths: [Int]?, inputGrad: Bool = true) -> [Tensor] {
        for p in layer.parameters() { p.grad = nil }
        let input = inputGrad ? x.to(dtype).requiringGrad() : x.to(dtype)
        let out = layer(input, state: nil, lengths: lengths)
        let weights = Tensor.linspace(0.5, 1.5, count: out.output.shape.last ?? 1, dtype: dtype)
        let loss = (out.output * weights).sin().sum() + out.hN.square().sum() + (out.cN?.sum() ?? Tensor.zeros([], dtype: dtype))
        loss.backward()
        var all = [out.output.to(.float64), out.hN.to(.float64)] + (out.cN.map { [$0.to(.float64)] } ?? [])
        if inputGrad { all.append(input.grad!.to(.float64)) }
        return all + layer.parameters().map { $0.grad!.to(.float64) }
    }

    func expectClose(_ a: [Tensor], _ b: [Tensor], _ tolerance: Double, _ what: String) {
        #expect(a.count == b.count)
        for (k, (x, y)) in zip(a, b).enumerated() {
            #expect(x.shape == y.shape)
            let err = (x - y).abs().max().itemDouble()
            let scale = Swift.max(1, y.abs().max().itemDouble())
            #expect(err / scale < tolerance, "\(what): tensor \(k) differs by \(err) at scale \(scale)")
        }
    }

    func withThreads<R>(_ n: Int, _ body: () -> R) -> R {
        let saved = Threading.threadCount
        Threading.threadCount = n
        defer { Threading.threadCount = saved }
        return body()
    }

    /// A batch of 19 (row blocks of 9 and 10 with 2 threads), odd hidden size, lengths, both
    /// directions: 1 and 2 threads agree with each other and with the float64 reference.
    @Test(arguments: [RecurrentMode.lstm, .gru, .rnnTanh])
    func threadsAgreeWithTheReference(mode: RecurrentMode) {
        let g = RandomGenerator(seed: 11)
        let layer: RecurrentLayer = switch mode {
        case .lstm: LSTM(inputSize: 5, hiddenSize: 13, numLayers: 2, bidirectional: true, generator: g)
        case .gru: GRU(inputSize: 5, hiddenSize: 13, numLayers: 2, bidirectional: true, generator: g)
        default: RNN(inputSize: 5, hiddenSize: 13, numLayers: 2, bidirectional: true, generator: g)
        }
        let x = Tensor.randn([6, 19, 5], generator: RandomGenerator(seed: 12))
        let lengths = (0..<19).map { 1 + ($0 * 7) % 6 }
        let reference = run(layer, x, dtype: .float64, lengths: lengths)
        let one = withThreads(1) { run(layer, x, dtype: .float32, lengths: lengths) }
        let two = withThreads(2) { run(layer, x, dtype: .float32, lengths: lengths) }
        expectClose(one, reference, 2e-5, "\(mode) float32, 1 thread vs float64")
        expectClose(two, reference, 2e-5, "\(mode) float32, 2 threads vs float64")
        expectClose(two, one, 1e-6, "\(mode) 2 threads vs 1 thread")
        let twoDouble = withThreads(2) { run(layer, x, dtype: .float64, lengths: lengths) }
        expectClose(twoDouble, reference, 1e-12, "\(mode) float64, 2 threads vs 1 thread")
    }

    /// A one-hot input (the W6 character LSTM's) takes the sparse projection; the same input with
    /// every zero nudged to 1e-20 takes the dense GEMM. Both give the same outputs and gradients.
    @Test func oneHotInputMatchesTheDensePath() {
        let lstm = LSTM(inputSize: 23, hiddenSize: 16, numLayers: 2, generator: RandomGenerator(seed: 13))
        let indices = Tensor((0..<(7 * 17)).map { Int64(($0 * 5 + 3) % 23) }, shape: [7, 17], dtype: .int64)
        let oneHot = indices.oneHot(classes: 23).to(.float32) * 0.75
        let dense = oneHot + 1e-20
        for threads in [1, 2] {
            let sparse = withThreads(threads) { run(lstm, oneHot, dtype: .float32, lengths: nil, inputGrad: false) }
            let full = withThreads(threads) { run(lstm, dense, dtype: .float32, lengths: nil, inputGrad: false) }
            expectClose(sparse, full, 1e-5, "one-hot vs dense input, \(threads) threads")
            let sparseGrad = withThreads(threads) { run(lstm, oneHot, dtype: .float32, lengths: [7, 2, 5, 1, 7, 6, 3, 4, 7, 7, 1, 2, 3, 4, 5, 6, 7]) }
            let fullGrad = withThreads(threads) { run(lstm, dense, dtype: .float32, lengths: [7, 2, 5, 1, 7, 6, 3, 4, 7, 7, 1, 2, 3, 4, 5, 6, 7]) }
            expectClose(sparseGrad, fullGrad, 1e-5, "one-hot vs dense input with lengths and dX, \(threads) threads")
        }
    }

    /// The W6 shape (batch 32 → two row blocks of 16, the 8-row GEMM tile, one-hot input, no bias
    /// on one layer) against float64, at 1 and 2 threads.
    @Test func characterLSTMShape() {
        let lstm = LSTM(inputSize: 65, hiddenSize: 24, numLayers: 2, bias: false, generator: RandomGenerator(seed: 14))
        let indices = Tensor((0..<(9 * 32)).map { Int64(($0 * 11 + 1) % 65) }, shape: [9, 32], dtype: .int64)
        let x = indices.oneHot(classes: 65).to(.float32)
        let reference = run(lstm, x, dtype: .float64, lengths: nil, inputGrad: false)
        for threads in [1, 2] {
            let got = withThreads(threads) { run(lstm, x, dtype: .float32, lengths: nil, inputGrad: false) }
            expectClose(got, reference, 2e-5, "char LSTM shape, \(threads) threads")
        }
    }
}
