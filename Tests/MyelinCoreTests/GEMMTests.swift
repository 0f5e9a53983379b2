import Foundation
import Testing
import Myelin

/// The GEMM back ends against a float64 triple loop, and matmul through Tensor.
@Suite struct GEMMTests {
    /// Deterministic values in [-1, 1).
    static func values(_ n: Int, seed: UInt64) -> [Double] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Double(s >> 11) / Double(1 << 53) * 2 - 1
        }
    }

    /// Shapes (m, n, k) covering edge sizes, K/M/N cache blocks, the parallel split and vector products.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (4, 4, 4), (7, 17, 33), (17, 7, 1), (33, 100, 17), (100, 33, 257), (257, 100, 7),
        (1, 257, 33), (257, 1, 100), (1, 1, 257), (64, 64, 64), (100, 100, 100), (130, 100, 100),
        (20, 40, 400), (30, 400, 20), (1000, 13, 9), (13, 33, 800),
    ]

    /// Runs `GEMM.gemm` for T and checks every element against a float64 reference:
    /// |c − ref| ≤ tol · (|alpha|·Σ|a||b| + |beta|·|c0|), the standard bound for a k-term sum.
    static func check<T: FloatElement>(
        _: T.Type, m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Double, beta: Double,
        backend: GEMM.Backend, threads: Int, tolerance: Double
    ) -> Bool {
        let lda = transA ? m + 3 : k + 2, ldb = transB ? k + 1 : n + 5, ldc = n + 4 // padded strides
        let aRows = transA ? k : m, bRows = transB ? n : k
        let a = values(aRows * lda, seed: UInt64(m * 31 + k)), b = values(bRows * ldb, seed: UInt64(n * 17 + k + 1))
        let c0 = values(m * ldc, seed: UInt64(m + n + k))
        let af = a.map { T($0) }, bf = b.map { T($0) }
        // beta == 0 must not read C: fill it with NaN.
        var c = beta == 0 ? [T](repeating: .nan, count: m * ldc) : c0.map { T($0) }
        af.withUnsafeBufferPointer { pa in
            bf.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    GEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: T(alpha),
                              a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                              beta: T(beta), c: pc.baseAddress!, ldc: ldc, backend: backend, threads: threads)
                }
            }
        }
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, mag = 0.0
                for p in 0..<k {
                    let x = Double(af[transA ? p * lda + i : i * lda + p]), y = Double(bf[transB ? j * ldb + p : p * ldb + j])
                    sum += x * y
                    mag += abs(x * y)
                }
                let c0v = Double(T(c0[i * ldc + j]))
                let want = alpha * sum + (beta == 0 ? 0 : beta * c0v)
                let bound = tolerance * (abs(alpha) * mag + abs(beta) * abs(c0v)) + 1e-30
                let got = Double(c[i * ldc + j])
                if !(abs(got - want) <= bound) {
                    Issue.record("gemm \(T.self) \(backend) m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) alpha=\(alpha) beta=\(beta): C[\(i),\(j)] = \(got), expected \(want) ± \(bound)")
                    return false
                }
            }
        }
        // Padding columns of C are never written.
        if ldc > n, beta != 0 {
            for i in 0..<m where Double(c[i * ldc + n]) != Double(T(c0[i * ldc + n])) {
                Issue.record("gemm wrote outside C (row \(i), column \(n))")
                return false
            }
        }
        return true
    }

    // float32 accumulation: ~k·ε relative to Σ|a||b| in the worst case; measured error is far smaller.
    static let floatTolerance = 4 * Double(Float.ulpOfOne) * 64
    static let doubleTolerance = 4 * Double.ulpOfOne * 64

    static func sweep(backend: GEMM.Backend) {
        let scalings = [(1.0, 0.0), (0.5, 1.0), (-1.25, -0.7)]
        for (s, (m, n, k)) in shapes.enumerated() {
            for (t, (tA, tB)) in [(false, false), (true, false), (false, true), (true, true)].enumerated() {
                // Large shapes take one alpha/beta pair per transpose combination (all pairs still occur).
                let pairs = m * n * k > 50_000 ? [scalings[(s + t) % 3]] : scalings
                for (alpha, beta) in pairs {
                    let threads = (m + n) % 2 == 0 ? 2 : 1
                    let tolF = floatTolerance * max(1, Double(k) / 64)
                    let tolD = doubleTolerance * max(1, Double(k) / 64)
                    guard check(Float.self, m: m, n: n, k: k, transA: tA, transB: tB, alpha: alpha, beta: beta,
                                backend: backend, threads: threads, tolerance: tolF),
                          check(Double.self, m: m, n: n, k: k, transA: tA, transB: tB, alpha: alpha, beta: beta,
                                backend: backend, threads: 3 - threads, tolerance: tolD)
                    else { return }
                }
            }
        }
    }

    @Test func builtinMatchesReference() {
        Self.sweep(backend: .builtin)
    }

    @Test(.enabled(if: BLAS.isAvailable, "no CBLAS loaded at run time (none installed, or MYELIN_BLAS=builtin); BLAS path not tested"))
    func blasMatchesReference() {
        #expect(BLAS.library?.path.isEmpty == false)
        Self.sweep(backend: .blas)
    }

    @Test func zeroDepthAndZeroAlphaScaleC() {
        for backend in GEMM.Backend.allCases where backend == .builtin || BLAS.isAvailable {
            var c: [Float] = [1, 2, 3, 4]
            let a: [Float] = [9, 9], b: [Float] = [9, 9]
            GEMM.gemm(transA: false, transB: false, m: 2, n: 2, k: 0, alpha: 1, a: a, lda: 1, b: b, ldb: 2,
                      beta: 0.5, c: &c, ldc: 2, backend: backend)
            #expect(c == [0.5, 1, 1.5, 2], "k = 0 leaves beta·C (\(backend))")
            var d: [Float] = [.nan, .nan, .nan, .nan]
            GEMM.gemm(transA: false, transB: false, m: 2, n: 2, k: 1, alpha: 0, a: a, lda: 1, b: b, ldb: 2,
                      beta: 0, c: &d, ldc: 2, backend: backend)
            #expect(d == [0, 0, 0, 0], "alpha = 0, beta = 0 gives zeros without reading C (\(backend))")
        }
    }

    @Test func backendInformation() {
        #expect(GEMM.builtinKernelName.contains("×"))
        if ProcessInfo.processInfo.environment["MYELIN_BLAS"]?.lowercased() == "builtin" {
            #expect(!BLAS.isAvailable)
            #expect(BLAS.unavailableReason?.contains("MYELIN_BLAS") == true)
        }
        if BLAS.isAvailable {
            #expect(BLAS.unavailableReason == nil)
        } else {
            #expect(BLAS.unavailableReason != nil)
            #expect(GEMM.backend == .builtin)
        }
    }

    /// A [2,1,5,7] · [3,7,4] batched product broadcasts to [2,3,5,4]; every batch
    /// entry matches its own 2-D product, with all four transpose flags.
    @Test func tensorMatmulBroadcastsBatches() throws {
        for (tA, tB) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, k, n) = (5, 7, 4)
            let aShape = tA ? [2, 1, k, m] : [2, 1, m, k], bShape = tB ? [3, n, k] : [3, k, n]
            let av = Self.values(2 * m * k, seed: 3), bv = Self.values(3 * k * n, seed: 4)
            let a = Tensor(av, shape: aShape), b = Tensor(bv, shape: bShape)
            let c = matmul(a, b, transposeA: tA, transposeB: tB)
            #expect(c.shape == [2, 3, m, n])
            let got = c.scalars(as: Double.self)
            let af = av.map { Double(Float($0)) }, bf = bv.map { Double(Float($0)) }
            for i0 in 0..<2 {
                for j0 in 0..<3 {
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = 0.0
                            for p in 0..<k {
                                let x = af[i0 * m * k + (tA ? p * m + i : i * k + p)]
                                let y = bf[j0 * k * n + (tB ? j * k + p : p * n + j)]
                                s += x * y
                            }
                            let g = got[((i0 * 3 + j0) * m + i) * n + j]
                            #expect(abs(g - s) <= 1e-5 * max(1, abs(s)), "C[\(i0),\(j0),\(i),\(j)] tA=\(tA) tB=\(tB)")
                        }
                    }
                }
            }
        }
    }

    /// Many small products in a batch (spread over the cores) give the same as one at a time.
    @Test func smallBatchedProductsMatchPerItemProducts() {
        let (batch, m, k, n) = (64, 9, 12, 10)
        let a = Tensor(Self.values(batch * m * k, seed: 5), shape: [batch, m, k])
        let b = Tensor(Self.values(batch * k * n, seed: 6), shape: [batch, k, n])
        let c = a.matmul(b).scalars(as: Float.self)
        let av = a.scalars(as: Float.self), bv = b.scalars(as: Float.self)
        var worst: Float = 0
        for t in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var s: Float = 0
                    for p in 0..<k { s += av[t * m * k + i * k + p] * bv[t * k * n + p * n + j] }
                    worst = max(worst, abs(c[(t * m + i) * n + j] - s))
                }
            }
        }
        #expect(worst < 1e-5)
    }

    /// Gradients of a batched, broadcast matmul against finite differences (float64).
    @Test func matmulGradients() {
        let a = Tensor(Self.values(2 * 3 * 4, seed: 7), shape: [2, 3, 4], dtype: .float64)
        let b = Tensor(Self.values(4 * 5, seed: 8), shape: [4, 5], dtype: .float64)
        let r = checkGradients([a, b]) { xs in matmul(xs[0], xs[1], transposeB: false) }
        #expect(r.passed, "\(r)")
        let rt = checkGradients([a, b.transposedCopyForTest()]) { xs in matmul(xs[0], xs[1], transposeB: true) }
        #expect(rt.passed, "\(rt)")
    }
}

extension Tensor {
    /// The 2-D transpose, built element by element (the suite does not depend on the shape helpers).
    func transposedCopyForTest() -> Tensor {
        let (r, c) = (shape[0], shape[1])
        let v = scalars(as: Double.self)
        var t = [Double](repeating: 0, count: v.count)
        for i in 0..<r { for j in 0..<c { t[j * r + i] = v[i * c + j] } }
        return Tensor(t, shape: [c, r], dtype: dtype)
    }
}
