import CMyelinKernels
import Foundation
import Synchronization

/// General matrix multiply: C = alpha·op(A)·op(B) + beta·C, row-major, where
/// op(X) is X or Xᵀ. Transposed operands are read in place (no copy).
///
/// Two back ends: a BLAS found at run time (`BLAS`, OpenBLAS when installed) and
/// a built-in Goto/BLIS-style kernel: A is packed into MR-row micro-panels and B
/// into NR-column micro-panels (transposition is handled while packing), blocked
/// for the caches (an MR×KC panel of A stays in L1 while a KC×NC block of B
/// streams from L2), with an MR×NR register-tile micro-kernel in C chosen once
/// by cpuid (AVX-512, AVX2+FMA, or portable). When beta == 0, C is never read.
public enum GEMM {
    public enum Backend: String, Sendable, CaseIterable {
        /// The built-in packed SIMD kernel.
        case builtin
        /// The CBLAS loaded at run time (see `BLAS.library`).
        case blas
    }

    // 0 = automatic (BLAS when loaded), 1 = built-in, 2 = BLAS.
    private static let requested = Atomic<Int>(0)

    /// The back end `gemm` uses when none is passed. Defaults to `.blas` when a
    /// BLAS was found (and `MYELIN_BLAS` is not `builtin`), else `.builtin`.
    /// Setting `.blas` where none is loaded leaves the built-in kernel in use.
    /// Tests should pass `backend:` to `gemm` instead of changing this global.
    public static var backend: Backend {
        get {
            switch requested.load(ordering: .relaxed) {
            case 1: return .builtin
            default: return BLAS.isAvailable ? .blas : .builtin
            }
        }
        set { requested.store(newValue == .builtin ? 1 : 2, ordering: .relaxed) }
    }

    /// The built-in kernel selected for this CPU, e.g. "AVX-512 (float 12×32, double 12×16)".
    public static var builtinKernelName: String {
        "\(Float.gemmKernel.isa) (float \(Float.gemmKernel.mr)×\(Float.gemmKernel.nr), double \(Double.gemmKernel.mr)×\(Double.gemmKernel.nr))"
    }

    /// Row-major GEMM for Float or Double. A is m×k (k×m when transA), B is k×n
    /// (n×k when transB), C is m×n; lda/ldb/ldc are row strides in elements.
    /// `backend` overrides `GEMM.backend` for this call; `threads` caps the
    /// threads the built-in kernel uses (default `Threading.threadCount`).
    public static func gemm<T: FloatElement>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int,
        backend: Backend? = nil, threads: Int? = nil
    ) {
        require(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension m=\(m) n=\(n) k=\(k)")
        if m == 0 || n == 0 { return }
        let useBLAS = (backend ?? self.backend) == .blas && k > 0 && BLAS.fits(m, n, k, lda, ldb, ldc)
        if T.self == Float.self {
            let a = UnsafeRawPointer(a).assumingMemoryBound(to: Float.self)
            let b = UnsafeRawPointer(b).assumingMemoryBound(to: Float.self)
            let c = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self)
            let alpha = unsafeBitCast(alpha, to: Float.self), beta = unsafeBitCast(beta, to: Float.self)
            if useBLAS, let l = BLAS.loaded {
                BLAS.sgemm(l, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                           b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            } else {
                builtin(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                        b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads ?? Threading.threadCount)
            }
        } else if T.self == Double.self {
            let a = UnsafeRawPointer(a).assumingMemoryBound(to: Double.self)
            let b = UnsafeRawPointer(b).assumingMemoryBound(to: Double.self)
            let c = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self)
            let alpha = unsafeBitCast(alpha, to: Double.self), beta = unsafeBitCast(beta, to: Double.self)
            if useBLAS, let l = BLAS.loaded {
                BLAS.dgemm(l, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                           b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            } else {
                builtin(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                        b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads ?? Threading.threadCount)
            }
        } else {
            reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                      beta: beta, c: c, ldc: ldc)
        }
    }

    /// Runs `body`, whose GEMMs run one per core in parallel, with every GEMM on one
    /// thread (OpenBLAS's own threads would nest inside the caller's).
    public static func withSingleThreadedGEMMs<R>(_ body: () throws -> R) rethrows -> R {
        try BLAS.withSingleThread(body)
    }

    /// Whether a product this size runs on one thread (the caller may then
    /// spread a batch of them over the cores instead).
    public static func isSmall(m: Int, n: Int, k: Int) -> Bool { m * n * k < parallelThreshold }

    /// Below this m·n·k the built-in kernel uses one thread: waking another core costs more than it saves.
    static let parallelThreshold = 96 * 96 * 96
    /// Below this m·n·k packing costs more than it saves: plain loops.
    static let tinyThreshold = 12 * 12 * 12

    /// A plain triple loop (i, p, j order so the inner loop is contiguous in B and C).
    @inlinable
    public static func reference<T: FloatElement>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        for i in 0..<m {
            let ci = c + i * ldc
            if beta == 0 { for j in 0..<n { ci[j] = 0 } } else if beta != 1 { for j in 0..<n { ci[j] *= beta } }
            for p in 0..<k {
                let aip = alpha * (transA ? a[p * lda + i] : a[i * lda + p])
                if transB { for j in 0..<n { ci[j] += aip * b[j * ldb + p] } } else {
                    let bp = b + p * ldb
                    for j in 0..<n { ci[j] += aip * bp[j] }
                }
            }
        }
    }
}

