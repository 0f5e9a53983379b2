import Foundation
import Testing
import Myelin

/// TransformerEncoder's inference fast path (real tokens packed, as PyTorch's nested tensors)
/// against the dense path, which runs whenever gradients are recorded for the parameters.
@Suite struct TransformerPackedTests {
    static func encoder(_ activation: TransformerActivation, norm: Bool, heads: Int = 2) -> TransformerEncoder {
        let g = RandomGenerator(seed: 11)
        let enc = TransformerEncoder(count: 2, norm: norm ? LayerNorm(8) : nil) {
            TransformerEncoderLayer(dModel: 8, heads: heads, feedForward: 20, dropout: 0.1, activation: activation, generator: g)
        }
        if let n = enc.norm, let b = n.bias { b.updateInPlace(as: Float.self) { p, n in for i in 0..<n { p[i] = Float(i) / 10 } } }
        enc.eval()
        return enc
    }

    static func paddingMask(_ lengths: [Int], _ l: Int) -> Tensor {
        var v = [Double](repeating: 0, count: lengths.count * l)
        for (b, n) in lengths.enumerated() { for t in n..<l { v[b * l + t] = 1 } }
        return Tensor(v, shape: [lengths.count, l]).to(.bool)
    }

    /// Dense reference: the ordinary path (parameters require gradients, so no fast path),
    /// with padded positions set to zero before the final norm, as PyTorch's fast path returns.
    static func reference(_ enc: TransformerEncoder, _ x: Tensor, _ lengths: [Int]) -> Tensor {
        var y = x
        for layer in enc.layers { y = layer(y, keyPaddingMask: paddingMask(lengths, x.shape[1])) }
        let l = x.shape[1], e = x.shape[2]
        var z = y.detached()
        z.withUnsafeMutablePointer(as: Float.self) { p in
            for (b, n) in lengths.enumerated() { for t in n..<l { for j in 0..<e { p[(b * l + t) * e + j] = 0 } } }
        }
        return enc.norm.map { $0(z) } ?? z
    }

    @Test(arguments: [TransformerActivation.gelu, .relu], [false, true])
    func packedMatchesDense(_ activation: TransformerActivation, _ norm: Bool) {
        for threads in [1, 2] {
            let saved = Threading.threadCount
            Threading.threadCount = threads
            defer { Threading.threadCount = saved }
            let enc = Self.encoder(activation, norm: norm)
            let lengths = [7, 1, 0, 4, 7]
            let x = Tensor.normal([5, 7, 8], generator: RandomGenerator(seed: 3))
            let expected = Self.reference(enc, x, lengths)
            let y = withoutGradients { enc(x, keyPaddingMask: Self.paddingMask(lengths, 7)) }
            expectClose(y, expected, rtol: 1e-5, atol: 2e-6, "packed \(activation) norm \(norm) threads \(threads)")
            // Padded positions: exactly zero, or the final norm of zero (its bias).
            let v = y.scalars(as: Float.self)
            for t in 1..<7 { for j in 0..<8 { #expect(v[(1 * 7 + t) * 8 + j] == (norm ? Float(j) / 10 : 0)) } }
            // Without a mask: every sequence at full length, the same as the dense path.
            let dense = enc.layers.reduce(x) { y, layer in layer(y) }
            let full = withoutGradients { enc(x) }
            expectClose(full, enc.norm.map { $0(dense) } ?? dense, rtol: 1e-5, atol: 2e-6, "no mask")
        }
    }

    /// Shapes large enough that the packed GEMMs split over the threads, by output features
    /// (QKV, linear1) and by tokens (linear2), with odd token counts per worker.
    @Test(arguments: [1, 2, 3])
    func largerShapesSplitOverThreads(_ threads: Int) {
        let saved = Threading.threadCount
        Threading.threadCount = threads
        defer { Threading.threadCount = saved }
        let g = RandomGenerator(seed: 12)
        let enc = TransformerEncoder(count: 2) {
            TransformerEncoderLayer(dModel: 64, heads: 4, feedForward: 160, dropout: 0, activation: .gelu, layerNormEps: 1e-12, generator: g)
        }
        enc.eval()
        let lengths = [30, 27, 25, 19]
        let x = Tensor.normal([4, 30, 64], generator: RandomGenerator(seed: 13))
        let y = withoutGradients { enc(x, keyPaddingMask: Self.paddingMask(lengths, 30)) }
        expectClose(y, Self.reference(enc, x, lengths), rtol: 1e-4, atol: 1e-5, "threads \(threads)")
    }

    @Test func denseWhenNotApplicable() {
        let enc = Self.encoder(.gelu, norm: false)
        let x = Tensor.normal([2, 5, 8], generator: RandomGenerator(seed: 4))
        // Not left-aligned: PyTorch keeps the dense path (values at padded positions), so do we.
        let mask = Tensor([0, 1, 0, 0, 1, 0, 0, 0, 0, 1], shape: [2, 5]).to(.bool)
        let dense = enc(x, keyPaddingMask: mask)
        expectClose(withoutGradients { enc(x, keyPaddingMask: mask) }, dense, rtol: 1e-6, atol: 1e-7, "not left-aligned")
        // Training mode, or gradients recorded: dense, padded positions computed.
        let left = Self.paddingMask([3, 5], 5)
        enc.train()
        let trainOut = withoutGradients { enc(x, keyPaddingMask: left) }
        enc.eval()
        let evalDense = enc(x, keyPaddingMask: left)
        #expect(trainOut.shape == evalDense.shape)
        #expect(evalDense.scalars(as: Float.self)[(3 * 8)..<(4 * 8)].contains { $0 != 0 })
        // An odd head count: PyTorch has no fast path there.
        let odd = TransformerEncoder(count: 1) { TransformerEncoderLayer(dModel: 9, heads: 3, feedForward: 8, dropout: 0) }
        odd.eval()
        let x9 = Tensor.normal([2, 5, 9], generator: RandomGenerator(seed: 5))
        expectClose(withoutGradients { odd(x9, keyPaddingMask: left) }, odd(x9, keyPaddingMask: left), rtol: 1e-6, atol: 1e-7, "odd heads")
    }

    @Test func float64PackedMatchesDense() {
        let enc = Self.encoder(.gelu, norm: true)
        // float32 parameters, a float64 input: both paths compute in float64.
        let lengths = [3, 5]
        let x = Tensor.normal([2, 5, 8], generator: RandomGenerator(seed: 6)).to(.float64)
        let y = withoutGradients { enc(x, keyPaddingMask: Self.paddingMask(lengths, 5)) }
        #expect(y.dtype == .float64)
        var yd = x
        for layer in enc.layers { yd = layer(yd, keyPaddingMask: Self.paddingMask(lengths, 5)) }
        let a = y.scalars(as: Double.self), b = enc.norm!(yd).scalars(as: Double.self)
        for i in 0..<(3 * 8) { #expect(Swift.abs(a[i] - b[i]) < 1e-12) }
        for i in (5 * 8)..<(10 * 8) { #expect(Swift.abs(a[i] - b[i]) < 1e-12) }
    }
}
