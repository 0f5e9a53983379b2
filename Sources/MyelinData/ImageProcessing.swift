import Foundation
import MyelinCore

/// How a filter sees the pixels beyond an image's edge, for the row `a b c d`. The cases are
/// PyTorch's `Conv2d(padding_mode=...)` names; `BorderMode(name:)` also takes the names of
/// `F.pad`, NumPy and OpenCV.
public enum BorderMode: String, Sendable, CaseIterable {
    /// `0 0 | a b c d | 0 0`: zero padding, as a convolution layer's (`F.pad` "constant").
    case zeros
    /// `c b | a b c d | c b`: mirrored without repeating the edge pixel (PyTorch's and
    /// NumPy's "reflect", OpenCV's BORDER_REFLECT_101). Wider than the image, it keeps folding.
    case reflect
    /// `a a | a b c d | d d`: the edge pixel repeated (NumPy's "edge", OpenCV's BORDER_REPLICATE).
    case replicate
    /// `c d | a b c d | a b`: the image tiled (PyTorch's "circular", NumPy's "wrap").
    case circular

    /// A mode by any of its usual names: zeros/zero/constant, reflect, replicate/edge/clamp,
    /// circular/wrap; nil for anything else.
    public init?(name: String) {
        switch name.lowercased() {
        case "zeros", "zero", "constant": self = .zeros
        case "reflect", "mirror", "reflect101": self = .reflect
        case "replicate", "edge", "clamp", "nearest": self = .replicate
        case "circular", "wrap", "periodic": self = .circular
        default: return nil
        }
    }

    /// The source index (0..<extent) a padded position `i` (which may be < 0 or ≥ extent)
    /// reads; nil for zeros outside the image.
    func source(_ i: Int, extent n: Int) -> Int? {
        if i >= 0 && i < n { return i }
        switch self {
        case .zeros: return nil
        case .replicate: return Swift.min(Swift.max(i, 0), n - 1)
        case .circular: return ((i % n) + n) % n
        case .reflect:
            if n == 1 { return 0 }
            let period = 2 * (n - 1)
            let m = ((i % period) + period) % period
            return m < n ? m : period - m
        }
    }
}