// MARK: - Built-in kernel

/// A micro-kernel and the blocking that suits it.
struct GEMMKernel<T>: @unchecked Sendable {
    typealias Fn = (Int, UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>, Int, T, T, Int, Int) -> Void
    let isa: String
    let mr: Int, nr: Int
    /// Cache blocking: KC (depth of a packed panel), MC (rows of A per packed block), NC (columns of B per packed block).
    let kc: Int, mc: Int, nc: Int
    let run: Fn
}

/// The CPU's SIMD level (cpuid), lowered by `MYELIN_GEMM_KERNEL=avx2|portable`
/// so the narrower kernels can be tested on a wider CPU; never raised.
let simdLevel: Int32 = {
    let cpu = myelin_cpu_simd_level()
    switch ProcessInfo.processInfo.environment["MYELIN_GEMM_KERNEL"]?.lowercased() {
    case "avx2": return min(cpu, 2)
    case "portable", "scalar": return 0
    default: return cpu
    }
}()

protocol PackedGEMMScalar: FloatElement, SIMDScalar, Codable {
    static var gemmKernel: GEMMKernel<Self> { get }
}

extension Float: PackedGEMMScalar {
    // Chosen once, by cpuid. Blocking for Zen 4 / Skylake-X class caches (L1 32 KiB, L2 ≥ 1 MiB):
    // the MR×KC panel of A is 18 KiB (L1), the KC×NC block of B 576 KiB (L2).
    static let gemmKernel: GEMMKernel<Float> = {
        switch simdLevel {
        case 3...:
            return GEMMKernel(isa: "AVX-512", mr: 12, nr: 32, kc: 384, mc: 960, nc: 384) {
                myelin_sgemm_kernel_avx512(Int64($0), $1, $2, $3, Int64($4), $5, $6, Int64($7), Int64($8))
            }
        case 2:
            return GEMMKernel(isa: "AVX2+FMA", mr: 6, nr: 16, kc: 384, mc: 960, nc: 384) {
                myelin_sgemm_kernel_avx2(Int64($0), $1, $2, $3, Int64($4), $5, $6, Int64($7), Int64($8))
            }
        default:
            return GEMMKernel(isa: "portable", mr: 4, nr: 8, kc: 256, mc: 256, nc: 256) {
                myelin_sgemm_kernel_scalar(Int64($0), $1, $2, $3, Int64($4), $5, $6, Int64($7), Int64($8))
            }
        }
    }()
}

