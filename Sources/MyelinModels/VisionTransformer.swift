import Foundation
import MyelinCore
import MyelinNN

/// One encoder block of the Vision Transformer, as torchvision's `EncoderBlock` (children
/// "ln_1", "self_attention", "dropout", "ln_2", "mlp.0" / "mlp.3" the two linears): pre-norm
/// self-attention and a GELU MLP, each with a residual connection.
public final class ViTEncoderBlock: Module, UnaryLayer, SummaryTraceable {
    public let ln1: LayerNorm
    public let selfAttention: MultiHeadAttention
    public let dropout: Dropout
    public let ln2: LayerNorm
    /// Linear(width, mlpWidth) → GELU → Dropout → Linear(mlpWidth, width) → Dropout.
    public let mlp: Sequential

    public init(width: Int, heads: Int, mlpWidth: Int, dropout: Double = 0, attentionDropout: Double = 0,
                generator: RandomGenerator = .default) {
        ln1 = LayerNorm(width, eps: 1e-6)
        selfAttention = MultiHeadAttention(embedDim: width, heads: heads, dropout: attentionDropout, generator: generator)
        self.dropout = Dropout(dropout, generator: generator)
        ln2 = LayerNorm(width, eps: 1e-6)
        let fc1 = Linear(width, mlpWidth, generator: generator), fc2 = Linear(mlpWidth, width, generator: generator)
        // torchvision's MLPBlock: Xavier-uniform weights, biases N(0, 1e-6).
        for fc in [fc1, fc2] {
            Init.xavierUniform(fc.$weight, generator: generator)
            if let b = fc.bias { Init.normal(b, std: 1e-6, generator: generator) }
        }
        mlp = Sequential {
            fc1
            GELU()
            Dropout(dropout, generator: generator)
            fc2
            Dropout(dropout, generator: generator)
        }
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("ln_1", ln1), ("self_attention", selfAttention), ("dropout", dropout), ("ln_2", ln2), ("mlp", mlp)]
    }

    /// Tokens [N, L, width] → [N, L, width].
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let y = ln1(input)
        let x = input + dropout(selfAttention(y, y, y, needWeights: false).output)
        return x + mlp(ln2(x))
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        let s = t.trace(ln1, name: "ln_1", input: input)
        // Projections (4·L·E² per sample) and the two attention products (2·L²·E).
        let l = s.count == 3 ? s[1] : 1, e = selfAttention.embedDim
        t.traceLeaf(selfAttention, name: "self_attention", input: s, output: s,
                    macs: s.dropLast(2).reduce(1, *) * (4 * l * e * e + 2 * l * l * e))
        t.trace(dropout, name: "dropout", input: s)
        let m = t.trace(ln2, name: "ln_2", input: s)
        return t.trace(mlp, name: "mlp", input: m)
    }
}

/// The Vision Transformer's encoder, as torchvision's `Encoder`: learned position embeddings
/// ("pos_embedding" [1, L, width]) added to the tokens, dropout, the blocks
/// ("layers.encoder_layer_N") and a final LayerNorm ("ln").
public final class ViTEncoder: Module, UnaryLayer, SummaryTraceable {
    @Parameter public var posEmbedding: Tensor
    public let dropout: Dropout
    public let layers: [ViTEncoderBlock]
    public let ln: LayerNorm

    public init(sequenceLength: Int, layers: Int, heads: Int, width: Int, mlpWidth: Int, dropout: Double = 0,
                attentionDropout: Double = 0, generator: RandomGenerator = .default) {
        _posEmbedding = Parameter(wrappedValue: Tensor.normal([1, sequenceLength, width], std: 0.02, generator: generator))
        self.dropout = Dropout(dropout, generator: generator)
        self.layers = (0..<layers).map { _ in
            ViTEncoderBlock(width: width, heads: heads, mlpWidth: mlpWidth, dropout: dropout, attentionDropout: attentionDropout,
                            generator: generator)
        }
        ln = LayerNorm(width, eps: 1e-6)
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("dropout", dropout)] + layers.enumerated().map { ("layers.encoder_layer_\($0.offset)", $0.element) } + [("ln", ln)]
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        require(input.rank == 3 && Array(input.shape.dropFirst()) == Array(posEmbedding.shape.dropFirst()),
                "ViTEncoder: tokens of shape \(input.shape) must be [batch, \(posEmbedding.shape[1]), \(posEmbedding.shape[2])]")
        var x = dropout(input + posEmbedding)
        for layer in layers { x = layer(x) }
        return ln(x)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        var s = t.trace(dropout, name: "dropout", input: input)
        for (i, layer) in layers.enumerated() { s = t.trace(layer, name: "layers.encoder_layer_\(i)", input: s) }
        return t.trace(ln, name: "ln", input: s)
    }
}

