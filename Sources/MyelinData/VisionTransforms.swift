import Foundation
import MyelinCore

// Vision augmentations with torchvision's semantics, on CHW float images in [0, 1].
// Pixel loops run in Double and the result keeps the input's dtype.

// MARK: - Normalisation constants

extension Normalize {
    /// ImageNet's channel statistics (RGB), what every torchvision pretrained model expects.
    public static let imageNet = Normalize(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    /// CIFAR-10's training-set statistics (RGB; the per-pixel standard deviation,
    /// 0.2470/0.2435/0.2616; the 0.2023/0.1994/0.2010 often copied are another statistic).
    public static let cifar10 = Normalize(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
    /// CIFAR-100's training-set statistics (RGB).
    public static let cifar100 = Normalize(mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762])
    /// MNIST's training-set statistics (one gray channel).
    public static let mnist = Normalize(mean: [0.1307], std: [0.3081])
}

/// Pixels of a CHW image as Doubles, and back.
struct Pixels {
    var c: Int, h: Int, w: Int
    var v: [Double]
    let shape: [Int], dtype: DType

    init(_ x: Tensor, op: String) {
        (c, h, w) = Image.chw(x, op: op)
        v = x.scalars(as: Double.self)
        shape = x.shape
        dtype = x.dtype
    }

    var plane: Int { h * w }

    func tensor() -> Tensor { Tensor(v, shape: shape, dtype: dtype) }

    /// The tensor of an image with another height and width.
    static func tensor(_ v: [Double], c: Int, h: Int, w: Int, like x: Tensor) -> Tensor {
        Tensor(v, shape: x.rank == 2 ? [h, w] : [c, h, w], dtype: x.dtype)
    }
}

/// Python's `round` (half to even), which torchvision's size computations use.
@inline(__always) func pyRound(_ x: Double) -> Int { Int(x.rounded(.toNearestOrEven)) }

// MARK: - Resize and crops

/// Resizes to a size (torchvision's `Resize`): `Resize(256)` matches the shorter side to
/// 256 keeping the aspect ratio (the longer side is `Int(256 · long / short)`, truncated,
/// as torchvision), `Resize(height:width:)` gives an exact size. Bilinear with half-pixel
/// centres; unlike torchvision's default (`antialias=True`) there is no antialiasing
/// filter, so large downscales alias (PyTorch's `interpolate(..., antialias=False)`).
public struct Resize: Transform {
    public enum Size: Sendable, Equatable {
        case shorterSide(Int)
        case exact(height: Int, width: Int)
    }

    public let size: Size
    public let interpolation: Interpolation

    public init(_ shorterSide: Int, interpolation: Interpolation = .bilinear) {
        require(shorterSide > 0, "Resize: size must be positive, got \(shorterSide)")
        size = .shorterSide(shorterSide)
        self.interpolation = interpolation
    }

    public init(height: Int, width: Int, interpolation: Interpolation = .bilinear) {
        require(height > 0 && width > 0, "Resize: size must be positive, got \(height)×\(width)")
        size = .exact(height: height, width: width)
        self.interpolation = interpolation
    }

    /// The output (height, width) for an input of `h`×`w`.
    public func outputSize(height h: Int, width w: Int) -> (height: Int, width: Int) {
        switch size {
        case let .exact(height, width): return (height, width)
        case let .shorterSide(s):
            return h <= w ? (s, Int(Double(s) * Double(w) / Double(h))) : (Int(Double(s) * Double(h) / Double(w)), s)
        }
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        let (_, h, w) = Image.chw(x, op: "Resize")
        let (oh, ow) = outputSize(height: h, width: w)
        return VisionOps.resized(x, height: oh, width: ow, interpolation: interpolation)
    }
}

/// Crops a random part of the image and resizes it to `height`×`width`
/// (torchvision's `RandomResizedCrop`, the ImageNet training augmentation): the part
/// covers a fraction of the area uniform in `scale` and has an aspect ratio (w/h)
/// log-uniform in `ratio`; after 10 draws that do not fit, it falls back to the
/// central crop clamped to `ratio`. Resizing is bilinear without antialiasing.
public struct RandomResizedCrop: Transform {
    public let height: Int, width: Int
    public let scale: ClosedRange<Double>
    public let ratio: ClosedRange<Double>
    public let interpolation: Interpolation