/// A 2-D filter kernel, `height × width` weights in row-major order.
///
/// Filtering is cross-correlation, as a convolution layer computes it: the output pixel
/// (i, j) is `Σ weights[a, b] · input[i + a − cy, j + b − cx]` with (cy, cx) the kernel's
/// centre. So the weight to the RIGHT of the centre reads the right-hand neighbour: the
/// "shift-left" kernel has its 1 there, and moves the content one pixel left. Pass
/// `flip: true` to `ImageProcessing.convolve` for true convolution (kernel rotated 180°).
public struct ImageKernel: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let height: Int
    public let width: Int
    public let weights: [Double]
    /// Column and row vectors whose outer product is the kernel (box and Gaussian blurs), so
    /// that filtering can run as two 1-D passes.
    public let separable: (column: [Double], row: [Double])?

    public static func == (a: ImageKernel, b: ImageKernel) -> Bool {
        a.name == b.name && a.height == b.height && a.width == b.width && a.weights == b.weights
    }

    /// A kernel from its rows (all of the same length).
    public init(_ rows: [[Double]], name: String = "custom") {
        require(!rows.isEmpty && !rows[0].isEmpty && rows.allSatisfy { $0.count == rows[0].count },
                "ImageKernel: needs a non-empty rectangle of weights, got rows of lengths \(rows.map(\.count))")
        self.name = name
        self.height = rows.count
        self.width = rows[0].count
        self.weights = rows.flatMap { $0 }
        self.separable = nil
    }

    /// The separable kernel `column ⊗ row`.
    public init(column: [Double], row: [Double], name: String) {
        require(!column.isEmpty && !row.isEmpty, "ImageKernel: separable factors must not be empty")
        self.name = name
        self.height = column.count
        self.width = row.count
        self.weights = column.flatMap { c in row.map { c * $0 } }
        self.separable = (column, row)
    }

    /// The weights as rows.
    public var rows: [[Double]] { (0..<height).map { Array(weights[($0 * width)..<(($0 + 1) * width)]) } }

    /// The sum of the weights: 1 for blurs (brightness kept), 0 for edge detectors.
    public var sum: Double { weights.reduce(0, +) }

    /// The kernel rotated by 180°: convolution's view of the same weights.
    public var flipped: ImageKernel {
        if let s = separable { return ImageKernel(column: s.column.reversed(), row: s.row.reversed(), name: name) }
        return ImageKernel(rows.reversed().map { $0.reversed() }, name: name)
    }

    public var description: String {
        "\(name) \(height)×\(width): " + rows.map { "[" + $0.map { String(format: "%g", $0) }.joined(separator: ", ") + "]" }.joined(separator: " ")
    }

    // MARK: The catalogue

    /// The identity: output = input.
    public static let identity = ImageKernel([[0, 0, 0], [0, 1, 0], [0, 0, 0]], name: "identity")
    /// The `size × size` mean ("box blur"); sums to 1.
    public static func box(_ size: Int) -> ImageKernel {
        require(size >= 1, "ImageKernel.box: size must be ≥ 1, got \(size)")
        let v = [Double](repeating: 1 / Double(size), count: size)
        return ImageKernel(column: v, row: v, name: "blur\(size)")
    }
    /// A normalised Gaussian, as torchvision's `gaussian_blur(kernel_size, sigma)`: weights
    /// exp(−x²/2σ²) at x = −(size−1)/2 ... (size−1)/2, normalised in 1-D, outer product.
    /// Without `sigma`, torchvision's (and OpenCV's) 0.3·((size−1)/2 − 1) + 0.8; without
    /// `size`, the odd size 2·⌈3σ⌉ + 1; with neither, 5 and 1.1.
    public static func gaussian(size: Int? = nil, sigma: Double? = nil) -> ImageKernel {
        let k = size ?? sigma.map { 2 * Int(Foundation.ceil(3 * $0)) + 1 } ?? 5
        require(k >= 1, "ImageKernel.gaussian: size must be ≥ 1, got \(k)")
        let s = sigma ?? (0.3 * (Double(k - 1) * 0.5 - 1) + 0.8)
        require(s > 0 && s.isFinite, "ImageKernel.gaussian: sigma must be positive, got \(s)")
        let half = Double(k - 1) / 2
        var v = (0..<k).map { i -> Double in let x = Double(i) - half; return Foundation.exp(-0.5 * x * x / (s * s)) }
        let total = v.reduce(0, +)
        v = v.map { $0 / total }
        return ImageKernel(column: v, row: v, name: "gaussian")
    }
    /// One-pixel shifts; the name says where the CONTENT moves (shift-left: out[i, j] = in[i, j+1]).
    public static let shiftLeft = ImageKernel([[0, 0, 0], [0, 0, 1], [0, 0, 0]], name: "shift-left")
    public static let shiftRight = ImageKernel([[0, 0, 0], [1, 0, 0], [0, 0, 0]], name: "shift-right")
    public static let shiftUp = ImageKernel([[0, 0, 0], [0, 0, 0], [0, 1, 0]], name: "shift-up")
    public static let shiftDown = ImageKernel([[0, 1, 0], [0, 0, 0], [0, 0, 0]], name: "shift-down")
    /// Horizontal derivative: positive where brightness increases to the right (OpenCV's `Sobel(dx=1)`).
    public static let sobelX = ImageKernel([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], name: "sobel-x")
    /// Vertical derivative: positive where brightness increases downwards.
    public static let sobelY = ImageKernel([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], name: "sobel-y")
    /// The 4-neighbour Laplacian (sums to 0).
    public static let laplacian = ImageKernel([[0, 1, 0], [1, -4, 1], [0, 1, 0]], name: "laplacian")
    /// Identity plus a negative Laplacian: crisper edges, same brightness (sums to 1).
    public static let sharpen = ImageKernel([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], name: "sharpen")
    /// A relief lit from the top left (sums to 1).
    public static let emboss = ImageKernel([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], name: "emboss")
    /// The 8-neighbour Laplacian edge detector (sums to 0).
    public static let edge = ImageKernel([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], name: "edge")

    /// The kernels by name, in catalogue order ("sobel", the gradient magnitude, is an
    /// `ImageFilter`, not one kernel).
    public static let names = ["identity", "blur3", "blur5", "gaussian", "shift-left", "shift-right", "shift-up",
                               "shift-down", "sobel-x", "sobel-y", "laplacian", "sharpen", "emboss", "edge"]

    /// A kernel by name (case, "-" and "_" ignored: "sobel_x", "SobelX" are "sobel-x"); also
    /// "blurN" for any N. `size` and `sigma` apply to "gaussian". Throws a `DataError` that
    /// lists the names for an unknown one.
    public static func named(_ name: String, size: Int? = nil, sigma: Double? = nil) throws -> ImageKernel {
        let key = normalisedName(name)
        switch key {
        case "identity": return .identity
        case "gaussian", "gauss": return .gaussian(size: size, sigma: sigma)
        case "shiftleft": return .shiftLeft
        case "shiftright": return .shiftRight
        case "shiftup": return .shiftUp
        case "shiftdown": return .shiftDown
        case "sobelx": return .sobelX
        case "sobely": return .sobelY
        case "laplacian", "laplace": return .laplacian
        case "sharpen": return .sharpen
        case "emboss": return .emboss
        case "edge", "edges": return .edge
        case "blur", "mean", "box": return .box(size ?? 3)
        default:
            if key.hasPrefix("blur"), let n = Int(key.dropFirst(4)), n >= 1, n <= 99 { return .box(n) }
            if key == "sobel" {
                throw DataError(.invalidArgument, file: "kernel \"\(name)\"",
                                "is the gradient magnitude of sobel-x and sobel-y, not one kernel: use ImageFilter.named(\"sobel\")")
            }
            throw DataError(.invalidArgument, file: "kernel \"\(name)\"", "unknown; the kernels are \(names.joined(separator: ", "))")
        }
    }

    static func normalisedName(_ s: String) -> String { s.lowercased().filter { $0.isLetter || $0.isNumber } }
}