/// The Vision Transformer (Dosovitskiy et al., 2020) with torchvision's names ("conv_proj",
/// "class_token", "encoder.pos_embedding", "encoder.layers.encoder_layer_N.ln_1",
/// ".self_attention.in_proj_weight", ".mlp.0.weight", "encoder.ln", "heads.head"): the image
/// cut into patches by a convolution with kernel = stride = patch, a learned class token in
/// front, learned position embeddings, a pre-norm encoder, and a linear head on the class
/// token's final state (the class token's features when `includeTop` is false).
///
///     VisionTransformer.b16()          // torchvision's vit_b_16: 86,567,656 parameters
///     VisionTransformer(imageSize: 28, patchSize: 7, layers: 4, heads: 4, width: 64, mlpWidth: 128,
///                       classes: 10, inputChannels: 1)
///
/// Initialisation as torchvision: patch projection N(0, 1/fan_in) (torchvision truncates it
/// at ±2σ), class token 0, positions N(0, 0.02), MLP Xavier, head 0.
public final class VisionTransformer: Module, UnaryLayer, SummaryTraceable {
    public let convProj: Conv2D
    @Parameter public var classToken: Tensor
    public let encoder: ViTEncoder
    public let head: Linear?
    public let imageSize: IntPair, patchSize: Int, width: Int, inputChannels: Int, classes: Int

    /// - Parameters:
    ///   - imageSize: the input's height and width; patches cover floor(H / patch) × floor(W / patch).
    public init(imageSize: IntPair, patchSize: Int, layers: Int, heads: Int, width: Int, mlpWidth: Int, classes: Int = 1000,
                includeTop: Bool = true, inputChannels: Int = 3, dropout: Double = 0, attentionDropout: Double = 0,
                generator: RandomGenerator = .default) {
        require(patchSize > 0 && layers > 0 && heads > 0 && width > 0 && mlpWidth > 0 && classes > 0 && inputChannels > 0,
                "VisionTransformer: patch \(patchSize), layers \(layers), heads \(heads), width \(width), MLP width \(mlpWidth), "
                + "classes \(classes) and input channels \(inputChannels) must be positive")
        require(width % heads == 0, "VisionTransformer: width \(width) must be divisible by heads \(heads)")
        require(imageSize.height >= patchSize && imageSize.width >= patchSize,
                "VisionTransformer: image \(imageSize.height)×\(imageSize.width) is smaller than one \(patchSize)×\(patchSize) patch")
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.width = width
        self.inputChannels = inputChannels
        self.classes = classes
        convProj = Conv2D(inputChannels, width, IntPair(patchSize), stride: IntPair(patchSize), generator: generator)
        Init.normal(convProj.$weight, std: (1 / Double(inputChannels * patchSize * patchSize)).squareRoot(), generator: generator)
        if let b = convProj.bias { Init.zeros(b) }
        _classToken = Parameter(wrappedValue: Tensor.zeros([1, 1, width]))
        let patches = (imageSize.height / patchSize) * (imageSize.width / patchSize)
        encoder = ViTEncoder(sequenceLength: patches + 1, layers: layers, heads: heads, width: width, mlpWidth: mlpWidth,
                             dropout: dropout, attentionDropout: attentionDropout, generator: generator)
        if includeTop {
            let h = Linear(width, classes, generator: generator)
            Init.zeros(h.$weight)
            if let b = h.bias { Init.zeros(b) }
            head = h
        } else {
            head = nil
        }
        super.init()
    }

