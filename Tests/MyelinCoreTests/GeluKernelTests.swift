import Foundation
import Myelin
import Testing

/// The float32 exact-GELU kernels (CMyelinKernels/activation_kernels.c, through `gelu()` and
/// FastMath) against a float64 reference x·Φ(x), Φ(x) = ½·erfc(−x/√2), on edge sizes
/// (vector tails), special values, and 1 and 2 threads.
@Suite struct GeluKernelTests {
    static func phi(_ x: Double) -> Double { 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) }
    static func pdf(_ x: Double) -> Double { Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot() }

    /// |got − ref| ≤ 2e-7 + 2e-6·|ref| for finite references; NaN and ±inf exactly.
    static func check(_ what: String, _ xs: [Float], _ got: [Float], _ ref: (Double) -> Double,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == xs.count, sourceLocation: sourceLocation)
        var worst = 0.0, at: Float = 0
        for (x, g) in zip(xs, got) {
            let r = ref(Double(x))
            if r.isNaN { #expect(g.isNaN, "\(what)(\(x)) = \(g), expected NaN", sourceLocation: sourceLocation); continue }
            if r.isInfinite { #expect(Double(g) == r, "\(what)(\(x)) = \(g), expected \(r)", sourceLocation: sourceLocation); continue }
            let excess = Swift.abs(Double(g) - r) - (2e-7 + 2e-6 * Swift.abs(r))
            if excess > worst { worst = excess; at = x }
        }
        #expect(worst == 0, "\(what): beyond tolerance by \(worst) at x = \(at)", sourceLocation: sourceLocation)
    }

    static func inputs(_ n: Int) -> [Float] {
        var xs = (0..<n).map { i in Float(-12 + 24 * Double(i) / Double(Swift.max(n - 1, 1))) }
        let specials: [Float] = [0, -0, 1, -1, 1e-30, -1e-30, 1e-7, -1e-7, 3, -3, 5.5, -5.5, 9, -9, 13, -13, 40, -40,
                                 .infinity, .nan, Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude]
        for (i, s) in specials.enumerated() where i < n { xs[(i * 7919) % n] = s }
        return xs
    }

    @Test(arguments: [1, 2, 3, 7, 15, 16, 17, 31, 33, 100, 1001, 100_003], [1, 2])
    func forwardMatchesReference(_ n: Int, _ threads: Int) {
        let saved = Threading.threadCount
        Threading.threadCount = threads
        defer { Threading.threadCount = saved }
        let xs = Self.inputs(n)
        Self.check("gelu", xs, Tensor(xs).gelu().scalars(as: Float.self)) { x in x.isInfinite && x < 0 ? .nan : x * Self.phi(x) }
        // The pointer kernels directly, in and out of place.
        var out = [Float](repeating: 0, count: n), inPlace = xs
        xs.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { o in FastMath.geluErf(x.baseAddress!, o.baseAddress!, n) } }
        inPlace.withUnsafeMutableBufferPointer { p in FastMath.geluErfInPlace(p.baseAddress!, n) }
        for i in 0..<n { #expect(out[i] == inPlace[i] || (out[i].isNaN && inPlace[i].isNaN), "in place differs at \(xs[i])") }
    }

    @Test(arguments: [1, 17, 1001, 100_003], [1, 2])
    func backwardMatchesReference(_ n: Int, _ threads: Int) {
        let saved = Threading.threadCount
        Threading.threadCount = threads
        defer { Threading.threadCount = saved }
        let xs = Self.inputs(n).map { $0.isFinite && Swift.abs($0) < 1e30 ? $0 : 0.5 }
        let ws = (0..<n).map { Float(1 + ($0 % 5)) / 4 }
        let x = Tensor(xs).requiringGrad()
        (x.gelu() * Tensor(ws)).sum().backward()
        let got = x.grad?.scalars(as: Float.self) ?? []
        var i = 0
        Self.check("gelu'", xs, got) { v in
            defer { i += 1 }
            return Double(ws[i]) * (Self.phi(v) + v * Self.pdf(v))
        }
    }

    @Test func float32AgreesWithFloat64Path() {
        let xs = stride(from: -8.0, through: 8.0, by: 0.01).map { Float($0) }
        let f32 = Tensor(xs).gelu().scalars(as: Double.self)
        let f64 = Tensor(xs.map { Double($0) }, dtype: .float64).gelu().scalars(as: Double.self)
        for (a, b) in zip(f32, f64) { #expect(Swift.abs(a - b) <= 2e-7 + 2e-6 * Swift.abs(b), "\(a) vs \(b)") }
    }
}