/// What `myelin image convolve --kernel` applies: one kernel, or the gradient magnitude
/// √(gx² + gy²) of a pair of derivative kernels ("sobel").
public enum ImageFilter: Sendable, Equatable {
    case kernel(ImageKernel)
    case gradientMagnitude(x: ImageKernel, y: ImageKernel)

    /// Every name `named` accepts.
    public static let names = ImageKernel.names + ["sobel"]

    /// A filter by name: the kernels of `ImageKernel.named`, and "sobel" (gradient magnitude).
    public static func named(_ name: String, size: Int? = nil, sigma: Double? = nil) throws -> ImageFilter {
        if ImageKernel.normalisedName(name) == "sobel" { return .gradientMagnitude(x: .sobelX, y: .sobelY) }
        do {
            return .kernel(try ImageKernel.named(name, size: size, sigma: sigma))
        } catch {
            throw DataError(.invalidArgument, file: "kernel \"\(name)\"", "unknown; the kernels are \(names.joined(separator: ", "))")
        }
    }

    public var name: String {
        switch self {
        case .kernel(let k): k.name
        case .gradientMagnitude(let x, _): x.name.hasPrefix("sobel") ? "sobel" : "gradient magnitude"
        }
    }
}

/// The lecture's image processing on float images `[C, H, W]` or batches `[N, C, H, W]`
/// (values nominally in [0, 1]), built on tensor ops so gradients flow through wherever the
/// operation has one. Nothing here clamps unless it says so: an edge map has negative
/// values, which `ImageFile.write` clamps to [0, 1] (see `normalizedToUnitRange`).
public enum ImageProcessing {
    /// 1 − image: the photographic negative. Every channel is inverted, alpha included (use
    /// `keepingAlpha` to leave alpha alone, as `myelin image negative` does).
    public static func negative(_ image: Tensor) -> Tensor {
        checkImage(image, op: "negative")
        return 1 - image
    }