    public init(height: Int, width: Int, scale: ClosedRange<Double> = 0.08...1, ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3),
                interpolation: Interpolation = .bilinear) {
        require(height > 0 && width > 0, "RandomResizedCrop: size must be positive, got \(height)×\(width)")
        require(scale.lowerBound > 0 && scale.upperBound <= 1, "RandomResizedCrop: scale must lie in (0, 1], got \(scale)")
        require(ratio.lowerBound > 0 && ratio.upperBound.isFinite, "RandomResizedCrop: ratio must be positive, got \(ratio)")
        self.height = height
        self.width = width
        self.scale = scale
        self.ratio = ratio
        self.interpolation = interpolation
    }

    public init(_ size: Int, scale: ClosedRange<Double> = 0.08...1, ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3),
                interpolation: Interpolation = .bilinear) {
        self.init(height: size, width: size, scale: scale, ratio: ratio, interpolation: interpolation)
    }

    /// The crop box (top, left, height, width) for an `imageHeight`×`imageWidth` image,
    /// drawn as torchvision's `get_params`.
    public func cropBox(imageHeight: Int, imageWidth: Int, generator: RandomGenerator)
        -> (top: Int, left: Int, height: Int, width: Int) {
        let area = Double(imageHeight * imageWidth)
        let logLow = Foundation.log(ratio.lowerBound), logHigh = Foundation.log(ratio.upperBound)
        for _ in 0..<10 {
            let target = area * uniform(scale, generator)
            let aspect = Foundation.exp(uniform(logLow...logHigh, generator))
            let w = pyRound((target * aspect).squareRoot()), h = pyRound((target / aspect).squareRoot())
            if w > 0 && w <= imageWidth && h > 0 && h <= imageHeight {
                let i = generator.nextInt(0, imageHeight - h + 1), j = generator.nextInt(0, imageWidth - w + 1)
                return (i, j, h, w)
            }
        }
        let inRatio = Double(imageWidth) / Double(imageHeight)
        var w = imageWidth, h = imageHeight
        if inRatio < ratio.lowerBound {
            h = pyRound(Double(w) / ratio.lowerBound)
        } else if inRatio > ratio.upperBound {
            w = pyRound(Double(h) * ratio.upperBound)
        }
        return ((imageHeight - h) / 2, (imageWidth - w) / 2, h, w)
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        let (_, h, w) = Image.chw(x, op: "RandomResizedCrop")
        let box = cropBox(imageHeight: h, imageWidth: w, generator: generator)
        let crop = VisionOps.cropped(x, top: box.top, left: box.left, height: box.height, width: box.width)
        return VisionOps.resized(crop, height: height, width: width, interpolation: interpolation)
    }
}

/// Uniform in a closed range (a point range gives its value without drawing).
@inline(__always) func uniform(_ r: ClosedRange<Double>, _ g: RandomGenerator) -> Double {
    r.lowerBound < r.upperBound ? g.nextDouble(in: r.lowerBound..<r.upperBound) : r.lowerBound
}

// MARK: - Colour

/// Randomly changes brightness, contrast, saturation and hue (torchvision's
/// `ColorJitter`): each enabled factor is drawn uniformly (brightness `b` from
/// [max(0, 1 − b), 1 + b], likewise contrast and saturation; hue from [−h, h] with
/// h ≤ 0.5), and the four adjustments are applied in a random order, as torchvision.
/// Saturation and hue leave one-channel images unchanged.
public struct ColorJitter: Transform {
    public let brightness: ClosedRange<Double>?
    public let contrast: ClosedRange<Double>?
    public let saturation: ClosedRange<Double>?
    public let hue: ClosedRange<Double>?

