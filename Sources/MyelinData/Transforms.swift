import Foundation
import MyelinCore

/// A per-sample change to an input tensor: normalisation, augmentation. Images
/// are CHW float tensors (`[C, H, W]`; `[H, W]` is read as one channel).
///
/// Random transforms draw from the generator they are given, so the same
/// generator state gives the same augmentation; the `DataLoader` hands each
/// epoch its own generator derived from its seed.
public protocol Transform: Sendable {
    func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor
}

extension Transform {
    /// Applies the transform drawing from `RandomGenerator.default`.
    public func callAsFunction(_ x: Tensor) -> Tensor { self(x, generator: .default) }
}

// MARK: - Composition

/// Transforms applied in order (torchvision's `Compose`):
///
///     Compose {
///         RandomCrop(28, padding: 2)
///         RandomHorizontalFlip()
///         Normalize(mean: [0.1307], std: [0.3081])
///     }
public struct Compose: Transform {
    public let transforms: [any Transform]

    public init(_ transforms: [any Transform]) { self.transforms = transforms }

    public init(@TransformBuilder _ build: () -> [any Transform]) { self.transforms = build() }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        transforms.reduce(x) { y, t in t(y, generator: generator) }
    }
}

@resultBuilder
public enum TransformBuilder {
    public static func buildExpression(_ t: any Transform) -> [any Transform] { [t] }
    public static func buildBlock(_ parts: [any Transform]...) -> [any Transform] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any Transform]?) -> [any Transform] { part ?? [] }
    public static func buildEither(first: [any Transform]) -> [any Transform] { first }
    public static func buildEither(second: [any Transform]) -> [any Transform] { second }
    public static func buildArray(_ parts: [[any Transform]]) -> [any Transform] { parts.flatMap { $0 } }
}

/// A transform from a closure, for one-off changes.
public struct LambdaTransform: Transform {
    public let body: @Sendable (Tensor, RandomGenerator) -> Tensor
    public init(_ body: @escaping @Sendable (Tensor, RandomGenerator) -> Tensor) { self.body = body }
    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor { body(x, generator) }
}

// MARK: - Normalize

/// `(x - mean[c]) / std[c]` per channel (torchvision's `Normalize`). One value
/// applies to every channel. MNIST's usual values are mean 0.1307, std 0.3081.
public struct Normalize: Transform {
    public let mean: [Double]
    public let std: [Double]

    public init(mean: [Double], std: [Double]) {
        require(!mean.isEmpty && mean.count == std.count,
                "Normalize: mean (\(mean.count) values) and std (\(std.count) values) must have the same non-zero length")
        require(std.allSatisfy { $0 > 0 && $0.isFinite }, "Normalize: every std must be positive, got \(std)")
        self.mean = mean
        self.std = std
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        let (c, h, w) = Image.chw(x, op: "Normalize")
        require(mean.count == 1 || mean.count == c,
                "Normalize: \(mean.count) means for an image of \(c) channels (shape \(x.shape))")
        let out = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
        func run<T: FloatElement>(_: T.Type) {
            let src = x.storage.pointer(as: T.self), dst = out.storage.pointer(as: T.self)
            for ch in 0..<c {
                let m = T(mean[mean.count == 1 ? 0 : ch]), inv = 1 / T(std[std.count == 1 ? 0 : ch])
                let base = ch * h * w
                for i in base..<(base + h * w) { dst[i] = (src[i] - m) * inv }
            }
        }
        withExtendedLifetime(x) { x.dtype == .float64 ? run(Double.self) : run(Float.self) }
        return out
    }
}

// MARK: - Flips

/// Mirrors the image left-right with probability `p`.
public struct RandomHorizontalFlip: Transform {
    public let p: Double
    public init(p: Double = 0.5) {
        require(p >= 0 && p <= 1, "RandomHorizontalFlip: p must be in [0, 1], got \(p)")
        self.p = p
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        let (c, h, w) = Image.chw(x, op: "RandomHorizontalFlip")
        guard generator.nextDouble() < p else { return x }
        let out = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
        func run<T: FloatElement>(_: T.Type) {
            let src = x.storage.pointer(as: T.self), dst = out.storage.pointer(as: T.self)
            for row in 0..<(c * h) {
                let s = src + row * w, d = dst + row * w
                for j in 0..<w { d[j] = s[w - 1 - j] }
            }
        }
        withExtendedLifetime(x) { x.dtype == .float64 ? run(Double.self) : run(Float.self) }
        return out
    }
}

/// Mirrors the image top-bottom with probability `p`.
public struct RandomVerticalFlip: Transform {
    public let p: Double
    public init(p: Double = 0.5) {
        require(p >= 0 && p <= 1, "RandomVerticalFlip: p must be in [0, 1], got \(p)")
        self.p = p
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        let (c, h, w) = Image.chw(x, op: "RandomVerticalFlip")
        guard generator.nextDouble() < p else { return x }
        let out = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
        let rowBytes = w * x.dtype.byteSize
        withExtendedLifetime(x) {
            for ch in 0..<c {
                for i in 0..<h {
                    memcpy(out.storage.bytes + (ch * h + i) * rowBytes, x.storage.bytes + (ch * h + h - 1 - i) * rowBytes, rowBytes)
                }
            }
        }
        return out
    }
}

