import MyelinCore
import MyelinNN

/// U-Net's two 3×3 convolutions, each followed by (batch norm and) ReLU, named as
/// milesial/Pytorch-UNet's `DoubleConv`: "double_conv.0" (conv), "double_conv.1" (BN), ...
/// With batch norm the convolutions have no bias (BN's shift replaces it); without, they do.
public final class DoubleConv: Module, UnaryLayer, SummaryTraceable {
    public let doubleConv: Sequential

    public init(_ inChannels: Int, _ outChannels: Int, midChannels: Int? = nil, batchNorm: Bool = true,
                padding: Padding2D = 1, generator: RandomGenerator = .default) {
        let mid = midChannels ?? outChannels
        doubleConv = Sequential {
            Conv2D(inChannels, mid, 3, padding: padding, bias: !batchNorm, generator: generator)
            if batchNorm { BatchNorm2D(mid) }
            ReLU()
            Conv2D(mid, outChannels, 3, padding: padding, bias: !batchNorm, generator: generator)
            if batchNorm { BatchNorm2D(outChannels) }
            ReLU()
        }
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { doubleConv(x) }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] { t.trace(doubleConv, name: "double_conv", input: input) }
}

/// U-Net's contracting step: 2×2 max-pooling, then a `DoubleConv` ("maxpool_conv.0", "maxpool_conv.1").
public final class UNetDown: Module, UnaryLayer, SummaryTraceable {
    public let maxpoolConv: Sequential

    public init(_ inChannels: Int, _ outChannels: Int, batchNorm: Bool, padding: Padding2D, generator: RandomGenerator) {
        maxpoolConv = Sequential {
            MaxPool2D(2)
            DoubleConv(inChannels, outChannels, batchNorm: batchNorm, padding: padding, generator: generator)
        }
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { maxpoolConv(x) }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] { t.trace(maxpoolConv, name: "maxpool_conv", input: input) }
}

/// U-Net's expanding step: up-samples (2×2 transposed convolution halving the channels, or
/// bilinear ×2), joins the skip connection as `torch.cat([skip, upsampled], dim=1)`, then a
/// `DoubleConv`. "Same" U-Nets pad the up-sampled map to the skip's size (milesial's `F.pad`,
/// the extra row/column at the bottom/right); "valid" U-Nets crop the skip to the up-sampled
/// size around its centre (the paper; top/left offset ⌊difference/2⌋).
public final class UNetUp: Module {
    /// `ConvTranspose2D(c, c/2, 2, stride: 2)` ("up.weight") or `Upsample(scaleFactor: 2, mode: .bilinear, alignCorners: true)`.
    public let up: any UnaryLayer
    public let conv: DoubleConv
    public let cropsSkip: Bool

    public init(_ inChannels: Int, _ outChannels: Int, bilinear: Bool, batchNorm: Bool, padding: Padding2D,
                generator: RandomGenerator) {
        if bilinear {
            up = Upsample(scaleFactor: 2, mode: .bilinear, alignCorners: true)
            conv = DoubleConv(inChannels, outChannels, midChannels: inChannels / 2, batchNorm: batchNorm, padding: padding,
                              generator: generator)
        } else {
            up = ConvTranspose2D(inChannels, inChannels / 2, 2, stride: 2, generator: generator)
            conv = DoubleConv(inChannels, outChannels, batchNorm: batchNorm, padding: padding, generator: generator)
        }
        cropsSkip = padding == .valid
        super.init()
    }

    /// Up-samples `x` and joins `skip` (the encoder's map at this level).
    public func callAsFunction(_ x: Tensor, skip: Tensor) -> Tensor {
        var x1 = up.callWithHooks(x), x2 = skip
        let dy = x2.shape[2] - x1.shape[2], dx = x2.shape[3] - x1.shape[3]
        require(dy >= 0 && dx >= 0, "UNetUp: the up-sampled map \(x1.shape) is larger than the skip connection \(skip.shape)")
        if cropsSkip {
            x2 = x2.slice(axis: 2, start: dy / 2, end: dy / 2 + x1.shape[2]).slice(axis: 3, start: dx / 2, end: dx / 2 + x1.shape[3])
        } else if dy > 0 || dx > 0 {
            x1 = x1.padded(last: [(dx / 2, dx - dx / 2), (dy / 2, dy - dy / 2)])
        }
        return conv.callWithHooks(Tensor.concat([x2, x1], axis: 1))
    }

