import CJPEG
import CPNG
import Foundation
import MyelinCore

/// Reading PNG and JPEG files into tensors, and the conversions a classifier's input
/// needs (grayscale, resizing). Writing is in ImageWriting.swift (`write`, `encode`),
/// layouts and byte conversions in ImageLayout.swift (`toHWC`, `toTensor`, `toBytes`).
///
/// Images come back as float32 `[C, H, W]` (channels first, as PyTorch's `ToTensor`) with
/// values in [0, 1]: 8-bit samples divided by 255, 16-bit by 65535. Channels are those of
/// the file: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA); palette images become RGB,
/// or RGBA when they have transparency; gray below 8 bits is expanded. JPEG gives 1 or 3.
/// A missing, corrupt or truncated file throws a `DataError` naming the file and the problem.
public enum ImageFile {
    public enum Format: String, Sendable { case png, jpeg }

    /// The format by the file's first bytes (not its extension); nil when neither.
    public static func format(of bytes: Data) -> Format? {
        let b = [UInt8](bytes.prefix(8))
        if b.count >= 8 && b == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF { return .jpeg }
        return nil
    }

    /// Reads a PNG or JPEG file as float32 `[C, H, W]` in [0, 1].
    public static func read(contentsOf url: URL) throws -> Tensor {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DataError(.notFound, file: url.path, "cannot be read (\(FileManager.default.fileExists(atPath: url.path) ? "not a readable file" : "no such file"))")
        }
        return try decode(data, name: url.path)
    }

    /// Decodes PNG or JPEG bytes as float32 `[C, H, W]` in [0, 1]; `name` labels errors.
    public static func decode(_ data: Data, name: String = "<image>") throws -> Tensor {
        switch format(of: data) {
        case .png: return try decodePNG(data, name: name)
        case .jpeg: return try decodeJPEG(data, name: name)
        case nil:
            throw DataError(.corrupt, file: name, data.isEmpty ? "is empty, not an image" : "is neither a PNG nor a JPEG file (unknown signature)")
        }
    }

    static func decodePNG(_ data: Data, name: String) throws -> Tensor {
        var pixels: UnsafeMutablePointer<UInt8>? = nil
        var w: UInt32 = 0, h: UInt32 = 0
        var c: Int32 = 0, depth: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let rc = data.withUnsafeBytes { raw in
            myelin_png_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &pixels, &w, &h, &c, &depth, &message)
        }
        guard rc == 0, let pixels else {
            throw DataError(.corrupt, file: name, "is not a valid PNG file: \(messageText(message))")
        }
        defer { free(pixels) }
        return planar(pixels, width: Int(w), height: Int(h), channels: Int(c), sixteenBit: depth == 16)
    }

    static func decodeJPEG(_ data: Data, name: String) throws -> Tensor {
        var pixels: UnsafeMutablePointer<UInt8>? = nil
        var w: UInt32 = 0, h: UInt32 = 0
        var c: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let rc = data.withUnsafeBytes { raw in
            myelin_jpeg_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &pixels, &w, &h, &c, &message)
        }
        guard rc == 0, let pixels else {
            throw DataError(.corrupt, file: name, "is not a valid JPEG file: \(messageText(message))")
        }
        defer { free(pixels) }
        return planar(pixels, width: Int(w), height: Int(h), channels: Int(c), sixteenBit: false)
    }

    static func messageText(_ m: [CChar]) -> String {
        String(decoding: m.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Interleaved HWC samples → float32 CHW in [0, 1].
    static func planar(_ p: UnsafeMutablePointer<UInt8>, width: Int, height: Int, channels: Int, sixteenBit: Bool) -> Tensor {
        var out = Tensor(uninitializedShape: [channels, height, width], dtype: .float32)
        let plane = width * height
        out.withUnsafeMutablePointer(as: Float.self) { o in
            if sixteenBit {
                p.withMemoryRebound(to: UInt16.self, capacity: plane * channels) { s in
                    for i in 0..<plane { for ch in 0..<channels { o[ch * plane + i] = Float(s[i * channels + ch]) / 65535 } }
                }
            } else {
                for i in 0..<plane { for ch in 0..<channels { o[ch * plane + i] = Float(p[i * channels + ch]) / 255 } }
            }
        }
        return out
    }

    // MARK: Conversions

    /// A `[C, H, W]` image with `channels` channels: gray ← RGB by ITU-R 601 luma
    /// (0.299 R + 0.587 G + 0.114 B, as PIL's "L"), alpha dropped (2 → 1, 4 → 3);
    /// gray → RGB by repetition.
    public static func converted(_ image: Tensor, channels: Int) -> Tensor {
        require(image.rank == 3 && (1...4).contains(image.shape[0]),
                "ImageFile.converted: an image must be [C, H, W] with C in 1...4, got shape \(image.shape)")
        require((1...4).contains(channels), "ImageFile.converted: channels must be 1...4, got \(channels)")
        var x = image.to(.float32)
        let c = x.shape[0]
        if c == channels { return x }
        // Drop alpha first.
        if c == 2 || c == 4 { x = x[0..<(c - 1)] }
        let base = x.shape[0]
        switch (base, channels) {
        case (3, 1), (3, 2):
            let gray = x[0] * 0.299 + x[1] * 0.587 + x[2] * 0.114
            let g = gray.unsqueezed(axis: 0)
            return channels == 1 ? g : Tensor.concat([g, Tensor.ones(g.shape)], axis: 0)
        case (1, 3), (1, 4):
            let rgb = Tensor.concat([x, x, x], axis: 0)
            return channels == 3 ? rgb : Tensor.concat([rgb, Tensor.ones(x.shape)], axis: 0)
        case (1, 2):
            return Tensor.concat([x, Tensor.ones(x.shape)], axis: 0)
        case (3, 4):
            return Tensor.concat([x, Tensor.ones([1] + Array(x.shape.dropFirst()))], axis: 0)
        default:
            return x
        }
    }

    public enum Interpolation: String, Sendable, CaseIterable { case nearest, bilinear }

    /// Resizes a `[C, H, W]` image to `height × width`: nearest neighbour, or bilinear with
    /// half-pixel centres (PyTorch's `interpolate(mode="bilinear", align_corners=False)`).
    ///
    /// Without `antialias`, shrinking samples only the nearest pixels, so fine detail aliases.
    /// With `antialias: true` (bilinear only), shrinking by a factor s averages with a triangle
    /// filter s pixels wide, as PIL's `resize(BILINEAR)` and PyTorch's `interpolate(...,
    /// antialias=True)` do (torchvision's `Resize` default since v0.17); enlarging is unchanged.
    public static func resized(_ image: Tensor, height: Int, width: Int, interpolation: Interpolation = .bilinear,
                               antialias: Bool = false) -> Tensor {
        require(image.rank == 3, "ImageFile.resized: an image must be [C, H, W], got shape \(image.shape)")
        require(height > 0 && width > 0, "ImageFile.resized: the size must be positive, got \(height)×\(width)")
        let x = image.to(.float32)
        let (c, ih, iw) = (x.shape[0], x.shape[1], x.shape[2])
        if ih == height && iw == width { return x }
        if antialias && interpolation == .bilinear && (height < ih || width < iw) {
            return antialiasedResize(x, height: height, width: width)
        }
        let src = x.scalars(as: Float.self)
        var out = Tensor(uninitializedShape: [c, height, width], dtype: .float32)
        let sy = Double(ih) / Double(height), sx = Double(iw) / Double(width)
        out.withUnsafeMutablePointer(as: Float.self) { o in
            for ch in 0..<c {
                let s = ch * ih * iw, d = ch * height * width
                for y in 0..<height {
                    for xo in 0..<width {
                        switch interpolation {
                        case .nearest:
                            let yi = Swift.min(Int(Double(y) * sy), ih - 1), xi = Swift.min(Int(Double(xo) * sx), iw - 1)
                            o[d + y * width + xo] = src[s + yi * iw + xi]
                        case .bilinear:
                            let fy = Swift.max(0, (Double(y) + 0.5) * sy - 0.5), fx = Swift.max(0, (Double(xo) + 0.5) * sx - 0.5)
                            let y0 = Swift.min(Int(fy), ih - 1), x0 = Swift.min(Int(fx), iw - 1)
                            let y1 = Swift.min(y0 + 1, ih - 1), x1 = Swift.min(x0 + 1, iw - 1)
                            let wy = Float(fy - Double(y0)), wx = Float(fx - Double(x0))
                            let top = src[s + y0 * iw + x0] * (1 - wx) + src[s + y0 * iw + x1] * wx
                            let bottom = src[s + y1 * iw + x0] * (1 - wx) + src[s + y1 * iw + x1] * wx
                            o[d + y * width + xo] = top * (1 - wy) + bottom * wy
                        }
                    }
                }
            }
        }
        return out
    }
}

// MARK: - Antialiased resizing

extension ImageFile {
    /// For each output position along an axis: the first input index and the normalised
    /// triangle-filter weights (PIL's ImagingResample and PyTorch's antialiased bilinear).
    static func triangleWeights(from input: Int, to output: Int) -> [(start: Int, weights: [Float])] {
        let scale = Double(input) / Double(output)
        let filterScale = Swift.max(scale, 1)
        let support = filterScale  // the triangle's support is 1, stretched when shrinking
        return (0..<output).map { i in
            let centre = (Double(i) + 0.5) * scale
            let lo = Swift.max(Int(centre - support + 0.5), 0)
            let hi = Swift.min(Int(centre + support + 0.5), input)
            var w = (lo..<hi).map { j in Swift.max(0, 1 - Swift.abs((Double(j) - centre + 0.5) / filterScale)) }
            let total = w.reduce(0, +)
            if total > 0 { w = w.map { $0 / total } }
            return (lo, w.map { Float($0) })
        }
    }

    /// Separable resampling: rows first, then columns.
    static func antialiasedResize(_ x: Tensor, height: Int, width: Int) -> Tensor {
        let (c, ih, iw) = (x.shape[0], x.shape[1], x.shape[2])
        let src = x.scalars(as: Float.self)
        let across = triangleWeights(from: iw, to: width), down = triangleWeights(from: ih, to: height)
        var middle = [Float](repeating: 0, count: c * ih * width)
        for p in 0..<(c * ih) {
            for (o, tap) in across.enumerated() {
                var acc: Float = 0
                for (k, w) in tap.weights.enumerated() { acc += w * src[p * iw + tap.start + k] }
                middle[p * width + o] = acc
            }
        }
        var out = Tensor(uninitializedShape: [c, height, width], dtype: .float32)
        out.withUnsafeMutablePointer(as: Float.self) { o in
            for ch in 0..<c {
                for (y, tap) in down.enumerated() {
                    for xo in 0..<width {
                        var acc: Float = 0
                        for (k, w) in tap.weights.enumerated() { acc += w * middle[(ch * ih + tap.start + k) * width + xo] }
                        o[(ch * height + y) * width + xo] = acc
                    }
                }
            }
        }
        return out
    }
}

// MARK: - What a file holds

extension ImageFile {
    /// What an image file stores, from its header: the decoded tensor has `channels`
    /// channels (palette images decode to RGB or RGBA).
    public struct Info: Sendable, Equatable {
        public var format: Format
        public var width: Int
        public var height: Int
        /// Bits per sample in the file: 1, 2, 4, 8 or 16 for PNG (palette: bits per index), 8 for JPEG.
        public var bitDepth: Int
        /// "gray", "gray+alpha", "RGB", "RGBA" or "palette" (PNG); "gray" or "RGB" (JPEG).
        public var colorType: String
        /// Channels of the tensor `read` returns.
        public var channels: Int
    }

    /// Reads a file and what it holds: the tensor of `read(contentsOf:)` and its `Info`.
    public static func readWithInfo(contentsOf url: URL) throws -> (image: Tensor, info: Info) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DataError(.notFound, file: url.path, "cannot be read (\(FileManager.default.fileExists(atPath: url.path) ? "not a readable file" : "no such file"))")
        }
        let image = try decode(data, name: url.path)
        let (c, h, w) = (image.shape[0], image.shape[1], image.shape[2])
        let b = [UInt8](data.prefix(29))
        if format(of: data) == .png && b.count == 29 {
            // IHDR follows the signature: length, "IHDR", width, height, bit depth, colour type.
            let types = [0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"]
            return (image, Info(format: .png, width: w, height: h, bitDepth: Int(b[24]),
                                colorType: types[Int(b[25])] ?? "type \(b[25])", channels: c))
        }
        return (image, Info(format: .jpeg, width: w, height: h, bitDepth: 8, colorType: c == 1 ? "gray" : "RGB", channels: c))
    }
}