    public enum GrayscaleMethod: String, Sendable, CaseIterable {
        /// (R + G + B) / 3.
        case mean
        /// ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B: PIL's `convert("L")` (before its rounding
        /// to 8 bits), OpenCV's `COLOR_RGB2GRAY`. torchvision's `rgb_to_grayscale` writes 0.2989 for
        /// R: its results differ from these by at most 1e-4.
        case luminance
        /// ITU-R BT.709 (sRGB / HDTV) 0.2126 R + 0.7152 G + 0.0722 B.
        case bt709

        public var weights: (r: Double, g: Double, b: Double) {
            switch self {
            case .mean: (1.0 / 3, 1.0 / 3, 1.0 / 3)
            case .luminance: (0.299, 0.587, 0.114)
            case .bt709: (0.2126, 0.7152, 0.0722)
            }
        }
    }

    /// Gray from colour: `[C, H, W]` → `[1, H, W]` (`[N, C, H, W]` → `[N, 1, H, W]`), or
    /// `outputChannels: 3` for the gray repeated (torchvision's `num_output_channels`). RGB (3)
    /// and RGBA (4, alpha dropped, as PIL's "L") are weighted; gray (1) and gray + alpha (2)
    /// keep their gray plane. No rounding (PIL rounds to 8 bits).
    public static func grayscale(_ image: Tensor, method: GrayscaleMethod = .luminance, outputChannels: Int = 1) -> Tensor {
        let (c, axis) = checkImage(image, op: "grayscale")
        require(outputChannels == 1 || outputChannels == 3,
                "grayscale: outputChannels must be 1 or 3, got \(outputChannels)")
        let gray: Tensor
        if c >= 3 {
            let w = method.weights
            gray = channel(image, 0, axis) * w.r + channel(image, 1, axis) * w.g + channel(image, 2, axis) * w.b
        } else {
            gray = channel(image, 0, axis)
        }
        return outputChannels == 1 ? gray : Tensor.concat([gray, gray, gray], axis: axis)
    }

    /// Pads the last two axes (height, width) by `top`, `bottom`, `left`, `right` pixels
    /// with `mode` (zeros for `.zeros`). Differentiable.
    public static func padded(_ image: Tensor, top: Int, bottom: Int, left: Int, right: Int, mode: BorderMode) -> Tensor {
        require(image.rank >= 2, "ImageProcessing.padded: needs at least [H, W], got shape \(image.shape)")
        require(top >= 0 && bottom >= 0 && left >= 0 && right >= 0,
                "ImageProcessing.padded: widths must be ≥ 0, got top \(top), bottom \(bottom), left \(left), right \(right)")
        let r = image.rank
        if mode == .zeros {
            return image.padded(last: [(left, right), (top, bottom)])
        }
        var x = image
        for (axis, before, after) in [(r - 2, top, bottom), (r - 1, left, right)] where before > 0 || after > 0 {
            let n = x.shape[axis]
            require(n > 0, "ImageProcessing.padded: cannot \(mode.rawValue)-pad an empty axis (shape \(image.shape))")
            let indices = (-before..<(n + after)).map { mode.source($0, extent: n) ?? 0 }
            x = x.indexSelect(axis: axis, indices: Tensor(indices))
        }
        return x
    }

