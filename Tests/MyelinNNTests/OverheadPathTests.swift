import Testing
import Myelin

/// The short paths of small networks: Linear's direct-GEMM backward, the losses that fuse
/// their mean or sum, and the inline parents of the autograd graph.
@Suite struct OverheadPathTests {
    @Test func linearBackwardOnOddShapes() {
        for (rows, inF, outF) in [(1, 1, 1), (3, 7, 5), (4, 4, 16), (4, 16, 1), (33, 17, 9)] {
            let x = randomDoubles([rows, inF], seed: 11), w = randomDoubles([outF, inF], seed: 12), b = randomDoubles([outF], seed: 13)
            expectGradients([x, w, b], "linear \(rows)x\(inF) -> \(outF)") { linear($0[0], weight: $0[1], bias: $0[2]) }
            expectGradients([x, w], "linear without bias \(rows)x\(inF) -> \(outF)") { linear($0[0], weight: $0[1]) }
        }
    }

    @Test func linearBackwardMatchesMatmulInFloat32() {
        for threads in [1, 2] {
            let saved = Threading.threadCount
            Threading.threadCount = threads
            defer { Threading.threadCount = saved }
            let x = Tensor.randn([37, 19]).requiringGrad(), w = Tensor.randn([11, 19]).requiringGrad()
            let b = Tensor.randn([11]).requiringGrad()
            let g = Tensor.randn([37, 11])
            (linear(x, weight: w, bias: b) * g).sum().backward()
            let xr = x.detached().requiringGrad(), wr = w.detached().requiringGrad(), br = b.detached().requiringGrad()
            ((matmul(xr, wr, transposeB: true) + br) * g).sum().backward()
            expectClose(x.grad, xr.grad!, rtol: 1e-5, atol: 1e-5, "dX, \(threads) threads")
            expectClose(w.grad, wr.grad!, rtol: 1e-5, atol: 1e-5, "dW, \(threads) threads")
            expectClose(b.grad, br.grad!, rtol: 1e-5, atol: 1e-5, "db, \(threads) threads")
        }
    }

    @Test func linearOnAnEmptyBatchGivesZeroWeightGradients() {
        let x = Tensor.zeros([0, 5]).requiringGrad()
        let w = Tensor.randn([3, 5]).requiringGrad(), b = Tensor.randn([3]).requiringGrad()
        let y = linear(x, weight: w, bias: b)
        #expect(y.shape == [0, 3])
        (y.sum() + (w * 0).sum() + (b * 0).sum()).backward()
        #expect(w.grad?.scalars() == [Float](repeating: 0, count: 15))
        #expect(b.grad?.scalars() == [0, 0, 0])
        #expect(x.grad?.shape == [0, 5])
    }

    @Test func binaryCrossEntropyWithoutWeightFusesItsReduction() {
        for shape in [[1], [7], [3, 4]] {
            let p = randomDoubles(shape, seed: 5).sigmoid() * 0.9 + 0.05, y = randomDoubles(shape, seed: 6).sigmoid()
            for red in [LossReduction.mean, .sum, .none] {
                expectGradients([p, y], "bce \(shape) \(red)") { binaryCrossEntropy($0[0], $0[1], reduction: red) }
            }
            // The fused mean/sum equals the per-element losses reduced afterwards.
            let pf = p.to(.float32), yf = y.to(.float32)
            let each = binaryCrossEntropy(pf, yf, reduction: .none)
            expectClose(binaryCrossEntropy(pf, yf), each.mean(), rtol: 1e-6, atol: 1e-7, "bce mean \(shape)")
            expectClose(binaryCrossEntropy(pf, yf, reduction: .sum), each.sum(), rtol: 1e-6, atol: 1e-7, "bce sum \(shape)")
        }
    }

    @Test func fusedLossGradientEqualsTheUnfusedOne() {
        let x = Tensor.randn([5, 3]), t = Tensor.randn([5, 3])
        let a = x.requiringGrad(), b = x.requiringGrad()
        mseLoss(a, t).backward()
        mseLoss(b, t, reduction: .none).mean().backward()
        #expect(a.grad?.scalars() == b.grad?.scalars())
    }

    @Test func opsWithManyInputsStillBackpropagate() {
        // Four and five inputs: the parents beyond the three stored inline.
        let xs = (0..<5).map { randomDoubles([2, 3], seed: UInt64(20 + $0)) }
        expectGradients(xs, "concatenate five") { Tensor.concat($0, axis: 0) }
        expectGradients(Array(xs.prefix(4)), "stack four") { Tensor.stack($0, axis: 1) }
    }
}
