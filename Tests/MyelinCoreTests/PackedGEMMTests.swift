import Foundation
import Testing
import Myelin

/// `GEMM.packB` + `GEMM.gemm(transA:m:…packedB:…)` (the recurrent layers' per-step product with
/// W_hh packed once) against a float64 triple loop, over edge sizes: m around the 8- and 12-row
/// tiles, n not a multiple of the panel width, k across the depth blocks, 1 and 2 threads.
@Suite struct PackedGEMMTests {
    static func check<T: FloatElement>(
        _: T.Type, m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Double, beta: Double, threads: Int,
        tolerance: Double, products: Int = 2
    ) -> Bool {
        let lda = transA ? m + 3 : k + 2, ldb = transB ? k + 1 : n + 5, ldc = n + 4
        let aRows = transA ? k : m, bRows = transB ? n : k
        let b = GEMMTests.values(bRows * ldb, seed: UInt64(n * 17 + k + 1)).map { T($0) }
        let packed = b.withUnsafeBufferPointer { GEMM.packB(transB: transB, k: k, n: n, b: $0.baseAddress!, ldb: ldb) }
        #expect(packed.k == k && packed.n == n)
        // Several products against the same packed operand.
        for product in 0..<products {
            let a = GEMMTests.values(aRows * lda, seed: UInt64(m * 31 + k + 7 * product)).map { T($0) }
            let c0 = GEMMTests.values(m * ldc, seed: UInt64(m + n + k + product)).map { T($0) }
            var c = beta == 0 ? [T](repeating: .nan, count: m * ldc) : c0
            a.withUnsafeBufferPointer { pa in
                c.withUnsafeMutableBufferPointer { pc in
                    GEMM.gemm(transA: transA, m: m, alpha: T(alpha), a: pa.baseAddress!, lda: lda, packedB: packed,
                              beta: T(beta), c: pc.baseAddress!, ldc: ldc, threads: threads)
                }
            }
            for i in 0..<m {
                for j in 0..<ldc {
                    let got = Double(c[i * ldc + j])
                    if j >= n {  // padding columns are never written
                        if beta != 0 && got != Double(c0[i * ldc + j]) {
                            Issue.record("packed gemm wrote outside C (row \(i), column \(j))")
                            return false
                        }
                        continue
                    }
                    var sum = 0.0, mag = 0.0
                    for p in 0..<k {
                        let x = Double(a[transA ? p * lda + i : i * lda + p]), y = Double(b[transB ? j * ldb + p : p * ldb + j])
                        sum += x * y
                        mag += abs(x * y)
                    }
                    let c0v = Double(c0[i * ldc + j])
                    let want = alpha * sum + (beta == 0 ? 0 : beta * c0v)
                    let bound = tolerance * (abs(alpha) * mag + abs(beta) * abs(c0v)) + 1e-30
                    if !(abs(got - want) <= bound) {
                        Issue.record("packed gemm \(T.self) m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) alpha=\(alpha) beta=\(beta) threads=\(threads): C[\(i),\(j)] = \(got), expected \(want) ± \(bound)")
                        return false
                    }
                }
            }
        }
        return true
    }

    /// (m, n, k): m = 8, 16, 32, 40 take the 8-row float tile on AVX-512, 12, 36 and 1000 the 12-row one;
    /// n = 33, 100 leave a partial panel; k = 400 and 1025 span several depth blocks; 1000 rows span two row blocks.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 33, 7), (5, 1, 9), (8, 32, 16), (7, 33, 65), (12, 64, 3), (16, 100, 400), (32, 1024, 256),
        (32, 256, 1025), (33, 96, 31), (36, 40, 50), (40, 65, 64), (1000, 40, 20),
    ]

    @Test func packedProductsMatchReference() {
        let scalings = [(1.0, 0.0), (0.5, 1.0), (-1.25, -0.7)]
        for (s, (m, n, k)) in Self.shapes.enumerated() {
            for (t, (tA, tB)) in [(false, false), (true, false), (false, true), (true, true)].enumerated() {
                let (alpha, beta) = scalings[(s + t) % 3]
                for threads in [1, 2] {
                    let tolF = GEMMTests.floatTolerance * max(1, Double(k) / 64)
                    let tolD = GEMMTests.doubleTolerance * max(1, Double(k) / 64)
                    guard Self.check(Float.self, m: m, n: n, k: k, transA: tA, transB: tB, alpha: alpha, beta: beta,
                                     threads: threads, tolerance: tolF),
                          Self.check(Double.self, m: m, n: n, k: k, transA: tA, transB: tB, alpha: alpha, beta: beta,
                                     threads: threads, tolerance: tolD, products: 1)
                    else { return }
                }
            }
        }
    }

    @Test func zeroDepthAndZeroAlphaScaleC() {
        let b: [Float] = [9, 9, 9, 9]
        let empty = b.withUnsafeBufferPointer { GEMM.packB(transB: false, k: 0, n: 2, b: $0.baseAddress!, ldb: 2) }
        var c: [Float] = [1, 2, 3, 4]
        let a: [Float] = [9, 9]
        GEMM.gemm(transA: false, m: 2, alpha: 1, a: a, lda: 1, packedB: empty, beta: 0.5, c: &c, ldc: 2)
        #expect(c == [0.5, 1, 1.5, 2], "k = 0 leaves beta·C")
        let packed = b.withUnsafeBufferPointer { GEMM.packB(transB: false, k: 2, n: 2, b: $0.baseAddress!, ldb: 2) }
        var d: [Float] = [.nan, .nan, .nan, .nan]
        GEMM.gemm(transA: false, m: 2, alpha: 0, a: a, lda: 1, packedB: packed, beta: 0, c: &d, ldc: 2)
        #expect(d == [0, 0, 0, 0], "alpha = 0, beta = 0 gives zeros without reading C")
    }
}
