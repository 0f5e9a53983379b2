import MyelinCore

/// Row sums for the normalisation and loss kernels. Each block of up to 1024 elements is
/// summed in T with eight independent accumulators (which the compiler vectorises
/// without reassociating), and the blocks are added in Double, so float32 rows keep
/// near-Double accuracy at float32 speed.
enum NNKernels {
    static let block = 1024

    /// (Σ(p − shift), Σ(p − shift)²) over p[0..<n].
    @inline(__always)
    static func shiftedMoments<T: FloatElement>(_ p: UnsafePointer<T>, _ n: Int, shift: T) -> (Double, Double) {
        var s1 = 0.0, s2 = 0.0
        var start = 0
        while start < n {
            let end = Swift.min(n, start + block)
            var a0: T = 0, a1: T = 0, a2: T = 0, a3: T = 0, a4: T = 0, a5: T = 0, a6: T = 0, a7: T = 0
            var q0: T = 0, q1: T = 0, q2: T = 0, q3: T = 0, q4: T = 0, q5: T = 0, q6: T = 0, q7: T = 0
            var i = start
            while i + 8 <= end {
                let d0 = p[i] - shift, d1 = p[i + 1] - shift, d2 = p[i + 2] - shift, d3 = p[i + 3] - shift
                let d4 = p[i + 4] - shift, d5 = p[i + 5] - shift, d6 = p[i + 6] - shift, d7 = p[i + 7] - shift
                a0 += d0; a1 += d1; a2 += d2; a3 += d3; a4 += d4; a5 += d5; a6 += d6; a7 += d7
                q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3
                q4 += d4 * d4; q5 += d5 * d5; q6 += d6 * d6; q7 += d7 * d7
                i += 8
            }
            while i < end {
                let d = p[i] - shift
                a0 += d; q0 += d * d
                i += 1
            }
            s1 += Double(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)))
            s2 += Double(((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7)))
            start = end
        }
        return (s1, s2)
    }

    /// (Σ g·w, Σ g·w·(x − shift)) over [0..<n], with w = 1 when `w` is nil.
    @inline(__always)
    static func gradientMoments<T: FloatElement>(
        _ g: UnsafePointer<T>, _ w: UnsafePointer<T>?, _ x: UnsafePointer<T>, _ n: Int, shift: T
    ) -> (Double, Double) {
        if let w { return gradientMoments(g, x, n, shift: shift) { g[$0] * w[$0] } }
        return gradientMoments(g, x, n, shift: shift) { g[$0] }
    }

    @inline(__always)
    static func gradientMoments<T: FloatElement>(
        _ g: UnsafePointer<T>, _ x: UnsafePointer<T>, _ n: Int, shift: T, _ gv: (Int) -> T
    ) -> (Double, Double) {
        var s1 = 0.0, s2 = 0.0
        var start = 0
        while start < n {
            let end = Swift.min(n, start + block)
            var a0: T = 0, a1: T = 0, a2: T = 0, a3: T = 0, a4: T = 0, a5: T = 0, a6: T = 0, a7: T = 0
            var b0: T = 0, b1: T = 0, b2: T = 0, b3: T = 0, b4: T = 0, b5: T = 0, b6: T = 0, b7: T = 0
            var i = start
            while i + 8 <= end {
                let g0 = gv(i), g1 = gv(i + 1), g2 = gv(i + 2), g3 = gv(i + 3)
                let g4 = gv(i + 4), g5 = gv(i + 5), g6 = gv(i + 6), g7 = gv(i + 7)
                a0 += g0; a1 += g1; a2 += g2; a3 += g3; a4 += g4; a5 += g5; a6 += g6; a7 += g7
                b0 += g0 * (x[i] - shift); b1 += g1 * (x[i + 1] - shift); b2 += g2 * (x[i + 2] - shift); b3 += g3 * (x[i + 3] - shift)
                b4 += g4 * (x[i + 4] - shift); b5 += g5 * (x[i + 5] - shift); b6 += g6 * (x[i + 6] - shift); b7 += g7 * (x[i + 7] - shift)
                i += 8
            }
            while i < end {
                let gi = gv(i)
                a0 += gi; b0 += gi * (x[i] - shift)
                i += 1
            }
            s1 += Double(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)))
            s2 += Double(((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7)))
            start = end
        }
        return (s1, s2)
    }
}