    public init(brightness: Double = 0, contrast: Double = 0, saturation: Double = 0, hue: Double = 0) {
        func range(_ v: Double, _ name: String) -> ClosedRange<Double>? {
            require(v >= 0 && v.isFinite, "ColorJitter: \(name) must be non-negative, got \(v)")
            return v == 0 ? nil : Swift.max(0, 1 - v)...(1 + v)
        }
        require(hue >= 0 && hue <= 0.5, "ColorJitter: hue must be in [0, 0.5], got \(hue)")
        self.brightness = range(brightness, "brightness")
        self.contrast = range(contrast, "contrast")
        self.saturation = range(saturation, "saturation")
        self.hue = hue == 0 ? nil : -hue...hue
    }

    /// Explicit factor ranges (torchvision's `(min, max)` form).
    public init(brightness: ClosedRange<Double>?, contrast: ClosedRange<Double>? = nil,
                saturation: ClosedRange<Double>? = nil, hue: ClosedRange<Double>? = nil) {
        for (r, name) in [(brightness, "brightness"), (contrast, "contrast"), (saturation, "saturation")] {
            if let r { require(r.lowerBound >= 0, "ColorJitter: \(name) range must be non-negative, got \(r)") }
        }
        if let hue { require(hue.lowerBound >= -0.5 && hue.upperBound <= 0.5, "ColorJitter: hue range must lie in [-0.5, 0.5], got \(hue)") }
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        _ = Image.chw(x, op: "ColorJitter")
        let order = generator.permutation(4)
        let b = brightness.map { uniform($0, generator) }
        let c = contrast.map { uniform($0, generator) }
        let s = saturation.map { uniform($0, generator) }
        let h = hue.map { uniform($0, generator) }
        var y = x
        for i in order {
            switch i {
            case 0: if let b { y = VisionOps.adjustBrightness(y, b) }
            case 1: if let c { y = VisionOps.adjustContrast(y, c) }
            case 2: if let s { y = VisionOps.adjustSaturation(y, s) }
            default: if let h { y = VisionOps.adjustHue(y, h) }
            }
        }
        return y
    }
}

/// Converts an RGB image to gray with probability `p` (torchvision's
/// `RandomGrayscale`): 0.2989 R + 0.587 G + 0.114 B repeated in all three channels,
/// so the shape is kept. One-channel images pass unchanged.
public struct RandomGrayscale: Transform {
    public let p: Double
    public init(p: Double = 0.1) {
        require(p >= 0 && p <= 1, "RandomGrayscale: p must be in [0, 1], got \(p)")
        self.p = p
    }
    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        let (c, _, _) = Image.chw(x, op: "RandomGrayscale")
        guard generator.nextDouble() < p, c == 3 else { return x }
        var px = Pixels(x, op: "RandomGrayscale")
        let gray = VisionOps.grayscale(px)
        for ch in 0..<3 { for i in 0..<px.plane { px.v[ch * px.plane + i] = gray[i] } }
        return px.tensor()
    }
}

// MARK: - Erasing

/// Erases a random rectangle with probability `p` (torchvision's `RandomErasing`,
/// Zhong et al. 2017), applied after `Normalize` as torchvision does: its area is a
/// fraction uniform in `scale` of the image, its aspect ratio log-uniform in `ratio`,
/// filled with `value`; after 10 draws that do not fit, the image is left unchanged.
public struct RandomErasing: Transform {
    public enum Value: Sendable, Equatable {
        /// One value for every channel, or one per channel.
        case constant([Double])
        /// Standard normal noise per pixel (torchvision's `value="random"`).
        case random
    }

    public let p: Double
    public let scale: ClosedRange<Double>
    public let ratio: ClosedRange<Double>
    public let value: Value

