/// General matrix multiply: C = alpha·op(A)·op(B) + beta·C, row-major, where
/// op(X) is X or Xᵀ. Transposed operands are read in place (no copy).
public enum GEMM {
    /// Row-major GEMM for Float or Double. A is m×k (k×m when transA), B is k×n (n×k when transB).
    @inlinable
    public static func gemm<T: FloatElement>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

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