    /// Traces this block for the summary; returns its output shape.
    func traceSummary(_ t: SummaryTracer, name: String, input: [Int], skip: [Int]) -> [Int] {
        t.trace(self, name: name, input: input) { t in
            let u = t.trace(up, name: "up", input: input)
            let spatial = cropsSkip ? Array(u[2...]) : Array(skip[2...])
            return t.trace(conv, name: "conv", input: [u[0], skip[1] + u[1]] + spatial)
        }
    }
}

/// U-Net's last layer: a 1×1 convolution to the classes ("outc.conv").
public final class UNetOutConv: Module, UnaryLayer, SummaryTraceable {
    public let conv: Conv2D
    public init(_ inChannels: Int, _ classes: Int, generator: RandomGenerator) {
        conv = Conv2D(inChannels, classes, 1, generator: generator)
        super.init()
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { conv(x) }
    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] { t.trace(conv, name: "conv", input: input) }
}

/// U-Net (Ronneberger, Fischer and Brox, 2015) with the names of the most-used PyTorch
/// implementation, milesial/Pytorch-UNet ("inc.double_conv.0.weight",
/// "down1.maxpool_conv.1.double_conv.0.weight", "up1.up.weight", "up1.conv.double_conv.0.weight",
/// "outc.conv.weight"), so its checkpoints saved as safetensors load by name.
///
///     UNet(classes: 2)                    milesial's: batch norm, "same" padding (output H×W = input H×W),
///                                         transposed-convolution up-sampling; 31,037,698 parameters for 3 → 2
///     UNet.paper()                        the paper's: 1 channel in, 2 classes, no batch norm, valid
///                                         convolutions, 572×572 → 388×388; 31,030,658 parameters
///     UNet(classes: 2, upsampling: .bilinear)  milesial's `bilinear=True` (bottleneck and decoder halved)
///
/// `depth` is the number of 2×2 poolings (4 in the paper), `baseWidth` the channels of the first
/// level (64), doubling at each level. With `.same` padding any H and W ≥ 2^depth work (odd sizes
/// are padded on the way up, as milesial's); with `.valid` the output is smaller than the input
/// (`outputSize(for:)`). `includeTop: false` leaves out `outc`: the last decoder map, [N, baseWidth, H', W'].
public final class UNet: Module, UnaryLayer, SummaryTraceable {
    public enum Padding: String, Sendable, CaseIterable {
        /// 3×3 convolutions padded by 1: every level keeps its size.
        case same
        /// Unpadded 3×3 convolutions (the paper): each loses 2 pixels; skips are centre-cropped.
        case valid
    }

    public enum Upsampling: String, Sendable, CaseIterable {
        /// 2×2 transposed convolution with stride 2, halving the channels (the paper's "up-convolution").
        case transposed
        /// Bilinear ×2 (align corners, as milesial's), then the convolutions halve the channels.
        case bilinear
    }

    public let inc: DoubleConv
    public let downs: [UNetDown]
    public let ups: [UNetUp]
    public let outc: UNetOutConv?
    public let depth: Int, baseWidth: Int, classes: Int
    public let padding: Padding, upsampling: Upsampling

    public init(classes: Int = 2, inputChannels: Int = 3, baseWidth: Int = 64, depth: Int = 4, padding: Padding = .same,
                upsampling: Upsampling = .transposed, batchNorm: Bool = true, includeTop: Bool = true,
                generator: RandomGenerator = .default) {
        require(classes > 0 && inputChannels > 0, "UNet: classes and inputChannels must be positive, got \(classes) and \(inputChannels)")
        require(depth >= 1 && baseWidth >= 1, "UNet: depth and baseWidth must be positive, got \(depth) and \(baseWidth)")
        let pad: Padding2D = padding == .same ? 1 : .valid
        let factor = upsampling == .bilinear ? 2 : 1
        let w = (0...depth).map { baseWidth << $0 }
        inc = DoubleConv(inputChannels, w[0], batchNorm: batchNorm, padding: pad, generator: generator)
        downs = (1...depth).map { k in
            UNetDown(w[k - 1], w[k] / (k == depth ? factor : 1), batchNorm: batchNorm, padding: pad, generator: generator)
        }
        ups = (1...depth).map { i in
            let k = depth - i
            return UNetUp(w[k + 1], k == 0 ? w[0] : w[k] / factor, bilinear: upsampling == .bilinear, batchNorm: batchNorm,
                          padding: pad, generator: generator)
        }
        outc = includeTop ? UNetOutConv(w[0], classes, generator: generator) : nil
        (self.depth, self.baseWidth, self.classes, self.padding, self.upsampling) = (depth, baseWidth, classes, padding, upsampling)
        super.init()
    }