    public init(p: Double = 0.5, scale: ClosedRange<Double> = 0.02...0.33, ratio: ClosedRange<Double> = 0.3...3.3,
                value: Value = .constant([0])) {
        require(p >= 0 && p <= 1, "RandomErasing: p must be in [0, 1], got \(p)")
        require(scale.lowerBound >= 0 && scale.upperBound <= 1, "RandomErasing: scale must lie in [0, 1], got \(scale)")
        require(ratio.lowerBound > 0, "RandomErasing: ratio must be positive, got \(ratio)")
        if case let .constant(v) = value { require(!v.isEmpty, "RandomErasing: value needs at least one number") }
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.value = value
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        var px = Pixels(x, op: "RandomErasing")
        if case let .constant(v) = value {
            require(v.count == 1 || v.count == px.c, "RandomErasing: \(v.count) fill values for an image of \(px.c) channels")
        }
        guard generator.nextDouble() < p else { return x }
        let area = Double(px.plane)
        let logLow = Foundation.log(ratio.lowerBound), logHigh = Foundation.log(ratio.upperBound)
        for _ in 0..<10 {
            let erase = area * uniform(scale, generator)
            let aspect = Foundation.exp(uniform(logLow...logHigh, generator))
            let h = pyRound((erase * aspect).squareRoot()), w = pyRound((erase / aspect).squareRoot())
            guard h < px.h && w < px.w else { continue }
            var fill: [Double] = []
            if case let .constant(v) = value { fill = v } else { fill = (0..<(px.c * h * w)).map { _ in generator.nextNormal() } }
            let i = generator.nextInt(0, px.h - h + 1), j = generator.nextInt(0, px.w - w + 1)
            for ch in 0..<px.c {
                for r in 0..<h {
                    for q in 0..<w {
                        let f: Double = value == .random ? fill[(ch * h + r) * w + q] : fill[fill.count == 1 ? 0 : ch]
                        px.v[ch * px.plane + (i + r) * px.w + j + q] = f
                    }
                }
            }
            return px.tensor()
        }
        return x
    }
}

/// Cutout (DeVries & Taylor, 2017): with probability `p`, a `size`×`size` square
/// centred on a uniformly random pixel is set to `fill`, clipped at the border (so
/// near the edges less is erased, as in the paper).
public struct Cutout: Transform {
    public let size: Int
    public let p: Double
    public let fill: Double

    public init(size: Int, p: Double = 1, fill: Double = 0) {
        require(size > 0, "Cutout: size must be positive, got \(size)")
        require(p >= 0 && p <= 1, "Cutout: p must be in [0, 1], got \(p)")
        self.size = size
        self.p = p
        self.fill = fill
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        var px = Pixels(x, op: "Cutout")
        guard generator.nextDouble() < p else { return x }
        let cy = generator.nextInt(0, px.h), cx = generator.nextInt(0, px.w)
        let y0 = Swift.max(0, cy - size / 2), y1 = Swift.min(px.h, cy - size / 2 + size)
        let x0 = Swift.max(0, cx - size / 2), x1 = Swift.min(px.w, cx - size / 2 + size)
        for ch in 0..<px.c { for r in y0..<y1 { for q in x0..<x1 { px.v[ch * px.plane + r * px.w + q] = fill } } }
        return px.tensor()
    }
}

// MARK: - Blur

/// Gaussian blur with a standard deviation uniform in `sigma` (torchvision's
/// `GaussianBlur`): a separable `kernelSize`×`kernelSize` kernel, borders reflected.
public struct GaussianBlur: Transform {
    public let kernelSize: Int
    public let sigma: ClosedRange<Double>

    public init(kernelSize: Int, sigma: ClosedRange<Double> = 0.1...2) {
        require(kernelSize > 0 && kernelSize % 2 == 1, "GaussianBlur: kernelSize must be odd and positive, got \(kernelSize)")
        require(sigma.lowerBound > 0, "GaussianBlur: sigma must be positive, got \(sigma)")
        self.kernelSize = kernelSize
        self.sigma = sigma
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        VisionOps.gaussianBlur(x, kernelSize: kernelSize, sigma: uniform(sigma, generator))
    }
}

