import MyelinCore

/// 2-D max pooling, as PyTorch's `nn.MaxPool2d`: `MaxPool2D(2)` halves height and width.
/// The stride defaults to the kernel size. No parameters.
public final class MaxPool2D: Module, UnaryLayer {
    public let kernelSize: IntPair, stride: IntPair, padding: IntPair, dilation: IntPair
    public let ceilMode: Bool

    public init(_ kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0, dilation: IntPair = 1, ceilMode: Bool = false) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
        super.init()
        poolCheckArguments(layerDescription, kernelSize, self.stride, padding, dilation)
    }

    public var layerDescription: String {
        "MaxPool2D(\(kernelSize.area)" + (stride != kernelSize ? ", stride \(stride)" : "")
            + (padding != 0 ? ", padding \(padding)" : "") + (dilation != 1 ? ", dilation \(dilation)" : "")
            + (ceilMode ? ", ceilMode" : "") + ")"
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        poolCheckInput(layerDescription, x, kernel: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
        return maxPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
    }
}

/// 2-D average pooling, as PyTorch's `nn.AvgPool2d` (padded zeros count in the
/// divisor unless `countIncludePad` is false). No parameters.
public final class AvgPool2D: Module, UnaryLayer {
    public let kernelSize: IntPair, stride: IntPair, padding: IntPair
    public let ceilMode: Bool, countIncludePad: Bool

    public init(_ kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
        super.init()
        poolCheckArguments(layerDescription, kernelSize, self.stride, padding, 1)
    }

    public var layerDescription: String {
        "AvgPool2D(\(kernelSize.area)" + (stride != kernelSize ? ", stride \(stride)" : "")
            + (padding != 0 ? ", padding \(padding)" : "") + (ceilMode ? ", ceilMode" : "")
            + (countIncludePad ? "" : ", countIncludePad: false") + ")"
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        poolCheckInput(layerDescription, x, kernel: kernelSize, stride: stride, padding: padding, dilation: 1, ceilMode: ceilMode)
        return avgPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode,
                         countIncludePad: countIncludePad)
    }
}

/// Average pooling to a fixed output size whatever the input size, as PyTorch's
/// `nn.AdaptiveAvgPool2d` (ResNet's and VGG's head). No parameters.
public final class AdaptiveAvgPool2D: Module, UnaryLayer {
    public let outputSize: IntPair

    public init(_ outputSize: IntPair) {
        require(outputSize.height >= 1 && outputSize.width >= 1, "AdaptiveAvgPool2D: output size must be ≥ 1, got \(outputSize)")
        self.outputSize = outputSize
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        require(x.rank == 4 || x.rank == 3, "AdaptiveAvgPool2D(\(outputSize.area)): input must be [N, C, H, W] or [C, H, W], got shape \(x.shape)")
        return adaptiveAvgPool2d(x, outputSize: outputSize)
    }
}

/// The mean over height and width, [N, C, H, W] → [N, C] (Keras' GlobalAveragePooling2D;
/// `keepDims: true` gives [N, C, 1, 1] as `AdaptiveAvgPool2D(1)`). No parameters.
public final class GlobalAvgPool2D: Module, UnaryLayer {
    public let keepDims: Bool

    public init(keepDims: Bool = false) {
        self.keepDims = keepDims
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        require(x.rank == 4, "GlobalAvgPool2D: input must be [N, C, H, W], got shape \(x.shape)")
        return globalAvgPool(x, keepDims: keepDims)
    }
}

func poolCheckArguments(_ name: String, _ kernel: IntPair, _ stride: IntPair, _ padding: IntPair, _ dilation: IntPair) {
    require(kernel.height >= 1 && kernel.width >= 1, "\(name): kernel size must be ≥ 1")
    require(stride.height >= 1 && stride.width >= 1, "\(name): stride must be ≥ 1")
    require(dilation.height >= 1 && dilation.width >= 1, "\(name): dilation must be ≥ 1")
    require(padding.height >= 0 && padding.width >= 0 && padding.height <= kernel.height / 2 && padding.width <= kernel.width / 2,
            "\(name): padding must be between 0 and half the kernel size, as in PyTorch")
}

func poolCheckInput(_ name: String, _ x: Tensor, kernel: IntPair, stride: IntPair, padding: IntPair, dilation: IntPair, ceilMode: Bool) {
    require(x.rank == 4 || x.rank == 3, "\(name): input must be [N, C, H, W] or [C, H, W], got shape \(x.shape)")
    let h = x.shape[x.rank - 2], w = x.shape[x.rank - 1]
    let oh = poolOutputSize(h, kernel: kernel.height, stride: stride.height, pad: padding.height, dilation: dilation.height, ceilMode: ceilMode)
    let ow = poolOutputSize(w, kernel: kernel.width, stride: stride.width, pad: padding.width, dilation: dilation.width, ceilMode: ceilMode)
    require(oh >= 1 && ow >= 1, "\(name): input \(h)×\(w) is too small: the output would be \(oh)×\(ow) (input shape \(x.shape))")
}
