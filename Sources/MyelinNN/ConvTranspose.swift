import MyelinCore

/// A 2-D transposed convolution layer over [N, C, H, W] input, as PyTorch's
/// `nn.ConvTranspose2d`: weight [inChannels, outChannels/groups, kh, kw] and bias
/// [outChannels], named "weight" and "bias", so PyTorch state dicts load by name.
///
///     ConvTranspose2D(16, 8, 2, stride: 2)                        // doubles H and W
///     ConvTranspose2D(16, 8, 3, stride: 2, padding: 1, outputPadding: 1)
///
/// Initialised as PyTorch does (kaiming_uniform with a = √5 on this weight shape):
/// weight and bias uniform in ±1/√fanIn, fanIn = outChannels/groups · kh · kw.
public final class ConvTranspose2D: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    public let bias: Parameter?
    public let inChannels: Int, outChannels: Int
    public let kernelSize: IntPair, stride: IntPair, padding: IntPair, outputPadding: IntPair, dilation: IntPair
    public let groups: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, _ kernelSize: IntPair,
        stride: IntPair = 1, padding: IntPair = 0, outputPadding: IntPair = 0, groups: Int = 1, dilation: IntPair = 1,
        bias: Bool = true, generator: RandomGenerator = .default
    ) {
        let name = "ConvTranspose2D(\(inChannels) → \(outChannels), \(kernelSize.area))"
        require(inChannels > 0 && outChannels > 0, "\(name): channel counts must be positive")
        require(kernelSize.height > 0 && kernelSize.width > 0, "\(name): kernel size must be positive")
        require(stride.height > 0 && stride.width > 0, "\(name): stride must be positive, got \(stride)")
        require(dilation.height > 0 && dilation.width > 0, "\(name): dilation must be positive, got \(dilation)")
        require(padding.height >= 0 && padding.width >= 0, "\(name): padding must not be negative, got \(padding)")
        require(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                "\(name): groups \(groups) must divide both \(inChannels) input and \(outChannels) output channels")
        require(outputPadding.height >= 0 && outputPadding.width >= 0
                && (outputPadding.height < stride.height || outputPadding.height < dilation.height)
                && (outputPadding.width < stride.width || outputPadding.width < dilation.width),
                "\(name): output padding \(outputPadding) must be non-negative and smaller than either the stride \(stride) or the dilation \(dilation)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.dilation = dilation
        self.groups = groups
        let fanIn = outChannels / groups * kernelSize.height * kernelSize.width
        let bound = 1 / Double(fanIn).squareRoot()
        let shape = [inChannels, outChannels / groups, kernelSize.height, kernelSize.width]
        _weight = Parameter(wrappedValue: Tensor.uniform(shape, low: -bound, high: bound, generator: generator))
        self.bias = bias ? Parameter(wrappedValue: Tensor.uniform([outChannels], low: -bound, high: bound, generator: generator)) : nil
        super.init()
    }

    /// "ConvTranspose2D(16 → 8, 3×3, stride 2)", with the arguments that are not the defaults.
    public var layerDescription: String {
        var s = "ConvTranspose2D(\(inChannels) → \(outChannels), \(kernelSize.area)"
        if stride != 1 { s += ", stride \(stride)" }
        if padding != 0 { s += ", padding \(padding)" }
        if outputPadding != 0 { s += ", output padding \(outputPadding)" }
        if dilation != 1 { s += ", dilation \(dilation)" }
        if groups != 1 { s += ", groups \(groups)" }
        return s + ")"
    }

    /// The output height and width for an input of `h`×`w`.
    public func outputSize(height h: Int, width w: Int) -> IntPair {
        IntPair((h - 1) * stride.height - 2 * padding.height + dilation.height * (kernelSize.height - 1) + outputPadding.height + 1,
                (w - 1) * stride.width - 2 * padding.width + dilation.width * (kernelSize.width - 1) + outputPadding.width + 1)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        require(x.rank == 4 || x.rank == 3,
                "\(layerDescription): input must be [N, C, H, W] or [C, H, W], got shape \(x.shape)")
        let c = x.shape[x.rank - 3]
        require(c == inChannels, "\(layerDescription): input has \(c) channels, expected \(inChannels) (input shape \(x.shape))")
        let size = outputSize(height: x.shape[x.rank - 2], width: x.shape[x.rank - 1])
        require(size.height > 0 && size.width > 0,
                "\(layerDescription): input shape \(x.shape) gives an empty output \(size.area)")
        return convTranspose2d(x, weight: weight, bias: bias?.value, stride: stride, padding: padding,
                               outputPadding: outputPadding, groups: groups, dilation: dilation)
    }
}
