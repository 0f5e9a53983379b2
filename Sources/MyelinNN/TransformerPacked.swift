import MyelinCore

/// `TransformerEncoder`'s inference fast path, as `nn.TransformerEncoder`'s nested-tensor path:
/// with no gradient to record, a left-aligned key padding mask (real tokens first in every
/// sequence) and no other mask, the real tokens are packed into one [tokens, dModel] matrix,
/// every projection, feed-forward GEMM and LayerNorm runs on those rows only, attention runs
/// per sequence over its real length, and the result is unpacked with **zeros at the padded
/// positions** (then the stack's final norm, if any, runs over the whole padded tensor), which
/// is what PyTorch returns there. The same conditions as PyTorch's decide when it applies:
/// every layer post-norm, batch-first, in evaluation mode, with packed Q/K/V weights and an
/// input-projection bias, an even head count and equal LayerNorm epsilons. Without a padding
/// mask the same path runs with every sequence at full length (identical values, no padding).
extension TransformerEncoder {
    /// The real length of every sequence when the fast path applies, else nil.
    func packedLengths(_ source: Tensor, mask: Tensor?, keyPaddingMask: Tensor?, isCausal: Bool) -> [Int]? {
        guard mask == nil, !isCausal, source.rank == 3, source.dtype == .float32 || source.dtype == .float64 else { return nil }
        for layer in layers {
            let a = layer.selfAttn
            guard !layer.training, !a.training, !layer.normFirst, a.batchFirst, a.inProjWeight != nil, a.inProjBias != nil,
                  a.heads % 2 == 0, layer.norm1.eps == layer.norm2.eps, layer.norm1.normalizedShape == [a.embedDim],
                  layer.norm2.normalizedShape == [a.embedDim] else { return nil }
        }
        let (b, l) = (source.shape[0], source.shape[1])
        guard source.shape[2] == layers[0].selfAttn.embedDim else { return nil }
        if Autograd.isRecording {
            if source.requiresGrad || parameters().contains(where: { $0.value.requiresGrad }) { return nil }
        }
        guard let kpm = keyPaddingMask else { return [Int](repeating: l, count: b) }
        guard kpm.dtype == .bool, kpm.shape == [b, l] else { return nil }
        let flags = kpm.bools()
        var lengths = [Int](repeating: 0, count: b)
        for bi in 0..<b {
            var n = 0
            while n < l && !flags[bi * l + n] { n += 1 }
            for t in n..<l where !flags[bi * l + t] { return nil }  // not left-aligned
            lengths[bi] = n
        }
        return lengths
    }

    /// Runs the stack on the packed real tokens; `lengths` from `packedLengths`.
    func packedForward(_ source: Tensor, lengths: [Int]) -> Tensor {
        withoutGradients {
            let (b, l, e) = (source.shape[0], source.shape[1], source.shape[2])
            var starts = [Int](repeating: 0, count: b)
            for i in 1..<Swift.max(b, 1) { starts[i] = starts[i - 1] + lengths[i - 1] }
            let tokens = (starts.last ?? 0) + (lengths.last ?? 0)
            var x = Tensor(uninitializedShape: [tokens, e], dtype: source.dtype)
            copyRows(from: source, to: x, lengths: lengths, starts: starts, rowStride: l, e: e, pack: true)
            // Held to one thread, OpenBLAS's pool sleeps: every split below goes through Threading.
            GEMM.withSingleThreadedGEMMs {
                for layer in layers { x = layer.packedForward(x, starts: starts, lengths: lengths) }
            }
            let out = Tensor.zeros([b, l, e], dtype: source.dtype)
            copyRows(from: x, to: out, lengths: lengths, starts: starts, rowStride: l, e: e, pack: false)
            return norm.map { $0(out) } ?? out
        }
    }

    /// Copies each sequence's real rows between the padded [B, L, E] tensor and the packed one.
    private func copyRows(from: Tensor, to: Tensor, lengths: [Int], starts: [Int], rowStride l: Int, e: Int, pack: Bool) {
        let width = from.dtype.byteSize
        withExtendedLifetime((from, to)) {
            let src = from.storage.bytes, dst = to.storage.bytes
            for (bi, n) in lengths.enumerated() where n > 0 {
                let padded = bi * l * e * width, packed = starts[bi] * e * width
                if pack { (dst + packed).copyMemory(from: src + padded, byteCount: n * e * width) }
                else { (dst + padded).copyMemory(from: src + packed, byteCount: n * e * width) }
            }
        }
    }
}

extension TransformerEncoderLayer {
    /// One post-norm layer on packed tokens x [N, E] (inference; see `TransformerEncoder`).
    func packedForward(_ x: Tensor, starts: [Int], lengths: [Int]) -> Tensor {
        let a = selfAttn
        guard let wIn = a.inProjWeight?.value else { requirementFailure("internal: packedForward without in_proj_weight") }
        let qkv = PackedLinear.apply(x, weight: wIn, bias: a.inProjBias?.value, residual: nil)
        let attended = AttentionKernel.packedSelfAttention(qkv: qkv, starts: starts, lengths: lengths, heads: a.heads)
        let x1 = PackedLinear.apply(attended, weight: a.outProj.weight, bias: a.outProj.bias?.value, residual: x, norm: norm1)
        let h = PackedLinear.apply(x1, weight: linear1.weight, bias: linear1.bias?.value, residual: nil, activation: activation)
        return PackedLinear.apply(h, weight: linear2.weight, bias: linear2.bias?.value, residual: x1, norm: norm2)
    }
}

