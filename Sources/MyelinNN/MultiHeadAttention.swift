import MyelinCore

/// Multi-head attention, as PyTorch's `nn.MultiheadAttention`, with the same parameter names
/// so its state dict loads as is:
/// - when key and value have the model's width (`keyDim == valueDim == embedDim`), one packed
///   `in_proj_weight` [3E, E]; otherwise separate `q_proj_weight` [E, E], `k_proj_weight`
///   [E, kdim] and `v_proj_weight` [E, vdim];
/// - `in_proj_bias` [3E] and `out_proj.weight` / `out_proj.bias` (when `bias`).
///
/// **Inputs are batch-first by default** ([batch, length, embedDim]; PyTorch's default is
/// sequence-first): pass `batchFirst: false` for [length, batch, embedDim]. Initialised as
/// PyTorch: Xavier-uniform input projections, zero biases, `out_proj.weight` as `Linear`.
///
/// Self-attention (the same tensor as query, key and value) with packed weights projects Q, K
/// and V with one GEMM, and the fused attention kernel reads the heads straight out of that
/// [.., 3E] projection and writes them straight into the [.., E] input of `out_proj`.
/// Not supported: `add_bias_kv`, `add_zero_attn`, unbatched (rank-2) inputs.
public final class MultiHeadAttention: Module {
    public let embedDim: Int, heads: Int, headDim: Int
    public let keyDim: Int, valueDim: Int
    public let dropout: Double
    public let batchFirst: Bool
    /// Whether Q, K and V share the packed `in_proj_weight` (keyDim == valueDim == embedDim).
    public let packed: Bool
    public let inProjWeight: Parameter?
    public let qProjWeight: Parameter?
    public let kProjWeight: Parameter?
    public let vProjWeight: Parameter?
    public let inProjBias: Parameter?
    public let outProj: Linear
    let generator: RandomGenerator

    /// - Parameters:
    ///   - embedDim: the model width E (query features and output features); divisible by `heads`.
    ///   - keyDim, valueDim: key and value features (default E).
    ///   - dropout: the probability of dropping an attention weight in training.
    public init(embedDim: Int, heads: Int, dropout: Double = 0, bias: Bool = true,
                keyDim: Int? = nil, valueDim: Int? = nil, batchFirst: Bool = true,
                generator: RandomGenerator = .default) {
        require(embedDim > 0 && heads > 0, "MultiHeadAttention: embedDim and heads must be positive, got \(embedDim) and \(heads)")
        require(embedDim % heads == 0, "MultiHeadAttention: embedDim \(embedDim) must be divisible by heads \(heads)")
        require(dropout >= 0 && dropout <= 1, "MultiHeadAttention: dropout must be in [0, 1], got \(dropout)")
        let kd = keyDim ?? embedDim, vd = valueDim ?? embedDim
        require(kd > 0 && vd > 0, "MultiHeadAttention: keyDim and valueDim must be positive, got \(kd) and \(vd)")
        self.embedDim = embedDim
        self.heads = heads
        headDim = embedDim / heads
        self.keyDim = kd
        self.valueDim = vd
        self.dropout = dropout
        self.batchFirst = batchFirst
        packed = kd == embedDim && vd == embedDim
        func xavier(_ shape: [Int]) -> Parameter {
            let p = Parameter(wrappedValue: Tensor.zeros(shape))
            Init.xavierUniform(p, generator: generator)
            return p
        }
        if packed {
            inProjWeight = xavier([3 * embedDim, embedDim])
            qProjWeight = nil; kProjWeight = nil; vProjWeight = nil
        } else {
            inProjWeight = nil
            qProjWeight = xavier([embedDim, embedDim])
            kProjWeight = xavier([embedDim, kd])
            vProjWeight = xavier([embedDim, vd])
        }
        inProjBias = bias ? Parameter(wrappedValue: Tensor.zeros([3 * embedDim])) : nil
        outProj = Linear(embedDim, embedDim, bias: bias, generator: generator)
        if let b = outProj.bias { Init.zeros(b) }
        self.generator = generator
        super.init()
    }

