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
            for layer in layers { x = layer.packedForward(x, starts: starts, lengths: lengths) }
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
        let x1 = norm1(PackedLinear.apply(attended, weight: a.outProj.weight, bias: a.outProj.bias?.value, residual: x))
        var h = PackedLinear.apply(x1, weight: linear1.weight, bias: linear1.bias?.value, residual: nil)
        PackedLinear.activateInPlace(&h, activation)
        return norm2(PackedLinear.apply(h, weight: linear2.weight, bias: linear2.bias?.value, residual: x1))
    }
}

/// y = residual + x·Wᵀ + b on [N, in] rows, the bias and residual written first and the GEMM
/// accumulated onto them (beta = 1), so neither costs a pass of its own; inference only.
enum PackedLinear {
    static func apply(_ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor?) -> Tensor {
        let (rows, inF, outF) = (x.shape[0], x.shape[1], weight.shape[0])
        require(weight.shape == [outF, inF] && (bias == nil || bias?.shape == [outF]) && (residual == nil || residual?.shape == [rows, outF]),
                "internal: PackedLinear shapes x \(x.shape), weight \(weight.shape), bias \(bias?.shape ?? []), residual \(residual?.shape ?? [])")
        let dt = x.dtype
        let w = weight.to(dt), b = bias?.to(dt), res = residual?.to(dt)
        let out = Tensor(uninitializedShape: [rows, outF], dtype: dt)
        func run<T: FloatElement>(_: T.Type) {
            let c = out.storage.pointer(as: T.self)
            let bp = b.map { UnsafePointer($0.storage.pointer(as: T.self)) }
            let rp = res.map { UnsafePointer($0.storage.pointer(as: T.self)) }
            switch (bp, rp) {
            case let (bp?, rp?):
                for r in 0..<rows {
                    let o = c + r * outF, s = rp + r * outF
                    for j in 0..<outF { o[j] = s[j] + bp[j] }
                }
            case let (bp?, nil): for r in 0..<rows { (c + r * outF).update(from: bp, count: outF) }
            case let (nil, rp?): c.update(from: rp, count: rows * outF)
            case (nil, nil): break
            }
            GEMM.gemm(transA: false, transB: true, m: rows, n: outF, k: inF, alpha: 1,
                      a: x.storage.pointer(as: T.self), lda: inF, b: w.storage.pointer(as: T.self), ldb: inF,
                      beta: bp == nil && rp == nil ? 0 : 1, c: c, ldc: outF)
        }
        withExtendedLifetime((x, w, b, res, out)) {
            switch dt {
            case .float64: run(Double.self)
            default: run(Float.self)
            }
        }
        return out
    }

    /// The feed-forward activation applied in place (float32 through FastMath's kernels).
    static func activateInPlace(_ h: inout Tensor, _ activation: TransformerActivation) {
        guard h.dtype == .float32 else { h = activation.apply(h); return }
        let count = h.count
        let p = UncheckedSendable(h.storage.pointer(as: Float.self))
        switch activation {
        case .gelu:
            Threading.parallelFor(count) { r in FastMath.geluErfInPlace(p.value + r.lowerBound, r.count) }
        case .relu:
            Threading.parallelFor(count) { r in
                let q = p.value + r.lowerBound
                for i in 0..<r.count where q[i] < 0 { q[i] = 0 }
            }
        }
    }
}