// MARK: - Functional ops

/// The deterministic image operations behind the transforms, as torchvision's
/// `transforms.functional` (`adjust_brightness`, `adjust_hue`, ...). Images are
/// `[C, H, W]` (or `[H, W]`) floats in [0, 1].
public enum VisionOps {
    /// The window `top..<top+height`, `left..<left+width` (must lie inside the image).
    public static func cropped(_ x: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
        let (c, h, w) = Image.chw(x, op: "crop")
        require(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= h && left + width <= w,
                "crop: the box (top \(top), left \(left), \(height)×\(width)) does not lie inside image \(x.shape)")
        let v = x.scalars(as: Double.self)
        var out = [Double](repeating: 0, count: c * height * width)
        for ch in 0..<c { for r in 0..<height { for q in 0..<width {
            out[(ch * height + r) * width + q] = v[(ch * h + top + r) * w + left + q]
        } } }
        return Pixels.tensor(out, c: c, h: height, w: width, like: x)
    }

    /// Resized to `height`×`width` (bilinear with half-pixel centres, or nearest), dtype kept.
    public static func resized(_ x: Tensor, height: Int, width: Int, interpolation: Interpolation = .bilinear) -> Tensor {
        let (c, h, w) = Image.chw(x, op: "resize")
        if h == height && w == width { return x }
        let img = x.rank == 2 ? x.reshaped([1, h, w]) : x
        let out = ImageFile.resized(img, height: height, width: width, interpolation: interpolation == .nearest ? .nearest : .bilinear)
        return out.reshaped(x.rank == 2 ? [height, width] : [c, height, width]).to(x.dtype)
    }

    /// Luma 0.2989 R + 0.587 G + 0.114 B (torchvision's `rgb_to_grayscale`); a one-channel image is itself.
    static func grayscale(_ px: Pixels) -> [Double] {
        guard px.c == 3 else { return Array(px.v[0..<px.plane]) }
        let n = px.plane
        return (0..<n).map { 0.2989 * px.v[$0] + 0.587 * px.v[n + $0] + 0.114 * px.v[2 * n + $0] }
    }

    /// `clamp(f·img + (1 − f)·other, 0, 1)`, `other` broadcast over channels when it is one plane.
    static func blend(_ px: Pixels, _ other: [Double], _ f: Double) -> Tensor {
        var out = px
        let n = px.plane
        for i in 0..<px.v.count {
            let o = other.count == 1 ? other[0] : other.count == n ? other[i % n] : other[i]
            out.v[i] = Swift.min(1, Swift.max(0, f * px.v[i] + (1 - f) * o))
        }
        return out.tensor()
    }

    /// Multiplies by `factor` (0 gives black, 1 the original), clamped to [0, 1].
    public static func adjustBrightness(_ x: Tensor, _ factor: Double) -> Tensor {
        require(factor >= 0, "adjustBrightness: factor must be non-negative, got \(factor)")
        return blend(Pixels(x, op: "adjustBrightness"), [0], factor)
    }

    /// Blends with the mean gray level of the whole image (0 gives uniform gray, 1 the original).
    public static func adjustContrast(_ x: Tensor, _ factor: Double) -> Tensor {
        require(factor >= 0, "adjustContrast: factor must be non-negative, got \(factor)")
        let px = Pixels(x, op: "adjustContrast")
        let gray = grayscale(px)
        return blend(px, [gray.reduce(0, +) / Double(gray.count)], factor)
    }

    /// Blends with the image's grayscale (0 gives gray, 1 the original, 2 doubles the saturation).
    public static func adjustSaturation(_ x: Tensor, _ factor: Double) -> Tensor {
        require(factor >= 0, "adjustSaturation: factor must be non-negative, got \(factor)")
        let px = Pixels(x, op: "adjustSaturation")
        guard px.c == 3 else { return x }
        return blend(px, grayscale(px), factor)
    }

