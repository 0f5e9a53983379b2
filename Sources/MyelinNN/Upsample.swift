import Foundation
import MyelinCore

/// How `upsample2d` interpolates: PyTorch's "nearest" and "bilinear".
public enum UpsampleMode: String, Sendable, Hashable {
    case nearest, bilinear
}

/// Resizes the last two axes of [N, C, H, W] (or [C, H, W]) input to `size`, or by
/// `scaleFactor` (output ⌊H·s⌋ × ⌊W·s⌋), as PyTorch's `F.interpolate` with mode
/// "nearest" or "bilinear" (`alignCorners` as PyTorch's align_corners; ignored for
/// nearest). Differentiable: both modes are gathers along each axis (bilinear a
/// weighted pair of them), whose gradients add back up.
public func upsample2d(
    _ input: Tensor, size: IntPair? = nil, scaleFactor: Double? = nil, mode: UpsampleMode = .nearest,
    alignCorners: Bool = false
) -> Tensor {
    require((size == nil) != (scaleFactor == nil), "upsample2d: give exactly one of size and scaleFactor")
    require(input.rank == 4 || input.rank == 3,
            "upsample2d: input must be [N, C, H, W] or [C, H, W], got shape \(input.shape)")
    require(input.dtype.isFloatingPoint, "upsample2d: input must be a float tensor, got \(input.dtype)")
    let r = input.rank
    let (h, w) = (input.shape[r - 2], input.shape[r - 1])
    let (oh, ow): (Int, Int)
    if let size {
        (oh, ow) = (size.height, size.width)
    } else {
        let s = scaleFactor ?? 1
        require(s > 0, "upsample2d: scale factor must be positive, got \(s)")
        (oh, ow) = (Int((Double(h) * s).rounded(.down)), Int((Double(w) * s).rounded(.down)))
    }
    require(oh > 0 && ow > 0, "upsample2d: output size \(oh)×\(ow) for input \(input.shape) must not be empty")
    require(h > 0 && w > 0, "upsample2d: input \(input.shape) is empty")
    let sh = scaleFactor.map { 1 / $0 } ?? Double(h) / Double(oh)
    let sw = scaleFactor.map { 1 / $0 } ?? Double(w) / Double(ow)
    switch mode {
    case .nearest:
        let ih = (0..<oh).map { Swift.min(Int((Double($0) * sh).rounded(.down)), h - 1) }
        let iw = (0..<ow).map { Swift.min(Int((Double($0) * sw).rounded(.down)), w - 1) }
        return input.indexSelect(axis: r - 2, indices: Tensor(ih)).indexSelect(axis: r - 1, indices: Tensor(iw))
    case .bilinear:
        let y = interpolateAxis(input, axis: r - 2, in: h, out: oh, scale: sh, alignCorners: alignCorners)
        return interpolateAxis(y, axis: r - 1, in: w, out: ow, scale: sw, alignCorners: alignCorners)
    }
}

/// Linear interpolation along one axis, PyTorch's source-index rule.
private func interpolateAxis(_ x: Tensor, axis: Int, in n: Int, out m: Int, scale: Double, alignCorners: Bool) -> Tensor {
    var i0 = [Int](), i1 = [Int](), l1 = [Double]()
    let s = alignCorners ? (m > 1 ? Double(n - 1) / Double(m - 1) : 0) : scale
    for d in 0..<m {
        var src = alignCorners ? s * Double(d) : s * (Double(d) + 0.5) - 0.5
        if src < 0 { src = 0 }
        let a = Swift.min(Int(src), n - 1)
        i0.append(a)
        i1.append(a < n - 1 ? a + 1 : a)
        l1.append(a < n - 1 ? src - Double(a) : 0)
    }
    var shape = Array(repeating: 1, count: x.rank)
    shape[axis] = m
    let lam1 = Tensor(l1, shape: shape, dtype: x.dtype)
    let lam0 = Tensor(l1.map { 1 - $0 }, shape: shape, dtype: x.dtype)
    return x.indexSelect(axis: axis, indices: Tensor(i0)) * lam0 + x.indexSelect(axis: axis, indices: Tensor(i1)) * lam1
}

/// `upsample2d` as a layer, PyTorch's `nn.Upsample(size=..., scale_factor=..., mode=..., align_corners=...)`.
public final class Upsample: Module, UnaryLayer {
    public let size: IntPair?
    public let scaleFactor: Double?
    public let mode: UpsampleMode
    public let alignCorners: Bool

    /// Scales height and width by `scaleFactor`.
    public init(scaleFactor: Double, mode: UpsampleMode = .nearest, alignCorners: Bool = false) {
        require(scaleFactor > 0, "Upsample(scaleFactor: \(scaleFactor)): the scale factor must be positive")
        self.size = nil
        self.scaleFactor = scaleFactor
        self.mode = mode
        self.alignCorners = alignCorners
        super.init()
    }

    /// Resizes to `size` (height, width).
    public init(size: IntPair, mode: UpsampleMode = .nearest, alignCorners: Bool = false) {
        require(size.height > 0 && size.width > 0, "Upsample(size: \(size)): the size must be positive")
        self.size = size
        self.scaleFactor = nil
        self.mode = mode
        self.alignCorners = alignCorners
        super.init()
    }

    /// "Upsample(scale 2, bilinear, align corners)".
    public var layerDescription: String {
        var s = "Upsample(" + (size.map { "size \($0.area)" } ?? "scale \(scaleFactor ?? 1)") + ", \(mode.rawValue)"
        if mode == .bilinear && alignCorners { s += ", align corners" }
        return s + ")"
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        require(x.rank == 4 || x.rank == 3, "\(layerDescription): input must be [N, C, H, W] or [C, H, W], got shape \(x.shape)")
        return upsample2d(x, size: size, scaleFactor: scaleFactor, mode: mode, alignCorners: alignCorners)
    }
}
