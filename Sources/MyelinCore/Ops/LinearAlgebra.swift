/// Matrix products with PyTorch's `matmul` semantics: 1-D operands are vectors,
/// leading dimensions are batch dimensions and broadcast. Transposed operands
/// are passed to the GEMM as flags, never copied.
extension Tensor {
    /// `op(self) · op(other)` where op transposes the last two dimensions when asked.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        Tensor.matmul(self, other, transposeA: transposeSelf, transposeB: transposeOther)
    }

    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        require(a.rank >= 1 && b.rank >= 1, "matmul: operands must have rank ≥ 1, got shapes \(a.shape) and \(b.shape)")
        // Vectors become matrices (a row for the left operand, a column for the right), and back.
        if a.rank == 1 || b.rank == 1 {
            let a2 = a.rank == 1 ? a.reshaped([1, a.shape[0]]) : a
            let b2 = b.rank == 1 ? b.reshaped([b.shape[0], 1]) : b
            let c = matmul(a2, b2, transposeA: a.rank == 1 ? false : transposeA, transposeB: b.rank == 1 ? false : transposeB)
            var outShape = c.shape
            if b.rank == 1 { outShape.removeLast() }
            if a.rank == 1 { outShape.remove(at: outShape.count - (b.rank == 1 ? 1 : 2)) }
            return c.reshaped(outShape)
        }
        return batchedMatmul(a, b, transposeA: transposeA, transposeB: transposeB)
    }

    static func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeA tA: Bool, transposeB tB: Bool) -> Tensor {
        let (ar, br) = (a.rank, b.rank)
        let m = tA ? a.shape[ar - 1] : a.shape[ar - 2]
        let ka = tA ? a.shape[ar - 2] : a.shape[ar - 1]
        let kb = tB ? b.shape[br - 1] : b.shape[br - 2]
        let n = tB ? b.shape[br - 2] : b.shape[br - 1]
        require(ka == kb, "matmul: inner dimensions differ: shapes \(a.shape)\(tA ? "ᵀ" : "") and \(b.shape)\(tB ? "ᵀ" : "") (\(ka) vs \(kb))")
        let k = ka
        let batchA = Array(a.shape[..<(ar - 2)]), batchB = Array(b.shape[..<(br - 2)])
        let batch = Shape.broadcastOrFail(batchA, batchB, op: "matmul (batch dimensions)")
        var dt = promoted(a.dtype, b.dtype)
        if !dt.isFloatingPoint { dt = .float32 }
        let a = a.to(dt), b = b.to(dt)
        let out = Tensor(uninitializedShape: batch + [m, n], dtype: dt)
        switch dt {
        case .float64: runGEMM(Double.self, a, b, out, batchA, batchB, batch, tA, tB, m, n, k)
        default: runGEMM(Float.self, a, b, out, batchA, batchB, batch, tA, tB, m, n, k)
        }
        return Autograd.record(out, inputs: [a, b], name: "matmul") { g, needs in
            var ga: Tensor? = nil, gb: Tensor? = nil
            if needs[0] {
                ga = tA ? matmul(b, g, transposeA: tB, transposeB: true) : matmul(g, b, transposeB: !tB)
                ga = ga?.sumToShape(a.shape)
            }
            if needs[1] {
                gb = tB ? matmul(g, a, transposeA: true, transposeB: tA) : matmul(a, g, transposeA: !tA)
                gb = gb?.sumToShape(b.shape)
            }
            return [ga, gb]
        }
    }

    private static func runGEMM<T: FloatElement>(
        _: T.Type, _ a: Tensor, _ b: Tensor, _ out: Tensor,
        _ batchA: [Int], _ batchB: [Int], _ batch: [Int],
        _ tA: Bool, _ tB: Bool, _ m: Int, _ n: Int, _ k: Int
    ) {
        let pa = a.storage.pointer(as: T.self), pb = b.storage.pointer(as: T.self), pc = out.storage.pointer(as: T.self)
        let lda = tA ? m : k, ldb = tB ? k : n
        withExtendedLifetime((a, b, out)) {
            // A batch of row-major A against one shared B is a single tall GEMM.
            if !tA, Shape.count(batchB) == 1 {
                let rows = Shape.count(batchA) * m
                GEMM.gemm(transA: false, transB: tB, m: rows, n: n, k: k, alpha: 1, a: pa, lda: lda, b: pb, ldb: ldb, beta: 0, c: pc, ldc: n)
                return
            }
            let (sa, sb, sc) = (m * k, k * n, m * n)
            // Batch entries as (A offset, B offset, C offset) in matrices.
            var items: [(Int, Int, Int)] = []
            items.reserveCapacity(Shape.count(batch))
            Kernels.forEachBroadcastRow(outShape: batch, aShape: batchA, bShape: batchB) { oa, da, ob, db, oc, count in
                for i in 0..<count { items.append((oa + i * da, ob + i * db, oc + i)) }
            }
            // Small products run one per thread, spread over the cores; large ones use all cores each.
            let small = GEMM.isSmall(m: m, n: n, k: k)
            let grain = small ? Swift.max(1, (1 << 18) / Swift.max(1, m * n * k)) : items.count
            items.withUnsafeBufferPointer { list in
                Threading.parallelFor(list.count, grain: grain) { range in
                    for (ia, ib, ic) in list[range] {
                        GEMM.gemm(transA: tA, transB: tB, m: m, n: n, k: k, alpha: 1,
                                  a: pa + ia * sa, lda: lda, b: pb + ib * sb, ldb: ldb,
                                  beta: 0, c: pc + ic * sc, ldc: n, threads: small ? 1 : nil)
                    }
                }
            }
        }
    }
}

/// `a · b` (PyTorch's `torch.matmul`).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    Tensor.matmul(a, b, transposeA: transposeA, transposeB: transposeB)
}