    /// Attention of `query` [B, Lq, E] over `key` [B, Lk, kdim] and `value` [B, Lk, vdim]
    /// (sequence-first when `batchFirst` is false). Returns the output [B, Lq, E] and, when
    /// `needWeights` (PyTorch's default), the attention weights [B, Lq, Lk] averaged over heads
    /// (`averageWeights`) or [B, heads, Lq, Lk]; the weights are not differentiable.
    /// - Parameters:
    ///   - keyPaddingMask: [B, Lk], true (or −inf) at padded keys.
    ///   - attentionMask: [Lq, Lk] or [B·heads, Lq, Lk], boolean (true = not allowed) or added to the scores.
    ///   - isCausal: apply the causal mask (query i sees keys ≤ i); no mask tensor is needed.
    public func callAsFunction(
        _ query: Tensor, _ key: Tensor, _ value: Tensor,
        keyPaddingMask: Tensor? = nil, attentionMask: Tensor? = nil,
        needWeights: Bool = true, averageWeights: Bool = true, isCausal: Bool = false
    ) -> (output: Tensor, weights: Tensor?) {
        let name = "MultiHeadAttention(embedDim: \(embedDim), heads: \(heads))"
        let layoutName = batchFirst ? "[batch, length, features]" : "[length, batch, features]"
        require(query.rank == 3 && key.rank == 3 && value.rank == 3,
                "\(name): query, key and value must be \(layoutName), got shapes \(query.shape), \(key.shape), \(value.shape)")
        let (bAxis, lAxis) = batchFirst ? (0, 1) : (1, 0)
        let b = query.shape[bAxis], lq = query.shape[lAxis], lk = key.shape[lAxis]
        require(query.shape[2] == embedDim, "\(name): query of shape \(query.shape) must have \(embedDim) features")
        require(key.shape[2] == keyDim && value.shape[2] == valueDim,
                "\(name): key \(key.shape) and value \(value.shape) must have \(keyDim) and \(valueDim) features")
        require(key.shape[bAxis] == b && value.shape[bAxis] == b && value.shape[lAxis] == lk,
                "\(name): key \(key.shape) and value \(value.shape) must match the batch of query \(query.shape) and each other's length")
        var mask = attentionMask
        if let m = attentionMask {
            if m.rank == 3 {
                require(m.shape == [b * heads, lq, lk],
                        "\(name): a 3-D attention mask must be [batch·heads, Lq, Lk] = \([b * heads, lq, lk]), got \(m.shape)")
                mask = m.reshaped([b, heads, lq, lk])
            } else {
                require(m.shape == [lq, lk], "\(name): attention mask of shape \(m.shape) must be [Lq, Lk] = \([lq, lk]) or [batch·heads, Lq, Lk]")
            }
        }
        if let m = keyPaddingMask {
            require(m.shape == [b, lk], "\(name): key padding mask of shape \(m.shape) must be [batch, Lk] = \([b, lk])")
        }
        let e = embedDim
        let bias = inProjBias?.value
        func biasPart(_ i: Int) -> Tensor? { bias.map { $0[(i * e)..<((i + 1) * e)] } }
        // The projections, and where each one's rows live: (tensor, column offset, row width).
        let q: Tensor, k: Tensor, v: Tensor
        let (qo, ko, vo): (Int, Int, Int)
        let (qw, kw, vw): (Int, Int, Int)
        if let w = inProjWeight?.value {
            let same = query.storage === key.storage && key.storage === value.storage && query.shape == key.shape && key.shape == value.shape
            if same {
                let qkv = linear(query, weight: w, bias: bias)
                (q, k, v) = (qkv, qkv, qkv)
                (qo, ko, vo) = (0, e, 2 * e)
                (qw, kw, vw) = (3 * e, 3 * e, 3 * e)
            } else if key.storage === value.storage && key.shape == value.shape {
                q = linear(query, weight: w[0..<e], bias: biasPart(0))
                let kv = linear(key, weight: w[e..<(3 * e)], bias: bias.map { $0[e..<(3 * e)] })
                (k, v) = (kv, kv)
                (qo, ko, vo) = (0, 0, e)
                (qw, kw, vw) = (e, 2 * e, 2 * e)
            } else {
                q = linear(query, weight: w[0..<e], bias: biasPart(0))
                k = linear(key, weight: w[e..<(2 * e)], bias: biasPart(1))
                v = linear(value, weight: w[(2 * e)..<(3 * e)], bias: biasPart(2))
                (qo, ko, vo) = (0, 0, 0)
                (qw, kw, vw) = (e, e, e)
            }
        } else if let wq = qProjWeight?.value, let wk = kProjWeight?.value, let wv = vProjWeight?.value {
            q = linear(query, weight: wq, bias: biasPart(0))
            k = linear(key, weight: wk, bias: biasPart(1))
            v = linear(value, weight: wv, bias: biasPart(2))
            (qo, ko, vo) = (0, 0, 0)
            (qw, kw, vw) = (e, e, e)
        } else {
            requirementFailure("\(name): no input projection weights")
        }
        // Head h of batch b starts at b·(batch stride) + h·headDim + offset; rows are `width` apart.
        let batchFirst = batchFirst
        func layout(_ offset: Int, _ width: Int, _ length: Int) -> AttentionKernel.Layout {
            batchFirst ? .init(offset: offset, batch: length * width, head: headDim, row: width)
                       : .init(offset: offset, batch: width, head: headDim, row: b * width)
        }
        let outShape = batchFirst ? [b, lq, e] : [lq, b, e]
        let r = AttentionKernel.run(
            query: q, queryLayout: layout(qo, qw, lq), key: k, keyLayout: layout(ko, kw, lk), value: v, valueLayout: layout(vo, vw, lk),
            batch: b, heads: heads, queryLength: lq, keyLength: lk, depth: headDim, valueDepth: headDim,
            outputShape: outShape, outputLayout: layout(0, e, lq),
            attentionMask: mask, keyPaddingMask: keyPaddingMask, isCausal: isCausal,
            dropout: training ? dropout : 0, scale: nil, generator: generator, keepWeights: needWeights, op: name)
        let out = outProj(r.output)
        guard needWeights, let w = r.weights else { return (out, nil) }
        return (out, averageWeights ? w.mean(axes: [1]) : w)
    }
}