// MARK: - Crop

/// Pads the image with `fill` by `padding` pixels on every side, then cuts out a
/// `height`×`width` window at a random place (torchvision's `RandomCrop`; the
/// CIFAR recipe is `RandomCrop(32, padding: 4)`).
public struct RandomCrop: Transform {
    public let height: Int, width: Int, padding: Int
    public let fill: Double

    public init(height: Int, width: Int, padding: Int = 0, fill: Double = 0) {
        require(height > 0 && width > 0, "RandomCrop: size must be positive, got \(height)×\(width)")
        require(padding >= 0, "RandomCrop: padding must be non-negative, got \(padding)")
        self.height = height
        self.width = width
        self.padding = padding
        self.fill = fill
    }

    /// A square crop.
    public init(_ size: Int, padding: Int = 0, fill: Double = 0) {
        self.init(height: size, width: size, padding: padding, fill: fill)
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        let (c, h, w) = Image.chw(x, op: "RandomCrop")
        let ph = h + 2 * padding, pw = w + 2 * padding
        require(ph >= height && pw >= width,
                "RandomCrop: a \(height)×\(width) crop does not fit in image \(x.shape) padded by \(padding) (\(ph)×\(pw))")
        let top = generator.nextInt(0, ph - height + 1) - padding
        let left = generator.nextInt(0, pw - width + 1) - padding
        var outShape = x.shape
        outShape[outShape.count - 2] = height
        outShape[outShape.count - 1] = width
        let out = Tensor(uninitializedShape: outShape, dtype: x.dtype)
        func run<T: FloatElement>(_: T.Type) {
            let src = x.storage.pointer(as: T.self), dst = out.storage.pointer(as: T.self)
            let f = T(fill)
            for ch in 0..<c {
                for i in 0..<height {
                    let si = top + i
                    let d = dst + (ch * height + i) * width
                    guard si >= 0 && si < h else { d.update(repeating: f, count: width); continue }
                    let s = src + (ch * h + si) * w
                    for j in 0..<width {
                        let sj = left + j
                        d[j] = sj >= 0 && sj < w ? s[sj] : f
                    }
                }
            }
        }
        withExtendedLifetime(x) { x.dtype == .float64 ? run(Double.self) : run(Float.self) }
        return out
    }
}

/// The central `height`×`width` window (torchvision's `CenterCrop`), for evaluation.
public struct CenterCrop: Transform {
    public let height: Int, width: Int
    public init(height: Int, width: Int) {
        require(height > 0 && width > 0, "CenterCrop: size must be positive, got \(height)×\(width)")
        self.height = height
        self.width = width
    }
    public init(_ size: Int) { self.init(height: size, width: size) }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        let (c, h, w) = Image.chw(x, op: "CenterCrop")
        require(h >= height && w >= width, "CenterCrop: a \(height)×\(width) crop does not fit in image \(x.shape)")
        let top = (h - height) / 2, left = (w - width) / 2
        var outShape = x.shape
        outShape[outShape.count - 2] = height
        outShape[outShape.count - 1] = width
        let out = Tensor(uninitializedShape: outShape, dtype: x.dtype)
        let e = x.dtype.byteSize
        withExtendedLifetime(x) {
            for ch in 0..<c {
                for i in 0..<height {
                    memcpy(out.storage.bytes + ((ch * height + i) * width) * e,
                           x.storage.bytes + ((ch * h + top + i) * w + left) * e, width * e)
                }
            }
        }
        return out
    }
}

// MARK: - Affine

/// How an image is sampled between pixels.
public enum Interpolation: Sendable {
    case nearest, bilinear
}

/// A small random rotation, translation and scaling about the image centre
/// (torchvision's `RandomAffine`): an angle uniform in ±`degrees` (positive turns
/// counter-clockwise as displayed), a shift uniform in ±`translate` × the image
/// size, a zoom uniform in `scale`. Pixels that come from outside the image are
/// `fill`. The classic MNIST augmentation is `RandomAffine(degrees: 10, translate: (0.1, 0.1))`.
public struct RandomAffine: Transform {
    public let degrees: Double
    public let translate: (x: Double, y: Double)
    public let scale: ClosedRange<Double>
    public let interpolation: Interpolation
    public let fill: Double

