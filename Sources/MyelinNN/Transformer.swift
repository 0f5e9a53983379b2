import MyelinCore

/// The feed-forward activation of a Transformer layer.
public enum TransformerActivation: Sendable, Equatable {
    case relu
    /// The exact (erf) GELU, as PyTorch's "gelu".
    case gelu

    func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: x.relu()
        case .gelu: x.gelu()
        }
    }
}

/// One Transformer encoder layer, as `nn.TransformerEncoderLayer` (same child and parameter
/// names: `self_attn`, `linear1`, `dropout`, `linear2`, `norm1`, `norm2`, `dropout1`, `dropout2`):
/// self-attention then a feed-forward block (linear1 → activation → dropout → linear2), each
/// with a residual connection and LayerNorm, after it (post-norm, the default, as the paper)
/// or before it (`normFirst`, pre-norm).
///
/// **Batch-first by default** ([batch, length, dModel]); PyTorch's default is sequence-first.
public final class TransformerEncoderLayer: Module, UnaryLayer {
    public let selfAttn: MultiHeadAttention
    public let linear1: Linear
    public let dropout: Dropout
    public let linear2: Linear
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    public let dropout1: Dropout
    public let dropout2: Dropout
    public let activation: TransformerActivation
    public let normFirst: Bool

    public init(dModel: Int, heads: Int, feedForward: Int = 2048, dropout: Double = 0.1,
                activation: TransformerActivation = .relu, layerNormEps: Double = 1e-5,
                batchFirst: Bool = true, normFirst: Bool = false, bias: Bool = true,
                generator: RandomGenerator = .default) {
        require(feedForward > 0, "TransformerEncoderLayer: feedForward must be positive, got \(feedForward)")
        selfAttn = MultiHeadAttention(embedDim: dModel, heads: heads, dropout: dropout, bias: bias,
                                      batchFirst: batchFirst, generator: generator)
        linear1 = Linear(dModel, feedForward, bias: bias, generator: generator)
        self.dropout = Dropout(dropout, generator: generator)
        linear2 = Linear(feedForward, dModel, bias: bias, generator: generator)
        norm1 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        norm2 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        dropout1 = Dropout(dropout, generator: generator)
        dropout2 = Dropout(dropout, generator: generator)
        self.activation = activation
        self.normFirst = normFirst
        super.init()
    }

    /// `source` [B, L, dModel] (or [L, B, dModel] when not batch-first).
    /// - Parameters:
    ///   - mask: an attention mask [L, L] or [B·heads, L, L] (boolean true = not allowed, or additive).
    ///   - keyPaddingMask: [B, L], true at padding (PyTorch's src_key_padding_mask).
    ///   - isCausal: each position attends to itself and earlier positions only.
    public func callAsFunction(_ source: Tensor, mask: Tensor? = nil, keyPaddingMask: Tensor? = nil, isCausal: Bool = false) -> Tensor {
        func selfAttention(_ x: Tensor) -> Tensor {
            dropout1(selfAttn(x, x, x, keyPaddingMask: keyPaddingMask, attentionMask: mask, needWeights: false, isCausal: isCausal).output)
        }
        func feedForward(_ x: Tensor) -> Tensor {
            dropout2(linear2(dropout(activation.apply(linear1(x)))))
        }
        if normFirst {
            let x = source + selfAttention(norm1(source))
            return x + feedForward(norm2(x))
        }
        let x = norm1(source + selfAttention(source))
        return norm2(x + feedForward(x))
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { callAsFunction(input, mask: nil) }
}

/// One Transformer decoder layer, as `nn.TransformerDecoderLayer` (children `self_attn`,
/// `multihead_attn`, `linear1`, `dropout`, `linear2`, `norm1`...`norm3`, `dropout1`...`dropout3`):
/// masked self-attention over the target, attention over the encoder's `memory`, then the
/// feed-forward block; post-norm by default, pre-norm with `normFirst`. Batch-first by default.
public final class TransformerDecoderLayer: Module {
    public let selfAttn: MultiHeadAttention
    public let multiheadAttn: MultiHeadAttention
    public let linear1: Linear
    public let dropout: Dropout
    public let linear2: Linear
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    public let norm3: LayerNorm
    public let dropout1: Dropout
    public let dropout2: Dropout
    public let dropout3: Dropout
    public let activation: TransformerActivation
    public let normFirst: Bool