/// y = norm(act(residual + x·Wᵀ + b)) on [N, in] rows, inference only. The bias and residual
/// are written first and the GEMM accumulates onto them (beta = 1), and the activation and the
/// LayerNorm run on each worker's block as soon as its GEMM is done (while it is in cache), so
/// none costs a pass or a hand-off of its own. The product is split over the cores by Threading (each GEMM on one thread), along the
/// tokens or the output features, whichever has each worker re-pack the smaller operand:
/// OpenBLAS's own pool stays asleep, so two pools never contend for the same cores.
enum PackedLinear {
    static func apply(_ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor?,
                      activation: TransformerActivation? = nil, norm: LayerNorm? = nil) -> Tensor {
        let (rows, inF, outF) = (x.shape[0], x.shape[1], weight.shape[0])
        require(weight.shape == [outF, inF] && (bias == nil || bias?.shape == [outF]) && (residual == nil || residual?.shape == [rows, outF]),
                "internal: PackedLinear shapes x \(x.shape), weight \(weight.shape), bias \(bias?.shape ?? []), residual \(residual?.shape ?? [])")
        let dt = x.dtype
        let w = weight.to(dt), b = bias?.to(dt), res = residual?.to(dt)
        var out = Tensor(uninitializedShape: [rows, outF], dtype: dt)
        let parts = GEMM.isSmall(m: rows, n: outF, k: inF) ? 1 : Swift.max(1, Swift.min(Threading.threadCount, Swift.max(rows, outF)))
        let byRows = outF <= rows
        // A LayerNorm over the output rows runs in each worker on the rows it owns (split by tokens).
        let fastActivation = dt == .float32 ? activation : nil
        let rowNorm = norm.flatMap { n in (byRows || parts == 1) && (activation == nil || fastActivation != nil) ? n : nil }
        let nw = rowNorm?.weight?.value.to(dt), nb = rowNorm?.bias?.value.to(dt), eps = norm?.eps ?? 0
        func run<T: FloatElement>(_: T.Type) {
            let c = UncheckedSendable(out.storage.pointer(as: T.self))
            let xp = UncheckedSendable(UnsafePointer(x.storage.pointer(as: T.self)))
            let wp = UncheckedSendable(UnsafePointer(w.storage.pointer(as: T.self)))
            let bp = UncheckedSendable(b.map { UnsafePointer($0.storage.pointer(as: T.self)) })
            let rp = UncheckedSendable(res.map { UnsafePointer($0.storage.pointer(as: T.self)) })
            let accumulate = b != nil || res != nil
            let nwp = UncheckedSendable(nw.map { UnsafePointer($0.storage.pointer(as: T.self)) })
            let nbp = UncheckedSendable(nb.map { UnsafePointer($0.storage.pointer(as: T.self)) })
            let normalize = rowNorm != nil
            GEMM.withSingleThreadedGEMMs {
                Threading.parallelFor(parts, grain: 1) { range in
                    for part in range {
                        let (r0, r1) = byRows ? (rows * part / parts, rows * (part + 1) / parts) : (0, rows)
                        let (c0, c1) = byRows ? (0, outF) : (outF * part / parts, outF * (part + 1) / parts)
                        guard r1 > r0 && c1 > c0 else { continue }
                        for r in r0..<r1 {
                            let o = c.value + r * outF
                            switch (bp.value, rp.value) {
                            case let (bv?, rv?):
                                let s = rv + r * outF
                                for j in c0..<c1 { o[j] = s[j] + bv[j] }
                            case let (bv?, nil): (o + c0).update(from: bv + c0, count: c1 - c0)
                            case let (nil, rv?): (o + c0).update(from: rv + r * outF + c0, count: c1 - c0)
                            case (nil, nil): break
                            }
                        }
                        GEMM.gemm(transA: false, transB: true, m: r1 - r0, n: c1 - c0, k: inF, alpha: 1,
                                  a: xp.value + r0 * inF, lda: inF, b: wp.value + c0 * inF, ldb: inF,
                                  beta: accumulate ? 1 : 0, c: c.value + r0 * outF + c0, ldc: outF, threads: 1)
                        if let fastActivation, T.self == Float.self {
                            let f = UnsafeMutableRawPointer(c.value).assumingMemoryBound(to: Float.self)
                            for r in r0..<r1 { activateInPlace(f + r * outF + c0, c1 - c0, fastActivation) }
                        }
                        if normalize {
                            for r in r0..<r1 {
                                let row = c.value + r * outF
                                _ = LayerNormSupport.forwardRow(UnsafePointer(row), nwp.value, nbp.value, row, d: outF, eps: eps)
                            }
                        }
                    }
                }
            }
        }
        withExtendedLifetime((x, w, b, res, out, nw, nb)) {
            switch dt {
            case .float64: run(Double.self)
            default: run(Float.self)
            }
        }
        if let activation, fastActivation == nil { out = activation.apply(out) }
        if let norm, rowNorm == nil { out = norm(out) }
        return out
    }

    /// The feed-forward activation over n float32 values in place.
    static func activateInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ activation: TransformerActivation) {
        switch activation {
        case .gelu: FastMath.geluErfInPlace(p, n)
        case .relu: for i in 0..<n where p[i] < 0 { p[i] = 0 }
        }
    }
}