    public convenience init(imageSize: Int, patchSize: Int, layers: Int, heads: Int, width: Int, mlpWidth: Int, classes: Int = 1000,
                            includeTop: Bool = true, inputChannels: Int = 3, dropout: Double = 0, attentionDropout: Double = 0,
                            generator: RandomGenerator = .default) {
        self.init(imageSize: IntPair(imageSize), patchSize: patchSize, layers: layers, heads: heads, width: width, mlpWidth: mlpWidth,
                  classes: classes, includeTop: includeTop, inputChannels: inputChannels, dropout: dropout,
                  attentionDropout: attentionDropout, generator: generator)
    }

    /// torchvision's vit_b_16: 224×224, patch 16, 12 layers, 12 heads, width 768, MLP 3072.
    public static func b16(classes: Int = 1000, includeTop: Bool = true, inputChannels: Int = 3, imageSize: Int = 224,
                           generator: RandomGenerator = .default) -> VisionTransformer {
        VisionTransformer(imageSize: imageSize, patchSize: 16, layers: 12, heads: 12, width: 768, mlpWidth: 3072, classes: classes,
                          includeTop: includeTop, inputChannels: inputChannels, generator: generator)
    }

    /// The parameter count of a configuration, without building it:
    /// C·P²·D + D (patch projection) + D (class token) + (N + 1)·D (positions)
    /// + layers · (4·D² + 4·D (attention) + 2·D·M + M + D (MLP) + 4·D (two LayerNorms))
    /// + 2·D (final LayerNorm) + D·K + K (head).
    public static func parameterCount(imageSize: IntPair, patchSize: Int, layers: Int, width d: Int, mlpWidth m: Int,
                                      classes k: Int = 1000, includeTop: Bool = true, inputChannels c: Int = 3) -> Int {
        let n = (imageSize.height / patchSize) * (imageSize.width / patchSize)
        let block = 4 * d * d + 4 * d + 2 * d * m + m + d + 4 * d
        return c * patchSize * patchSize * d + d + d + (n + 1) * d + layers * block + 2 * d + (includeTop ? d * k + k : 0)
    }

    override public func namedChildren() -> [(String, Module)] {
        [("conv_proj", convProj), ("encoder", encoder)] + (head.map { [("heads.head", $0 as Module)] } ?? [])
    }

    var name: String {
        "VisionTransformer(\(inputChannels)×\(imageSize.height)×\(imageSize.width), patch \(patchSize), width \(width))"
    }

    /// Images [N, C, H, W] → logits [N, classes] (or the class token's features [N, width]).
    public func callAsFunction(_ input: Tensor) -> Tensor {
        require(input.rank == 4 && input.shape[1] == inputChannels && input.shape[2] == imageSize.height && input.shape[3] == imageSize.width,
                "\(name): input of shape \(input.shape) must be [batch, \(inputChannels), \(imageSize.height), \(imageSize.width)]")
        let p = convProj(input)
        let n = p.shape[0], tokens = p.shape[2] * p.shape[3]
        let patches = p.reshaped([n, width, tokens]).permuted([0, 2, 1])
        let x = encoder(Tensor.concat([classToken.expanded(to: [n, 1, width]), patches], axis: 1))
        let cls = x[.all, 0]
        return head.map { $0(cls) } ?? cls
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        let p = t.trace(convProj, name: "conv_proj", input: input)
        let s = t.trace(encoder, name: "encoder", input: [p[0], p[2] * p[3] + 1, width])
        guard let head else { return [s[0], width] }
        return t.trace(head, name: "heads.head", input: [s[0], width])
    }
}

extension VisionModels {
    static let vitEntries: [VisionModelEntry] = [
        VisionModelEntry("vit-mnist", "a small Vision Transformer for 28×28 digits: patch 7 (16 tokens + class), width 64, 4 layers, 4 heads, MLP 128",
                         minimumSize: 7, defaultInputShape: [1, 28, 28], defaultClasses: 10) { o, g in
            VisionTransformer(imageSize: o.imageSize ?? IntPair(28), patchSize: 7, layers: 4, heads: 4, width: 64, mlpWidth: 128,
                              classes: o.classes, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
        },
        VisionModelEntry("vit-b-16", "ViT-B/16, torchvision's vit_b_16 (patch 16, 12 layers, width 768, 86.6 M parameters)",
                         minimumSize: 16) { o, g in
            VisionTransformer(imageSize: o.imageSize ?? IntPair(224), patchSize: 16, layers: 12, heads: 12, width: 768, mlpWidth: 3072,
                              classes: o.classes, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
        },
    ]
}