    public init(dModel: Int, heads: Int, feedForward: Int = 2048, dropout: Double = 0.1,
                activation: TransformerActivation = .relu, layerNormEps: Double = 1e-5,
                batchFirst: Bool = true, normFirst: Bool = false, bias: Bool = true,
                generator: RandomGenerator = .default) {
        require(feedForward > 0, "TransformerDecoderLayer: feedForward must be positive, got \(feedForward)")
        selfAttn = MultiHeadAttention(embedDim: dModel, heads: heads, dropout: dropout, bias: bias,
                                      batchFirst: batchFirst, generator: generator)
        multiheadAttn = MultiHeadAttention(embedDim: dModel, heads: heads, dropout: dropout, bias: bias,
                                           batchFirst: batchFirst, generator: generator)
        linear1 = Linear(dModel, feedForward, bias: bias, generator: generator)
        self.dropout = Dropout(dropout, generator: generator)
        linear2 = Linear(feedForward, dModel, bias: bias, generator: generator)
        norm1 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        norm2 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        norm3 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        dropout1 = Dropout(dropout, generator: generator)
        dropout2 = Dropout(dropout, generator: generator)
        dropout3 = Dropout(dropout, generator: generator)
        self.activation = activation
        self.normFirst = normFirst
        super.init()
    }

    /// `target` [B, T, dModel] attends to itself and to `memory` [B, S, dModel] (sequence-first
    /// when not batch-first). Masks as PyTorch's tgt_mask, memory_mask, tgt_key_padding_mask,
    /// memory_key_padding_mask, tgt_is_causal, memory_is_causal.
    public func callAsFunction(
        _ target: Tensor, memory: Tensor, targetMask: Tensor? = nil, memoryMask: Tensor? = nil,
        targetKeyPaddingMask: Tensor? = nil, memoryKeyPaddingMask: Tensor? = nil,
        targetIsCausal: Bool = false, memoryIsCausal: Bool = false
    ) -> Tensor {
        func selfAttention(_ x: Tensor) -> Tensor {
            dropout1(selfAttn(x, x, x, keyPaddingMask: targetKeyPaddingMask, attentionMask: targetMask,
                              needWeights: false, isCausal: targetIsCausal).output)
        }
        func crossAttention(_ x: Tensor) -> Tensor {
            dropout2(multiheadAttn(x, memory, memory, keyPaddingMask: memoryKeyPaddingMask, attentionMask: memoryMask,
                                   needWeights: false, isCausal: memoryIsCausal).output)
        }
        func feedForward(_ x: Tensor) -> Tensor {
            dropout3(linear2(dropout(activation.apply(linear1(x)))))
        }
        if normFirst {
            var x = target + selfAttention(norm1(target))
            x = x + crossAttention(norm2(x))
            return x + feedForward(norm3(x))
        }
        var x = norm1(target + selfAttention(target))
        x = norm2(x + crossAttention(x))
        return norm3(x + feedForward(x))
    }
}

/// A stack of encoder layers with an optional final LayerNorm, as `nn.TransformerEncoder`
/// (children `layers.0`, `layers.1`, ..., `norm`). Masks go to every layer.
public final class TransformerEncoder: Module, UnaryLayer {
    public let layers: [TransformerEncoderLayer]
    public let norm: LayerNorm?

    public init(layers: [TransformerEncoderLayer], norm: LayerNorm? = nil) {
        require(!layers.isEmpty, "TransformerEncoder: needs at least one layer")
        self.layers = layers
        self.norm = norm
        super.init()
    }

    /// `count` layers, each made by `makeLayer` (called once per layer, so each has its own parameters).
    public convenience init(count: Int, norm: LayerNorm? = nil, _ makeLayer: () -> TransformerEncoderLayer) {
        require(count > 0, "TransformerEncoder: the layer count must be positive, got \(count)")
        self.init(layers: (0..<count).map { _ in makeLayer() }, norm: norm)
    }

    ///
    /// Without gradients to record, in evaluation mode and with a left-aligned `keyPaddingMask`,
    /// the stack runs on the real tokens only and returns zeros at padded positions (before
    /// the final norm), as PyTorch's nested-tensor fast path (see `TransformerPacked.swift`).
    public func callAsFunction(_ source: Tensor, mask: Tensor? = nil, keyPaddingMask: Tensor? = nil, isCausal: Bool = false) -> Tensor {
        if let lengths = packedLengths(source, mask: mask, keyPaddingMask: keyPaddingMask, isCausal: isCausal) {
            return packedForward(source, lengths: lengths)
        }
        var x = source
        for layer in layers { x = layer(x, mask: mask, keyPaddingMask: keyPaddingMask, isCausal: isCausal) }
        return norm.map { $0(x) } ?? x
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { callAsFunction(input, mask: nil) }
}

/// A stack of decoder layers with an optional final LayerNorm, as `nn.TransformerDecoder`
/// (children `layers.N`, `norm`). Masks go to every layer.
public final class TransformerDecoder: Module {
    public let layers: [TransformerDecoderLayer]
    public let norm: LayerNorm?

    public init(layers: [TransformerDecoderLayer], norm: LayerNorm? = nil) {
        require(!layers.isEmpty, "TransformerDecoder: needs at least one layer")
        self.layers = layers
        self.norm = norm
        super.init()
    }