extension Double: PackedGEMMScalar {
    static let gemmKernel: GEMMKernel<Double> = {
        switch simdLevel {
        case 3...:
            return GEMMKernel(isa: "AVX-512", mr: 12, nr: 16, kc: 256, mc: 480, nc: 256) {
                myelin_dgemm_kernel_avx512(Int64($0), $1, $2, $3, Int64($4), $5, $6, Int64($7), Int64($8))
            }
        case 2:
            return GEMMKernel(isa: "AVX2+FMA", mr: 6, nr: 8, kc: 256, mc: 480, nc: 256) {
                myelin_dgemm_kernel_avx2(Int64($0), $1, $2, $3, Int64($4), $5, $6, Int64($7), Int64($8))
            }
        default:
            return GEMMKernel(isa: "portable", mr: 4, nr: 4, kc: 256, mc: 256, nc: 256) {
                myelin_dgemm_kernel_scalar(Int64($0), $1, $2, $3, Int64($4), $5, $6, Int64($7), Int64($8))
            }
        }
    }()
}

extension GEMM {
    static func builtin<T: PackedGEMMScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int, threads: Int
    ) {
        if k == 0 || alpha == 0 {
            scale(c, ldc: ldc, m: m, n: n, by: beta)
            return
        }
        if m * n * k < tinyThreshold {
            reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                      beta: beta, c: c, ldc: ldc)
            return
        }
        if n == 1 || m == 1 {
            vectorProduct(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: c, ldc: ldc, threads: threads)
            return
        }
        let kern = T.gemmKernel
        // Split C into `parts` slabs along its longer side, in whole micro-panels;
        // each thread packs its own operands and runs the blocked loops on its slab.
        let splitN = n >= m
        let panels = splitN ? (n + kern.nr - 1) / kern.nr : (m + kern.mr - 1) / kern.mr
        let parts = min(m * n * k >= parallelThreshold ? max(1, threads) : 1, panels)
        if parts <= 1 {
            blocked(kern, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                    beta: beta, c: c, ldc: ldc)
            return
        }
        let box = UncheckedSendable((a, b, c))
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let (a, b, c) = box.value
            let lo = panels * part / parts, hi = panels * (part + 1) / parts
            if splitN {
                let j0 = lo * kern.nr, j1 = min(n, hi * kern.nr)
                if j1 <= j0 { return }
                blocked(kern, transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha, a: a, lda: lda,
                        b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc)
            } else {
                let i0 = lo * kern.mr, i1 = min(m, hi * kern.mr)
                if i1 <= i0 { return }
                blocked(kern, transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha,
                        a: transA ? a + i0 : a + i0 * lda, lda: lda, b: b, ldb: ldb, beta: beta, c: c + i0 * ldc, ldc: ldc)
            }
        }
    }

    /// C = beta·C (C = 0 when beta == 0, without reading C).
    static func scale<T: FloatElement>(_ c: UnsafeMutablePointer<T>, ldc: Int, m: Int, n: Int, by beta: T) {
        if beta == 1 { return }
        for i in 0..<m {
            let ci = c + i * ldc
            if beta == 0 { ci.update(repeating: 0, count: n) } else { for j in 0..<n { ci[j] *= beta } }
        }
    }

    /// Splits `extent` into equal blocks of at most `limit`, rounded up to whole `unit`s.
    @inline(__always)
    static func blockSize(_ extent: Int, limit: Int, unit: Int) -> Int {
        let blocks = (extent + limit - 1) / limit
        let size = (extent + blocks - 1) / blocks
        return min(limit, (size + unit - 1) / unit * unit)
    }

    /// The Goto loops on one thread: K blocks, M blocks (pack A), N blocks (pack B), then micro-tiles.
    static func blocked<T: PackedGEMMScalar>(
        _ kern: GEMMKernel<T>, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        let (mr, nr) = (kern.mr, kern.nr)
        let kc = blockSize(k, limit: kern.kc, unit: 1)
        let mc = blockSize(m, limit: kern.mc, unit: mr)
        let nc = blockSize(n, limit: kern.nc, unit: nr)
        // Fixed-size buffers from the caching pool: the same sizes every call, so no malloc or page faults.
        let aBytes = kern.mc * kern.kc * MemoryLayout<T>.stride, bBytes = kern.kc * kern.nc * MemoryLayout<T>.stride
        let rawA = BufferPool.shared.acquire(byteCount: aBytes), rawB = BufferPool.shared.acquire(byteCount: bBytes)
        defer {
            BufferPool.shared.release(rawA, byteCount: aBytes)
            BufferPool.shared.release(rawB, byteCount: bBytes)
        }
        let packedA = rawA.assumingMemoryBound(to: T.self), packedB = rawB.assumingMemoryBound(to: T.self)
        let run = kern.run

        var pc = 0
        while pc < k {
            let kb = min(kc, k - pc)
            let betaBlock: T = pc == 0 ? beta : 1
            var ic = 0
            while ic < m {
                let mb = min(mc, m - ic)
                packA(transA: transA, a: a, lda: lda, row: ic, rows: mb, col: pc, depth: kb, mr: mr, into: packedA)
                var jc = 0
                while jc < n {
                    let nb = min(nc, n - jc)
                    packB(transB: transB, b: b, ldb: ldb, row: pc, depth: kb, col: jc, cols: nb, nr: nr, into: packedB)
                    var ir = 0
                    while ir < mb {
                        let pa = packedA + ir * kb
                        let mTile = min(mr, mb - ir)
                        let cRow = c + (ic + ir) * ldc + jc
                        var jr = 0
                        while jr < nb {
                            run(kb, pa, packedB + jr * kb, cRow + jr, ldc, alpha, betaBlock, mTile, min(nr, nb - jr))
                            jr += nr
                        }
                        ir += mr
                    }
                    jc += nb
                }
                ic += mb
            }
            pc += kb
        }
    }

    /// Packs op(A)[row..<row+rows, col..<col+depth] into MR-row micro-panels, each
    /// `depth` steps of MR values, zero-padding the last panel's missing rows.
    @inline(__always)
    static func packA<T: PackedGEMMScalar>(
        transA: Bool, a: UnsafePointer<T>, lda: Int, row: Int, rows: Int, col: Int, depth: Int, mr: Int,
        into dst: UnsafeMutablePointer<T>
    ) {
        var i0 = 0
        while i0 < rows {
            let panel = dst + i0 * depth
            let valid = min(mr, rows - i0)
            if transA {
                // op(A)(i, p) = a[p·lda + i]: each k step is a contiguous run of rows.
                for p in 0..<depth {
                    let src = a + (col + p) * lda + row + i0
                    let d = panel + p * mr
                    for i in 0..<valid { d[i] = src[i] }
                    for i in valid..<mr { d[i] = 0 }
                }
            } else {
                for i in 0..<valid {
                    let src = a + (row + i0 + i) * lda + col
                    var d = panel + i
                    for p in 0..<depth { d.pointee = src[p]; d += mr }
                }
                for i in valid..<mr {
                    var d = panel + i
                    for _ in 0..<depth { d.pointee = 0; d += mr }
                }
            }
            i0 += mr
        }
    }

    /// Packs op(B)[row..<row+depth, col..<col+cols] into NR-column micro-panels, each
    /// `depth` steps of NR values, zero-padding the last panel's missing columns.
    @inline(__always)
    static func packB<T: PackedGEMMScalar>(
        transB: Bool, b: UnsafePointer<T>, ldb: Int, row: Int, depth: Int, col: Int, cols: Int, nr: Int,
        into dst: UnsafeMutablePointer<T>
    ) {
        var j0 = 0
        while j0 < cols {
            let panel = dst + j0 * depth
            let valid = min(nr, cols - j0)
            if transB {
                // op(B)(p, j) = b[j·ldb + p]: read rows of b contiguously, write with stride NR.
                for j in 0..<valid {
                    let src = b + (col + j0 + j) * ldb + row
                    var d = panel + j
                    for p in 0..<depth { d.pointee = src[p]; d += nr }
                }
                for j in valid..<nr {
                    var d = panel + j
                    for _ in 0..<depth { d.pointee = 0; d += nr }
                }
            } else {
                for p in 0..<depth {
                    let src = b + (row + p) * ldb + col + j0
                    let d = panel + p * nr
                    if valid == nr {
                        d.update(from: src, count: nr)
                    } else {
                        for j in 0..<valid { d[j] = src[j] }
                        for j in valid..<nr { d[j] = 0 }
                    }
                }
            }
            j0 += nr
        }
    }

    /// Matrix-vector products (m == 1 or n == 1), where packing would pad a
    /// single row or column up to a whole micro-panel.
    static func vectorProduct<T: PackedGEMMScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int, threads: Int
    ) {
        // Put the product in the form out[r] = dot(row r of X, v) (X rows contiguous) or
        // out = Σ_p v[p]·(row p of Y) (axpy, Y rows contiguous), with v contiguous.
        if n == 1 {
            // c[i] = Σ_p op(A)(i,p)·op(B)(p,0).
            let v = gatherVector(b, count: k, stride: transB ? 1 : ldb)
            defer { if v.owned { v.pointer.deallocate() } }
            if transA {
                axpyForm(rows: a, ld: lda, v: v.pointer, depth: k, count: m, alpha: alpha, beta: beta, out: c, outStride: ldc, threads: threads)
            } else {
                dotForm(rows: a, ld: lda, v: v.pointer, depth: k, count: m, alpha: alpha, beta: beta, out: c, outStride: ldc, threads: threads)
            }
        } else {
            // m == 1: c[j] = Σ_p op(A)(0,p)·op(B)(p,j).
            let v = gatherVector(a, count: k, stride: transA ? lda : 1)
            defer { if v.owned { v.pointer.deallocate() } }
            if transB {
                dotForm(rows: b, ld: ldb, v: v.pointer, depth: k, count: n, alpha: alpha, beta: beta, out: c, outStride: 1, threads: threads)
            } else {
                axpyForm(rows: b, ld: ldb, v: v.pointer, depth: k, count: n, alpha: alpha, beta: beta, out: c, outStride: 1, threads: threads)
            }
        }
    }

    static func gatherVector<T: FloatElement>(_ p: UnsafePointer<T>, count: Int, stride: Int) -> (pointer: UnsafePointer<T>, owned: Bool) {
        if stride == 1 { return (p, false) }
        let v = UnsafeMutablePointer<T>.allocate(capacity: count)
        for i in 0..<count { v[i] = p[i * stride] }
        return (UnsafePointer(v), true)
    }

    /// out[r·outStride] = alpha·dot(rows[r·ld ..< r·ld+depth], v) + beta·out.
    static func dotForm<T: PackedGEMMScalar>(
        rows: UnsafePointer<T>, ld: Int, v: UnsafePointer<T>, depth: Int, count: Int,
        alpha: T, beta: T, out: UnsafeMutablePointer<T>, outStride: Int, threads: Int
    ) {
        let box = UncheckedSendable((rows, v, out))
        let grain = max(1, (1 << 16) / max(depth, 1))
        let chunks = min(max(1, threads), max(1, count / grain))
        let body: (Range<Int>) -> Void = { range in
            let (rows, v, out) = box.value
            for r in range {
                let d = dot(rows + r * ld, v, depth)
                let o = out + r * outStride
                o.pointee = beta == 0 ? alpha * d : alpha * d + beta * o.pointee
            }
        }
        split(count, chunks: chunks, body)
    }

    /// out[j·outStride] = alpha·Σ_p v[p]·rows[p·ld + j] + beta·out.
    static func axpyForm<T: PackedGEMMScalar>(
        rows: UnsafePointer<T>, ld: Int, v: UnsafePointer<T>, depth: Int, count: Int,
        alpha: T, beta: T, out: UnsafeMutablePointer<T>, outStride: Int, threads: Int
    ) {
        let box = UncheckedSendable((rows, v, out))
        let grain = max(256, (1 << 16) / max(depth, 1))
        let chunks = min(max(1, threads), max(1, count / grain))
        let body: (Range<Int>) -> Void = { range in
            let (rows, v, out) = box.value
            let len = range.count
            let acc = UnsafeMutablePointer<T>.allocate(capacity: len)
            defer { acc.deallocate() }
            acc.update(repeating: 0, count: len)
            for p in 0..<depth {
                let vp = v[p]
                let src = rows + p * ld + range.lowerBound
                for j in 0..<len { acc[j] += vp * src[j] }
            }
            for j in 0..<len {
                let o = out + (range.lowerBound + j) * outStride
                o.pointee = beta == 0 ? alpha * acc[j] : alpha * acc[j] + beta * o.pointee
            }
        }
        split(count, chunks: chunks, body)
    }

    /// Runs `body` over `chunks` contiguous parts of 0..<count, in parallel when more than one.
    static func split(_ count: Int, chunks: Int, _ body: (Range<Int>) -> Void) {
        if chunks <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { i in box.value(count * i / chunks ..< count * (i + 1) / chunks) }
        }
    }

    /// A dot product with 4 independent SIMD accumulators (Swift does not reassociate float sums by itself).
    @inline(__always)
    static func dot<T: PackedGEMMScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ n: Int) -> T {
        typealias V = SIMD8<T>
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        let w = V.scalarCount * MemoryLayout<T>.stride
        var i = 0
        while i + 4 * V.scalarCount <= n {
            let o = i * MemoryLayout<T>.stride
            s0 += rx.loadUnaligned(fromByteOffset: o, as: V.self) * ry.loadUnaligned(fromByteOffset: o, as: V.self)
            s1 += rx.loadUnaligned(fromByteOffset: o + w, as: V.self) * ry.loadUnaligned(fromByteOffset: o + w, as: V.self)
            s2 += rx.loadUnaligned(fromByteOffset: o + 2 * w, as: V.self) * ry.loadUnaligned(fromByteOffset: o + 2 * w, as: V.self)
            s3 += rx.loadUnaligned(fromByteOffset: o + 3 * w, as: V.self) * ry.loadUnaligned(fromByteOffset: o + 3 * w, as: V.self)
            i += 4 * V.scalarCount
        }
        var s = ((s0 + s1) + (s2 + s3)).sum()
        while i < n { s += x[i] * y[i]; i += 1 }
        return s
    }
}

