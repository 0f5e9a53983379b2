import MyelinCore

/// A 2-D convolution layer over [N, C, H, W] input, as PyTorch's `nn.Conv2d`:
/// weight [outChannels, inChannels/groups, kh, kw] and bias [outChannels], named
/// "weight" and "bias", so PyTorch state dicts load by name.
///
///     Conv2D(3, 6, 5)                               // 5×5, stride 1, no padding
///     Conv2D(16, 32, 3, stride: 2, padding: 1)
///     Conv2D(32, 32, 3, padding: .same, groups: 32) // depthwise
///
/// Initialised as PyTorch does (kaiming_uniform with a = √5): weight and bias
/// uniform in ±1/√fanIn, fanIn = inChannels/groups · kh · kw.
public final class Conv2D: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    public let bias: Parameter?
    public let inChannels: Int, outChannels: Int
    public let kernelSize: IntPair, stride: IntPair, padding: Padding2D, dilation: IntPair
    public let groups: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, _ kernelSize: IntPair,
        stride: IntPair = 1, padding: Padding2D = 0, dilation: IntPair = 1, groups: Int = 1,
        bias: Bool = true, generator: RandomGenerator = .default
    ) {
        let name = "Conv2D(\(inChannels) → \(outChannels), \(kernelSize.area))"
        require(inChannels > 0 && outChannels > 0, "\(name): channel counts must be positive")
        require(kernelSize.height > 0 && kernelSize.width > 0, "\(name): kernel size must be positive")
        require(stride.height > 0 && stride.width > 0, "\(name): stride must be positive, got \(stride)")
        require(dilation.height > 0 && dilation.width > 0, "\(name): dilation must be positive, got \(dilation)")
        require(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                "\(name): groups \(groups) must divide both \(inChannels) input and \(outChannels) output channels")
        if padding == .same {
            require(stride == 1, "\(name): padding .same needs stride 1 (got stride \(stride)), as in PyTorch")
        }
        if case let .explicit(t, b, l, r) = padding {
            require(t >= 0 && b >= 0 && l >= 0 && r >= 0, "\(name): padding \(padding) must not be negative")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        let fanIn = inChannels / groups * kernelSize.height * kernelSize.width
        let bound = 1 / Double(fanIn).squareRoot()
        let shape = [outChannels, inChannels / groups, kernelSize.height, kernelSize.width]
        _weight = Parameter(wrappedValue: Tensor.uniform(shape, low: -bound, high: bound, generator: generator))
        self.bias = bias ? Parameter(wrappedValue: Tensor.uniform([outChannels], low: -bound, high: bound, generator: generator)) : nil
        super.init()
    }

    /// "Conv2D(3 → 6, 5×5)", with stride, padding, dilation and groups when not the defaults.
    public var layerDescription: String {
        var s = "Conv2D(\(inChannels) → \(outChannels), \(kernelSize.area)"
        if stride != 1 { s += ", stride \(stride)" }
        if padding != 0 { s += ", padding \(padding)" }
        if dilation != 1 { s += ", dilation \(dilation)" }
        if groups != 1 { s += ", groups \(groups)" }
        return s + ")"
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        require(x.rank == 4 || x.rank == 3,
                "\(layerDescription): input must be [N, C, H, W] or [C, H, W], got shape \(x.shape)")
        let c = x.shape[x.rank - 3]
        require(c == inChannels, "\(layerDescription): input has \(c) channels, expected \(inChannels) (input shape \(x.shape))")
        let (pt, pb, pl, pr) = padding.resolved(kernel: kernelSize, dilation: dilation)
        let h = x.shape[x.rank - 2] + pt + pb, w = x.shape[x.rank - 1] + pl + pr
        let eh = dilation.height * (kernelSize.height - 1) + 1, ew = dilation.width * (kernelSize.width - 1) + 1
        require(h >= eh && w >= ew,
                "\(layerDescription): input \(x.shape[x.rank - 2])×\(x.shape[x.rank - 1])"
                + (pt + pb + pl + pr > 0 ? " (padded to \(h)×\(w))" : "")
                + " is smaller than the kernel \(kernelSize.area)" + (eh != kernelSize.height || ew != kernelSize.width ? " (dilated to \(eh)×\(ew))" : "")
                + " (input shape \(x.shape))")
        return conv2d(x, weight: weight, bias: bias?.value, stride: stride, padding: padding,
                      dilation: dilation, groups: groups)
    }
}