    /// Filters every channel of `[C, H, W]` or `[N, C, H, W]` (or `[H, W]`) with `kernel`
    /// (cross-correlation, as `conv2d`; `flip: true` for true convolution), padding with
    /// `border` so the output has the input's size ("same" padding; an even kernel pads one
    /// less before than after, as PyTorch's `padding="same"`). Differentiable in the image.
    ///
    /// The default border is a convolution layer's zero padding, which darkens a blur's rim and
    /// draws a frame around an edge map; `.reflect` (OpenCV's default, and what `myelin image
    /// convolve` uses unless told otherwise) avoids both.
    public static func convolve(_ image: Tensor, kernel: ImageKernel, border: BorderMode = .zeros, flip: Bool = false) -> Tensor {
        require(image.rank >= 2 && image.rank <= 4 && image.dtype.isFloatingPoint,
                "convolve: needs a float image [H, W], [C, H, W] or [N, C, H, W], got \(image.dtype) of shape \(image.shape)")
        let k = flip ? kernel.flipped : kernel
        let (h, w) = (image.shape[image.rank - 2], image.shape[image.rank - 1])
        let top = (k.height - 1) / 2, left = (k.width - 1) / 2
        let x = padded(image, top: top, bottom: k.height - 1 - top, left: left, right: k.width - 1 - left, mode: border)
        if let s = k.separable {
            // Rows then columns: kh + kw products per pixel instead of kh · kw.
            let horizontal = weightedSum(x, taps: s.row.enumerated().map { (0, $0.offset, $0.element) }, height: x.shape[x.rank - 2], width: w)
            return weightedSum(horizontal, taps: s.column.enumerated().map { ($0.offset, 0, $0.element) }, height: h, width: w)
        }
        var taps: [(Int, Int, Double)] = []
        for a in 0..<k.height { for b in 0..<k.width { taps.append((a, b, k.weights[a * k.width + b])) } }
        return weightedSum(x, taps: taps, height: h, width: w)
    }

    /// Σ weight · x[..., a ..< a+height, b ..< b+width] over the taps (zero weights skipped).
    static func weightedSum(_ x: Tensor, taps: [(Int, Int, Double)], height h: Int, width w: Int) -> Tensor {
        var out: Tensor? = nil
        for (a, b, weight) in taps where weight != 0 {
            let term = x[.ellipsis, a..<(a + h), b..<(b + w)] * weight
            out = out.map { $0 + term } ?? term
        }
        var shape = x.shape
        shape[shape.count - 2] = h
        shape[shape.count - 1] = w
        return out ?? Tensor.zeros(shape, dtype: x.dtype)
    }

    /// Applies a kernel or a gradient magnitude (√(gx² + gy²), ≥ 0; its gradient is NaN
    /// where both derivatives are exactly 0, as `torch.sqrt`'s).
    public static func filter(_ image: Tensor, _ filter: ImageFilter, border: BorderMode = .zeros, flip: Bool = false) -> Tensor {
        switch filter {
        case .kernel(let k):
            return convolve(image, kernel: k, border: border, flip: flip)
        case .gradientMagnitude(let kx, let ky):
            let gx = convolve(image, kernel: kx, border: border, flip: flip)
            let gy = convolve(image, kernel: ky, border: border, flip: flip)
            return (gx * gx + gy * gy).sqrt()
        }
    }

    // MARK: Adjustments (torchvision.transforms.functional's, which clamp to [0, 1])

    /// image · factor, clamped to [0, 1] (torchvision's `adjust_brightness`).
    public static func adjustBrightness(_ image: Tensor, factor: Double) -> Tensor {
        checkImage(image, op: "adjustBrightness")
        require(factor >= 0, "adjustBrightness: factor must be ≥ 0, got \(factor)")
        return (image * factor).clamp(min: 0, max: 1)
    }