// MARK: - Pre-packed B

extension GEMM {
    /// op(B), k×n, packed once into the built-in kernel's column panels, for many products
    /// against the same matrix: an RNN multiplies its recurrent weights W_hh at every time
    /// step, and a fresh GEMM call would re-pack them each time (as BLAS does).
    ///
    /// Layout: for each block of `kc` rows of op(B) (the kernel's depth blocking), its NR-column
    /// micro-panels, each `depth × NR` values, the last one zero-padded. The values are copied:
    /// later changes to B are not seen.
    public final class PackedB<T: FloatElement>: @unchecked Sendable {
        /// op(B)'s shape, k×n.
        public let k: Int, n: Int
        /// Panel width (the kernel's NR) and depth block; nr == 0 for a plain row-major copy
        /// (element types the built-in kernel does not cover).
        let nr: Int, kc: Int
        let values: UnsafeMutablePointer<T>
        let count: Int

        init(k: Int, n: Int, nr: Int, kc: Int, count: Int) {
            self.k = k; self.n = n; self.nr = nr; self.kc = kc; self.count = count
            values = .allocate(capacity: Swift.max(count, 1))
        }

        deinit { values.deallocate() }

        /// Columns rounded up to whole panels.
        var paddedN: Int { nr == 0 ? n : (n + nr - 1) / nr * nr }
    }

