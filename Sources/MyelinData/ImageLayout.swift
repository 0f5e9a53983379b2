import MyelinCore

/// Where an image tensor keeps its channel axis.
///
/// Myelin's images are `.channelsFirst`, as PyTorch's: `[C, H, W]` for one image and
/// `[N, C, H, W]` for a batch. PIL, NumPy, Matplotlib, Keras and TensorFlow use
/// `.channelsLast`: `[H, W, C]` and `[N, H, W, C]`. The names are Keras' `data_format`
/// values (and PyTorch's `memory_format=torch.channels_last`).
public enum ImageLayout: String, Sendable, CaseIterable {
    /// `[C, H, W]` or `[N, C, H, W]` (PyTorch, torchvision, Myelin).
    case channelsFirst
    /// `[H, W, C]` or `[N, H, W, C]` (PIL, NumPy, Keras, TensorFlow).
    case channelsLast
}

// MARK: - Layout and sample conversions (torchvision's to_tensor / to_pil_image)

extension ImageFile {
    /// The same image with its channel axis moved from `source` to `target`: rank 3
    /// (`[C, H, W]` ↔ `[H, W, C]`, as `x.permute(1, 2, 0)`) or rank 4 (`[N, C, H, W]` ↔
    /// `[N, H, W, C]`, as `x.permute(0, 2, 3, 1)`). Gradients flow through.
    public static func relayout(_ image: Tensor, from source: ImageLayout, to target: ImageLayout) -> Tensor {
        require(image.rank == 3 || image.rank == 4,
                "ImageFile.relayout: an image is rank 3 ([C, H, W] / [H, W, C]) or a batch rank 4, got shape \(image.shape)")
        if source == target { return image }
        switch (image.rank, target) {
        case (3, .channelsLast): return image.permuted([1, 2, 0])
        case (3, _): return image.permuted([2, 0, 1])
        case (_, .channelsLast): return image.permuted([0, 2, 3, 1])
        default: return image.permuted([0, 3, 1, 2])
        }
    }

    /// `[C, H, W]` → `[H, W, C]` (or `[N, C, H, W]` → `[N, H, W, C]`): PyTorch's layout to PIL's/NumPy's.
    public static func toHWC(_ image: Tensor) -> Tensor { relayout(image, from: .channelsFirst, to: .channelsLast) }

    /// `[H, W, C]` → `[C, H, W]` (or `[N, H, W, C]` → `[N, C, H, W]`): PIL's/NumPy's layout to PyTorch's.
    public static func toCHW(_ image: Tensor) -> Tensor { relayout(image, from: .channelsLast, to: .channelsFirst) }

    /// 8-bit samples, interleaved row by row as in a PIL image or a NumPy `uint8` array of shape
    /// `[H, W, C]`, as a float32 `[C, H, W]` tensor in [0, 1] (each value divided by 255):
    /// torchvision's `to_tensor` / `ToTensor()`.
    public static func toTensor(_ bytes: [UInt8], height: Int, width: Int, channels: Int) -> Tensor {
        checkSampleCount(bytes.count, height: height, width: width, channels: channels, op: "ImageFile.toTensor")
        return bytes.withUnsafeBufferPointer { b in
            // The decoder's loop reads through a mutable pointer but never writes.
            planar(UnsafeMutablePointer(mutating: b.baseAddress!), width: width, height: height, channels: channels, sixteenBit: false)
        }
    }

    /// 16-bit samples (`[H, W, C]` interleaved) as float32 `[C, H, W]` in [0, 1] (divided by 65535).
    public static func toTensor(_ samples: [UInt16], height: Int, width: Int, channels: Int) -> Tensor {
        checkSampleCount(samples.count, height: height, width: width, channels: channels, op: "ImageFile.toTensor")
        return samples.withUnsafeBufferPointer { s in
            UnsafeMutableRawPointer(mutating: s.baseAddress!).withMemoryRebound(to: UInt8.self, capacity: s.count * 2) {
                planar($0, width: width, height: height, channels: channels, sixteenBit: true)
            }
        }
    }

    /// A float `[C, H, W]` image (or `[H, W]`, one channel) as 8-bit samples interleaved `[H, W, C]`,
    /// ready for a PIL image or a PNG: each value is clamped to [0, 1], multiplied by 255 and
    /// ROUNDED to the nearest integer (as `torchvision.utils.save_image`; note that
    /// `to_pil_image` truncates instead, so 0.999 gives 254 there and 255 here). NaN gives 0.
    public static func toBytes(_ image: Tensor) -> [UInt8] {
        let (c, h, w) = imageDimensions(image, op: "ImageFile.toBytes")
        return quantised(image, channels: c, height: h, width: w, maximum: 255).map { UInt8($0) }
    }

    /// As `toBytes`, to 16-bit samples (× 65535, rounded).
    public static func toUInt16(_ image: Tensor) -> [UInt16] {
        let (c, h, w) = imageDimensions(image, op: "ImageFile.toUInt16")
        return quantised(image, channels: c, height: h, width: w, maximum: 65535)
    }

    static func checkSampleCount(_ count: Int, height: Int, width: Int, channels: Int, op: String) {
        require(height > 0 && width > 0 && (1...4).contains(channels),
                "\(op): needs a positive size and 1...4 channels, got \(height)×\(width)×\(channels)")
        require(count == height * width * channels,
                "\(op): \(count) samples for a \(height)×\(width) image with \(channels) channels (expected \(height * width * channels), interleaved [H, W, C])")
    }

    /// (C, H, W) of a `[C, H, W]` or `[H, W]` float image.
    static func imageDimensions(_ image: Tensor, op: String) -> (Int, Int, Int) {
        require(image.dtype.isFloatingPoint, "\(op): needs a float image with values in [0, 1], got \(image.dtype)")
        switch image.rank {
        case 3: return (image.shape[0], image.shape[1], image.shape[2])
        case 2: return (1, image.shape[0], image.shape[1])
        default: requirementFailure("\(op): needs one image [C, H, W] or [H, W], got shape \(image.shape)")
        }
    }

    /// CHW floats → interleaved HWC integers in 0...maximum: clamped, scaled, rounded; NaN → 0.
    static func quantised(_ image: Tensor, channels c: Int, height h: Int, width w: Int, maximum: Int) -> [UInt16] {
        let v = image.scalars(as: Double.self)
        let plane = h * w, top = Double(maximum)
        var out = [UInt16](repeating: 0, count: plane * c)
        out.withUnsafeMutableBufferPointer { o in
            for ch in 0..<c {
                for i in 0..<plane {
                    let x = v[ch * plane + i]
                    o[i * c + ch] = x.isNaN ? 0 : UInt16((Swift.min(Swift.max(x, 0), 1) * top).rounded())
                }
            }
        }
        return out
    }
}