    public init(
        degrees: Double, translate: (x: Double, y: Double) = (0, 0), scale: ClosedRange<Double> = 1...1,
        interpolation: Interpolation = .bilinear, fill: Double = 0
    ) {
        require(degrees >= 0 && degrees.isFinite, "RandomAffine: degrees must be non-negative, got \(degrees)")
        require(translate.x >= 0 && translate.x <= 1 && translate.y >= 0 && translate.y <= 1,
                "RandomAffine: translate fractions must be in [0, 1], got \(translate)")
        require(scale.lowerBound > 0, "RandomAffine: scale must be positive, got \(scale)")
        self.degrees = degrees
        self.translate = translate
        self.scale = scale
        self.interpolation = interpolation
        self.fill = fill
    }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor {
        let (_, h, w) = Image.chw(x, op: "RandomAffine")
        let angle = degrees > 0 ? generator.nextDouble(in: -degrees..<degrees) : 0
        let tx = translate.x > 0 ? generator.nextDouble(in: -translate.x..<translate.x) * Double(w) : 0
        let ty = translate.y > 0 ? generator.nextDouble(in: -translate.y..<translate.y) * Double(h) : 0
        let s = scale.lowerBound < scale.upperBound ? generator.nextDouble(in: scale.lowerBound..<scale.upperBound) : scale.lowerBound
        return Image.affine(x, angle: angle, translation: (tx, ty), scale: s, interpolation: interpolation, fill: fill)
    }
}

/// A random rotation by up to ±`degrees` about the centre.
public struct RandomRotation: Transform {
    let affine: RandomAffine
    public init(degrees: Double, interpolation: Interpolation = .bilinear, fill: Double = 0) {
        affine = RandomAffine(degrees: degrees, interpolation: interpolation, fill: fill)
    }
    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor { affine(x, generator: generator) }
}

// MARK: - Image kernels

/// Pixel loops on CHW images.
public enum Image {
    /// (channels, height, width) of a `[C, H, W]` or `[H, W]` float tensor.
    static func chw(_ x: Tensor, op: String) -> (Int, Int, Int) {
        require(x.dtype.isFloatingPoint, "\(op): needs a float32 or float64 image, got \(x.dtype)")
        switch x.rank {
        case 3: return (x.shape[0], x.shape[1], x.shape[2])
        case 2: return (1, x.shape[0], x.shape[1])
        default:
            requirementFailure("\(op): needs an image of shape [C, H, W] or [H, W], got \(x.shape) (transforms apply to one sample, not a batch)")
        }
    }

    /// Rotates by `angle` degrees (counter-clockwise as displayed), scales by
    /// `scale` and shifts by `translation` pixels (x right, y down), about the
    /// image centre; each output pixel samples the input at the inverse-mapped point.
    public static func affine(
        _ x: Tensor, angle: Double, translation: (x: Double, y: Double) = (0, 0), scale: Double = 1,
        interpolation: Interpolation = .bilinear, fill: Double = 0
    ) -> Tensor {
        let (c, h, w) = chw(x, op: "affine")
        require(scale > 0, "affine: scale must be positive, got \(scale)")
        let out = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
        let theta = angle * .pi / 180
        // Inverse map: source = centre + R(θ)ᵀ·(p − centre − t)/s, with R the displayed CCW rotation.
        let cosT = Foundation.cos(theta) / scale, sinT = Foundation.sin(theta) / scale
        let cx = Double(w - 1) / 2, cy = Double(h - 1) / 2
        func run<T: FloatElement>(_: T.Type) {
            let src = x.storage.pointer(as: T.self), dst = out.storage.pointer(as: T.self)
            let f = T(fill)
            for i in 0..<h {
                for j in 0..<w {
                    let dx = Double(j) - cx - translation.x, dy = Double(i) - cy - translation.y
                    let sx = cx + cosT * dx - sinT * dy
                    let sy = cy + sinT * dx + cosT * dy
                    let o = i * w + j
                    switch interpolation {
                    case .nearest:
                        let xi = Int((sx).rounded()), yi = Int((sy).rounded())
                        let inside = xi >= 0 && xi < w && yi >= 0 && yi < h
                        for ch in 0..<c { dst[ch * h * w + o] = inside ? src[ch * h * w + yi * w + xi] : f }
                    case .bilinear:
                        guard sx > -1 && sx < Double(w) && sy > -1 && sy < Double(h) else {
                            for ch in 0..<c { dst[ch * h * w + o] = f }
                            continue
                        }
                        let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                        let ax = T(sx - Double(x0)), ay = T(sy - Double(y0))
                        for ch in 0..<c {
                            let plane = src + ch * h * w
                            func at(_ yy: Int, _ xx: Int) -> T { xx >= 0 && xx < w && yy >= 0 && yy < h ? plane[yy * w + xx] : f }
                            let top = at(y0, x0) * (1 - ax) + at(y0, x0 + 1) * ax
                            let bottom = at(y0 + 1, x0) * (1 - ax) + at(y0 + 1, x0 + 1) * ax
                            dst[ch * h * w + o] = top * (1 - ay) + bottom * ay
                        }
                    }
                }
            }
        }
        withExtendedLifetime(x) { x.dtype == .float64 ? run(Double.self) : run(Float.self) }
        return out
    }
}