    /// Packs op(B) (k×n; B is n×k when `transB`, row stride `ldb`) for `gemm(transA:m:…packedB:…)`.
    public static func packB<T: FloatElement>(transB: Bool, k: Int, n: Int, b: UnsafePointer<T>, ldb: Int) -> PackedB<T> {
        require(k >= 0 && n >= 0, "packB: negative dimension k=\(k) n=\(n)")
        require(ldb >= (transB ? k : n) || (transB ? n : k) <= 1, "packB: ldb \(ldb) is smaller than a row of B")
        if T.self == Float.self {
            return unsafeBitCast(packedB(Float.self, transB: transB, k: k, n: n,
                                         b: UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), ldb: ldb), to: PackedB<T>.self)
        }
        if T.self == Double.self {
            return unsafeBitCast(packedB(Double.self, transB: transB, k: k, n: n,
                                         b: UnsafeRawPointer(b).assumingMemoryBound(to: Double.self), ldb: ldb), to: PackedB<T>.self)
        }
        let p = PackedB<T>(k: k, n: n, nr: 0, kc: k, count: k * n)
        for r in 0..<k { for j in 0..<n { p.values[r * n + j] = transB ? b[j * ldb + r] : b[r * ldb + j] } }
        return p
    }

    static func packedB<S: PackedGEMMScalar>(_: S.Type, transB: Bool, k: Int, n: Int, b: UnsafePointer<S>, ldb: Int) -> PackedB<S> {
        let kern = S.gemmKernel
        let kc = blockSize(Swift.max(k, 1), limit: kern.kc, unit: 1)
        let paddedN = (n + kern.nr - 1) / kern.nr * kern.nr
        let p = PackedB<S>(k: k, n: n, nr: kern.nr, kc: kc, count: k * paddedN)
        var pc = 0
        while pc < k {
            let kb = Swift.min(kc, k - pc)
            packB(transB: transB, b: b, ldb: ldb, row: pc, depth: kb, col: 0, cols: n, nr: kern.nr, into: p.values + pc * paddedN)
            pc += kb
        }
        return p
    }

    /// C = alpha·op(A)·op(B) + beta·C with op(B) pre-packed by `packB` (k and n are its shape):
    /// A is m×k (k×m when `transA`), C m×n. Always the built-in kernel; C is not read when beta == 0.
    /// `threads` caps the threads (default `Threading.threadCount`); the columns are split between them.
    public static func gemm<T: FloatElement>(
        transA: Bool, m: Int, alpha: T, a: UnsafePointer<T>, lda: Int, packedB: PackedB<T>,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int, threads: Int? = nil
    ) {
        let (k, n) = (packedB.k, packedB.n)
        require(m >= 0, "gemm(packedB:): negative dimension m=\(m)")
        if m == 0 || n == 0 { return }
        let threads = threads ?? Threading.threadCount
        if T.self == Float.self {
            let f = { (p: UnsafePointer<T>) in UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            prepacked(transA: transA, m: m, alpha: unsafeBitCast(alpha, to: Float.self), a: f(a), lda: lda,
                      packedB: unsafeDowncast(packedB, to: PackedB<Float>.self), beta: unsafeBitCast(beta, to: Float.self),
                      c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc, threads: threads)
        } else if T.self == Double.self {
            let f = { (p: UnsafePointer<T>) in UnsafeRawPointer(p).assumingMemoryBound(to: Double.self) }
            prepacked(transA: transA, m: m, alpha: unsafeBitCast(alpha, to: Double.self), a: f(a), lda: lda,
                      packedB: unsafeDowncast(packedB, to: PackedB<Double>.self), beta: unsafeBitCast(beta, to: Double.self),
                      c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), ldc: ldc, threads: threads)
        } else {
            reference(transA: transA, transB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: UnsafePointer(packedB.values),
                      ldb: n, beta: beta, c: c, ldc: ldc)
        }
        withExtendedLifetime(packedB) {}
    }

    /// The micro-kernel for a pre-packed product of m rows: AVX-512 float takes an 8-row tile
    /// when that pads m less than the 12-row one (m = 32: 32 rows instead of 36).
    static func prepackedKernel<S: PackedGEMMScalar>(_: S.Type, m: Int) -> GEMMKernel<S> {
        let kern = S.gemmKernel
        if S.self == Float.self && kern.mr == 12 && (m + 7) / 8 * 8 < (m + 11) / 12 * 12 {
            let k8 = GEMMKernel<Float>(isa: "AVX-512 8×32", mr: 8, nr: 32, kc: kern.kc, mc: 960, nc: kern.nc) {
                myelin_sgemm_kernel_avx512_8x32(Int64($0), $1, $2, $3, Int64($4), $5, $6, Int64($7), Int64($8))
            }
            return unsafeBitCast(k8, to: GEMMKernel<S>.self)
        }
        return kern
    }

    static func prepacked<S: PackedGEMMScalar>(
        transA: Bool, m: Int, alpha: S, a: UnsafePointer<S>, lda: Int, packedB: PackedB<S>,
        beta: S, c: UnsafeMutablePointer<S>, ldc: Int, threads: Int
    ) {
        let (k, n, nr, kc) = (packedB.k, packedB.n, packedB.nr, packedB.kc)
        if k == 0 || alpha == 0 {
            scale(c, ldc: ldc, m: m, n: n, by: beta)
            return
        }
        let kern = prepackedKernel(S.self, m: m)
        let mr = kern.mr
        let paddedN = packedB.paddedN
        let panels = paddedN / nr
        let parts = Swift.min(m * n * k >= parallelThreshold ? Swift.max(1, threads) : 1, panels)
        // op(A) is packed whole per block of rows (all depth blocks), then every thread runs its
        // columns against it: column panel outer, so a C tile stays in L1 over the depth blocks.
        let mc = blockSize(m, limit: kern.mc, unit: mr)
        let aCount = mc * k
        let aBytes = aCount * MemoryLayout<S>.stride
        let rawA = BufferPool.shared.acquire(byteCount: aBytes)
        defer { BufferPool.shared.release(rawA, byteCount: aBytes) }
        let packedA = rawA.assumingMemoryBound(to: S.self)
        let run = kern.run
        let bValues = UnsafePointer(packedB.values)
        var ic = 0
        while ic < m {
            let mb = Swift.min(mc, m - ic)
            let paddedM = (mb + mr - 1) / mr * mr
            var pc = 0
            while pc < k {
                let kb = Swift.min(kc, k - pc)
                packA(transA: transA, a: a, lda: lda, row: ic, rows: mb, col: pc, depth: kb, mr: mr, into: packedA + pc * paddedM)
                pc += kb
            }
            let pa = UnsafePointer(packedA)
            let cBlock = c + ic * ldc
            let body = { (lo: Int, hi: Int) in
                for jp in lo..<hi {
                    let j0 = jp * nr
                    let nTile = Swift.min(nr, n - j0)
                    var pc = 0
                    while pc < k {
                        let kb = Swift.min(kc, k - pc)
                        let pb = bValues + pc * paddedN + j0 * kb
                        let aBlock = pa + pc * paddedM
                        let betaBlock: S = pc == 0 ? beta : 1
                        var ir = 0
                        while ir < mb {
                            run(kb, aBlock + ir * kb, pb, cBlock + ir * ldc + j0, ldc, alpha, betaBlock, Swift.min(mr, mb - ir), nTile)
                            ir += mr
                        }
                        pc += kb
                    }
                }
            }
            if parts <= 1 {
                body(0, panels)
            } else {
                let box = UncheckedSendable(body)
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    box.value(panels * part / parts, panels * (part + 1) / parts)
                }
            }
            ic += mb
        }
    }
}