    /// Blends with the mean gray level of each image: factor · x + (1 − factor) · mean(gray),
    /// clamped to [0, 1] (torchvision's `adjust_contrast`: 0 gives flat gray, 1 the image; the
    /// gray here is the BT.601 luminance, so results differ from torchvision's by < 1e-4).
    public static func adjustContrast(_ image: Tensor, factor: Double) -> Tensor {
        let (_, axis) = checkImage(image, op: "adjustContrast")
        require(factor >= 0, "adjustContrast: factor must be ≥ 0, got \(factor)")
        let gray = grayscale(image)
        let mean = gray.mean(axes: Array(axis..<image.rank), keepDims: true)
        return (image * factor + mean * (1 - factor)).clamp(min: 0, max: 1)
    }

    /// gain · image^gamma, clamped to [0, 1] (torchvision's `adjust_gamma`): γ < 1 brightens.
    public static func adjustGamma(_ image: Tensor, gamma: Double, gain: Double = 1) -> Tensor {
        checkImage(image, op: "adjustGamma")
        require(gamma >= 0, "adjustGamma: gamma must be ≥ 0, got \(gamma)")
        return (image.clamp(min: 0) .pow(gamma) * gain).clamp(min: 0, max: 1)
    }

    /// 1 where image > level, else 0 (a binary mask; no gradient).
    public static func threshold(_ image: Tensor, at level: Double) -> Tensor {
        checkImage(image, op: "threshold")
        return (image.detached() .> level).to(image.dtype)
    }

    /// Stretches values linearly onto [0, 1] (min → 0, max → 1) over each whole image, or each
    /// channel with `perChannel`: how an edge map with negative values is shown. A constant
    /// image becomes 0.
    public static func normalizedToUnitRange(_ image: Tensor, perChannel: Bool = false) -> Tensor {
        let (_, axis) = checkImage(image, op: "normalizedToUnitRange")
        let axes = Array((perChannel ? axis + 1 : axis)..<image.rank)
        let lo = image.min(axes: axes, keepDims: true), hi = image.max(axes: axes, keepDims: true)
        let range = hi - lo
        // Where the range is 0, divide by 1 instead (the numerator is 0 there).
        let safe = range + (range .== 0.0).to(image.dtype)
        return (image - lo) / safe
    }

    /// Applies `body` to the colour channels and keeps alpha (channel 2 of gray + alpha,
    /// channel 4 of RGBA) as it was; other channel counts go to `body` whole.
    public static func keepingAlpha(_ image: Tensor, _ body: (Tensor) -> Tensor) -> Tensor {
        let (c, axis) = checkImage(image, op: "keepingAlpha")
        guard c == 2 || c == 4 else { return body(image) }
        let colour = image.rank == 3 ? image[0..<(c - 1)] : image[.all, 0..<(c - 1)]
        let alpha = image.rank == 3 ? image[(c - 1)..<c] : image[.all, (c - 1)..<c]
        let done = body(colour)
        require(done.rank == colour.rank && Array(done.shape.suffix(2)) == Array(colour.shape.suffix(2)),
                "keepingAlpha: the body changed the image's size (\(colour.shape) → \(done.shape)); alpha cannot follow")
        return Tensor.concat([done, alpha.to(done.dtype)], axis: axis)
    }

    // MARK: Helpers

    /// (channels, channel axis) of a `[C, H, W]` or `[N, C, H, W]` float image.
    @discardableResult
    static func checkImage(_ image: Tensor, op: String) -> (Int, Int) {
        require(image.dtype.isFloatingPoint, "\(op): needs a float image, got \(image.dtype)")
        require(image.rank == 3 || image.rank == 4,
                "\(op): needs an image [C, H, W] or a batch [N, C, H, W], got shape \(image.shape)")
        let axis = image.rank - 3
        return (image.shape[axis], axis)
    }

    static func channel(_ image: Tensor, _ c: Int, _ axis: Int) -> Tensor {
        axis == 0 ? image[c..<(c + 1)] : image[.all, c..<(c + 1)]
    }
}