    /// Rotates the hue by `factor` turns (in [−0.5, 0.5]) through HSV, as torchvision's `adjust_hue`.
    public static func adjustHue(_ x: Tensor, _ factor: Double) -> Tensor {
        require(factor >= -0.5 && factor <= 0.5, "adjustHue: factor must be in [-0.5, 0.5], got \(factor)")
        var px = Pixels(x, op: "adjustHue")
        guard px.c == 3 else { return x }
        let n = px.plane
        for i in 0..<n {
            let r = px.v[i], g = px.v[n + i], b = px.v[2 * n + i]
            // torchvision's _rgb2hsv.
            let maxc = Swift.max(r, g, b), minc = Swift.min(r, g, b)
            let eq = maxc == minc, cr = maxc - minc
            let s = cr / (eq ? 1 : maxc)
            let div = eq ? 1 : cr
            let rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div
            var hh: Double
            if maxc == r { hh = bc - gc } else if maxc == g { hh = 2 + rc - bc } else { hh = 4 + gc - rc }
            hh = fmod(hh / 6 + 1, 1)
            hh = hh + factor
            hh -= (hh / 1).rounded(.down)  // Python's % 1.0
            // torchvision's _hsv2rgb.
            let v = maxc
            let fi = (hh * 6).rounded(.down), f = hh * 6 - fi
            let p = Swift.min(1, Swift.max(0, v * (1 - s)))
            let q = Swift.min(1, Swift.max(0, v * (1 - s * f)))
            let t = Swift.min(1, Swift.max(0, v * (1 - s * (1 - f))))
            let (ro, go, bo): (Double, Double, Double)
            switch ((Int(fi) % 6) + 6) % 6 {
            case 0: (ro, go, bo) = (v, t, p)
            case 1: (ro, go, bo) = (q, v, p)
            case 2: (ro, go, bo) = (p, v, t)
            case 3: (ro, go, bo) = (p, q, v)
            case 4: (ro, go, bo) = (t, p, v)
            default: (ro, go, bo) = (v, p, q)
            }
            px.v[i] = ro
            px.v[n + i] = go
            px.v[2 * n + i] = bo
        }
        return px.tensor()
    }

    /// Blurs with a normalised Gaussian of standard deviation `sigma` sampled at the
    /// `kernelSize` integer offsets around the centre, borders reflected (torchvision's `gaussian_blur`).
    public static func gaussianBlur(_ x: Tensor, kernelSize: Int, sigma: Double) -> Tensor {
        require(kernelSize > 0 && kernelSize % 2 == 1, "gaussianBlur: kernelSize must be odd and positive, got \(kernelSize)")
        require(sigma > 0, "gaussianBlur: sigma must be positive, got \(sigma)")
        var px = Pixels(x, op: "gaussianBlur")
        let half = kernelSize / 2
        require(half < px.h && half < px.w, "gaussianBlur: a kernel of \(kernelSize) needs an image larger than \(half) pixels each way for reflection, got \(x.shape)")
        var k = (0..<kernelSize).map { Foundation.exp(-0.5 * Foundation.pow(Double($0 - half) / sigma, 2)) }
        let total = k.reduce(0, +)
        k = k.map { $0 / total }
        func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i }
        let (h, w) = (px.h, px.w)
        var tmp = px.v
        for ch in 0..<px.c {
            let base = ch * h * w
            for r in 0..<h { for q in 0..<w {
                var s = 0.0
                for t in 0..<kernelSize { s += k[t] * px.v[base + r * w + reflect(q + t - half, w)] }
                tmp[base + r * w + q] = s
            } }
            for r in 0..<h { for q in 0..<w {
                var s = 0.0
                for t in 0..<kernelSize { s += k[t] * tmp[base + reflect(r + t - half, h) * w + q] }
                px.v[base + r * w + q] = s
            } }
        }
        return px.tensor()
    }
}