    /// The paper's network: 1 input channel, 2 classes, 64 base channels, 4 poolings, valid
    /// convolutions, no batch norm, transposed-convolution up-sampling (572×572 → 388×388).
    public static func paper(classes: Int = 2, inputChannels: Int = 1, includeTop: Bool = true,
                             generator: RandomGenerator = .default) -> UNet {
        UNet(classes: classes, inputChannels: inputChannels, padding: .valid, batchNorm: false, includeTop: includeTop,
             generator: generator)
    }

    /// Names as milesial's: "inc", "down1"…, "up1"…, "outc".
    override public func namedChildren() -> [(String, Module)] {
        [("inc", inc)] + downs.enumerated().map { ("down\($0.offset + 1)", $0.element) }
            + ups.enumerated().map { ("up\($0.offset + 1)", $0.element) } + (outc.map { [("outc", $0)] } ?? [])
    }

    /// The output height (or width) for an input of `size`, or nil when the input is too small.
    public func outputSize(for size: Int) -> Int? { Self.outputSize(for: size, depth: depth, padding: padding) }

    public static func outputSize(for size: Int, depth: Int, padding: Padding) -> Int? {
        let shrink = padding == .valid ? 4 : 0
        var s = size - shrink
        guard s >= 1 else { return nil }
        var skips = [s]
        for _ in 0..<depth {
            s = s / 2 - shrink
            guard s >= 1 else { return nil }
            skips.append(s)
        }
        skips.removeLast()
        for skip in skips.reversed() {
            s *= 2
            guard s <= skip else { return nil }
            s = (padding == .valid ? s : skip) - shrink
            guard s >= 1 else { return nil }
        }
        return s
    }

    /// The smallest input height/width that gives a non-empty output (2^depth for `.same`).
    public static func minimumInputSize(depth: Int, padding: Padding) -> Int {
        var n = 1
        while outputSize(for: n, depth: depth, padding: padding) == nil { n += 1 }
        return n
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        require(input.rank == 4, "UNet: input must be [N, C, H, W], got shape \(input.shape)")
        require(outputSize(for: input.shape[2]) != nil && outputSize(for: input.shape[3]) != nil,
                "UNet: input \(input.shape[2])×\(input.shape[3]) is too small for depth \(depth) with \(padding) padding "
                + "(at least \(Self.minimumInputSize(depth: depth, padding: padding)) on each side)")
        // Children run through callWithHooks (a two-input UNetUp is observed through its up and conv).
        var skips = [inc.callWithHooks(input)]
        for down in downs { skips.append(down.callWithHooks(skips[skips.count - 1])) }
        var x = skips.removeLast()
        for up in ups { x = up(x, skip: skips.removeLast()) }
        return outc.map { $0.callWithHooks(x) } ?? x
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        var skips = [t.trace(inc, name: "inc", input: input)]
        for (k, down) in downs.enumerated() { skips.append(t.trace(down, name: "down\(k + 1)", input: skips[skips.count - 1])) }
        var s = skips.removeLast()
        for (k, up) in ups.enumerated() { s = up.traceSummary(t, name: "up\(k + 1)", input: s, skip: skips.removeLast()) }
        return outc.map { t.trace($0, name: "outc", input: s) } ?? s
    }
}

extension VisionModels {
    static let uNetEntries: [VisionModelEntry] = [
        VisionModelEntry("unet", "U-Net as milesial/Pytorch-UNet (batch norm, same padding, transposed convolutions)",
                         minimumSize: UNet.minimumInputSize(depth: 4, padding: .same), defaultClasses: 2) { o, g in
            UNet(classes: o.classes, inputChannels: o.inputChannels, includeTop: o.includeTop, generator: g)
        },
        VisionModelEntry("unet-bilinear", "U-Net as milesial's bilinear variant (bilinear up-sampling, 17.3 M parameters)",
                         minimumSize: UNet.minimumInputSize(depth: 4, padding: .same), defaultClasses: 2) { o, g in
            UNet(classes: o.classes, inputChannels: o.inputChannels, upsampling: .bilinear, includeTop: o.includeTop, generator: g)
        },
        VisionModelEntry("unet-paper", "U-Net as in the paper (valid convolutions, no batch norm; 572×572 → 388×388)",
                         minimumSize: UNet.minimumInputSize(depth: 4, padding: .valid), defaultInputShape: [1, 572, 572],
                         defaultClasses: 2) { o, g in
            UNet.paper(classes: o.classes, inputChannels: o.inputChannels, includeTop: o.includeTop, generator: g)
        },
    ]
}