    /// `count` layers, each made by `makeLayer`.
    public convenience init(count: Int, norm: LayerNorm? = nil, _ makeLayer: () -> TransformerDecoderLayer) {
        require(count > 0, "TransformerDecoder: the layer count must be positive, got \(count)")
        self.init(layers: (0..<count).map { _ in makeLayer() }, norm: norm)
    }

    public func callAsFunction(
        _ target: Tensor, memory: Tensor, targetMask: Tensor? = nil, memoryMask: Tensor? = nil,
        targetKeyPaddingMask: Tensor? = nil, memoryKeyPaddingMask: Tensor? = nil,
        targetIsCausal: Bool = false, memoryIsCausal: Bool = false
    ) -> Tensor {
        var x = target
        for layer in layers {
            x = layer(x, memory: memory, targetMask: targetMask, memoryMask: memoryMask,
                      targetKeyPaddingMask: targetKeyPaddingMask, memoryKeyPaddingMask: memoryKeyPaddingMask,
                      targetIsCausal: targetIsCausal, memoryIsCausal: memoryIsCausal)
        }
        return norm.map { $0(x) } ?? x
    }
}

/// The encoder–decoder Transformer, as `nn.Transformer` (children `encoder.layers.N`,
/// `encoder.norm`, `decoder.layers.N`, `decoder.norm`; both stacks end in a LayerNorm).
/// Defaults as PyTorch (dModel 512, 8 heads, 6 + 6 layers, feed-forward 2048, dropout 0.1),
/// except that inputs are batch-first by default. Parameters are initialised per layer as
/// PyTorch's layers are (nn.Transformer's extra Xavier pass over every matrix is not applied).
public final class Transformer: Module {
    public let encoder: TransformerEncoder
    public let decoder: TransformerDecoder

    public init(dModel: Int = 512, heads: Int = 8, encoderLayers: Int = 6, decoderLayers: Int = 6,
                feedForward: Int = 2048, dropout: Double = 0.1, activation: TransformerActivation = .relu,
                layerNormEps: Double = 1e-5, batchFirst: Bool = true, normFirst: Bool = false, bias: Bool = true,
                generator: RandomGenerator = .default) {
        encoder = TransformerEncoder(count: encoderLayers, norm: LayerNorm(dModel, eps: layerNormEps, bias: bias)) {
            TransformerEncoderLayer(dModel: dModel, heads: heads, feedForward: feedForward, dropout: dropout, activation: activation,
                                    layerNormEps: layerNormEps, batchFirst: batchFirst, normFirst: normFirst, bias: bias, generator: generator)
        }
        decoder = TransformerDecoder(count: decoderLayers, norm: LayerNorm(dModel, eps: layerNormEps, bias: bias)) {
            TransformerDecoderLayer(dModel: dModel, heads: heads, feedForward: feedForward, dropout: dropout, activation: activation,
                                    layerNormEps: layerNormEps, batchFirst: batchFirst, normFirst: normFirst, bias: bias, generator: generator)
        }
        super.init()
    }

    /// Encodes `source` and decodes `target` against it. Masks as `nn.Transformer.forward`.
    public func callAsFunction(
        _ source: Tensor, _ target: Tensor, sourceMask: Tensor? = nil, targetMask: Tensor? = nil, memoryMask: Tensor? = nil,
        sourceKeyPaddingMask: Tensor? = nil, targetKeyPaddingMask: Tensor? = nil, memoryKeyPaddingMask: Tensor? = nil,
        sourceIsCausal: Bool = false, targetIsCausal: Bool = false, memoryIsCausal: Bool = false
    ) -> Tensor {
        let memory = encoder(source, mask: sourceMask, keyPaddingMask: sourceKeyPaddingMask, isCausal: sourceIsCausal)
        return decoder(target, memory: memory, targetMask: targetMask, memoryMask: memoryMask,
                       targetKeyPaddingMask: targetKeyPaddingMask, memoryKeyPaddingMask: memoryKeyPaddingMask,
                       targetIsCausal: targetIsCausal, memoryIsCausal: memoryIsCausal)
    }

    /// The additive causal mask [size, size]: 0 on and below the diagonal, −inf above, as
    /// `nn.Transformer.generate_square_subsequent_mask` (or pass `isCausal: true` and no mask).
    public static func causalMask(size: Int, dtype: DType = .float32) -> Tensor {
        require(size >= 0, "Transformer.causalMask: size must be non-negative, got \(size)")
        var values = [Double](repeating: 0, count: size * size)
        for i in 0..<size { for j in (i + 1)..<size { values[i * size + j] = -.infinity } }
        return Tensor(values, shape: [size, size]).to(dtype)
    }
}
