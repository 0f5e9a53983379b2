import CZlib
import Foundation
import MyelinCore

/// A PNG encoder for 8-bit images (gray, gray+alpha, RGB, RGBA): the signature, IHDR,
/// IDAT chunks compressed with zlib's deflate, IEND, each chunk with its CRC-32.
/// Rows are filtered with the filter that minimises the sum of absolute differences
/// (libpng's heuristic), which keeps charts and photos small.
public enum PNG {
    public enum ColorType: UInt8, Sendable {
        case gray = 0, rgb = 2, grayAlpha = 4, rgba = 6

        public var channels: Int {
            switch self {
            case .gray: 1
            case .grayAlpha: 2
            case .rgb: 3
            case .rgba: 4
            }
        }

        /// The color type of an interleaved buffer with `channels` bytes per pixel.
        public init?(channels: Int) {
            switch channels {
            case 1: self = .gray
            case 2: self = .grayAlpha
            case 3: self = .rgb
            case 4: self = .rgba
            default: return nil
            }
        }
    }

    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Encodes interleaved 8-bit pixels, row-major from the top-left, `colorType.channels` bytes each.
    public static func encode(pixels: [UInt8], width: Int, height: Int, colorType: ColorType = .rgb, compressionLevel: Int = 6) -> Data {
        require(width > 0 && height > 0 && width <= Int(Int32.max) && height <= Int(Int32.max),
                "PNG.encode: image size \(width)×\(height) is invalid (each side 1...\(Int32.max))")
        let bpp = colorType.channels
        require(pixels.count == width * height * bpp,
                "PNG.encode: \(pixels.count) bytes cannot be a \(width)×\(height) \(colorType) image, which needs \(width * height * bpp)")
        let filtered = filterRows(pixels, width: width, height: height, bpp: bpp)
        var out = Data(signature)
        var ihdr = [UInt8]()
        ihdr += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        ihdr += [8, colorType.rawValue, 0, 0, 0]  // bit depth 8, deflate, adaptive filtering, no interlace
        appendChunk("IHDR", ihdr, to: &out)
        let compressed = deflate(filtered, level: compressionLevel)
        // IDAT may be split anywhere; 1 MiB chunks keep every length field small.
        let step = 1 << 20
        var start = 0
        repeat {
            let end = min(start + step, compressed.count)
            appendChunk("IDAT", compressed[start..<end], to: &out)
            start = end
        } while start < compressed.count
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// Encodes an image tensor of shape [H, W] (gray) or [H, W, C] with C = 1, 2, 3 or 4
    /// (channels last). Float values are taken in [0, 1] and scaled to 0...255; integer
    /// values in 0...255; both are clamped.
    public static func encode(_ image: Tensor) -> Data {
        require(image.rank == 2 || (image.rank == 3 && (1...4).contains(image.shape[2])),
                "PNG.encode: an image tensor must have shape [H, W] or [H, W, C] with C in 1...4, not \(image.shape)")
        let (h, w, c) = (image.shape[0], image.shape[1], image.rank == 3 ? image.shape[2] : 1)
        let values = image.scalars(as: Double.self)
        let scale = image.dtype.isFloatingPoint ? 255.0 : 1.0
        let bytes = values.map { v -> UInt8 in
            let x = (v * scale).rounded()
            return x.isNaN ? 0 : UInt8(Swift.max(0, Swift.min(255, x)))
        }
        guard let type = ColorType(channels: c) else { requirementFailure("PNG.encode: \(c) channels") }
        return encode(pixels: bytes, width: w, height: h, colorType: type)
    }

    /// Writes a PNG file atomically.
    public static func write(pixels: [UInt8], width: Int, height: Int, colorType: ColorType = .rgb, to url: URL) throws {
        try AtomicFile.write(encode(pixels: pixels, width: width, height: height, colorType: colorType), to: url)
    }

    // MARK: Pieces

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    /// Length, type, data, CRC-32 of type + data.
    static func appendChunk(_ type: String, _ data: some Collection<UInt8>, to out: inout Data) {
        let typeBytes = Array(type.utf8)
        let body = typeBytes + Array(data)
        out.append(contentsOf: bigEndian(UInt32(data.count)))
        out.append(contentsOf: body)
        out.append(contentsOf: bigEndian(crc32(body)))
    }

    /// zlib's CRC-32 (the one PNG specifies).
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(CZlib.crc32(0, $0.baseAddress, uInt($0.count))) }
    }

    /// A zlib stream (deflate with zlib header and Adler-32), as IDAT wants.
    static func deflate(_ bytes: [UInt8], level: Int) -> [UInt8] {
        var size = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let rc = out.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &size, src.baseAddress, uLong(src.count), Int32(max(0, min(9, level))))
            }
        }
        // compressBound guarantees room, so only running out of memory can fail.
        guard rc == Z_OK else { fatalError("PNG: zlib compress2 failed with code \(rc)") }
        out.removeSubrange(Int(size)...)
        return out
    }

    /// Each row prefixed by its filter type (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth).
    static func filterRows(_ px: [UInt8], width: Int, height: Int, bpp: Int) -> [UInt8] {
        let stride = width * bpp
        var out = [UInt8](repeating: 0, count: height * (stride + 1))
        var candidate = [UInt8](repeating: 0, count: stride)
        var best = [UInt8](repeating: 0, count: stride)
        px.withUnsafeBufferPointer { p in
            for y in 0..<height {
                let row = y * stride, prev = row - stride
                var bestType: UInt8 = 0
                var bestScore = Int.max
                for type: UInt8 in 0...4 {
                    var score = 0
                    for i in 0..<stride {
                        let x = p[row + i]
                        let a = i >= bpp ? p[row + i - bpp] : 0
                        let b = y > 0 ? p[prev + i] : 0
                        let c = (i >= bpp && y > 0) ? p[prev + i - bpp] : 0
                        let predictor: UInt8 = switch type {
                        case 0: 0
                        case 1: a
                        case 2: b
                        case 3: UInt8((Int(a) + Int(b)) / 2)
                        default: paeth(a, b, c)
                        }
                        let v = x &- predictor
                        candidate[i] = v
                        score += v < 128 ? Int(v) : 256 - Int(v)
                    }
                    if score < bestScore {
                        bestScore = score
                        bestType = type
                        swap(&best, &candidate)
                    }
                }
                out[y * (stride + 1)] = bestType
                out.withUnsafeMutableBufferPointer { o in
                    best.withUnsafeBufferPointer { b in
                        (o.baseAddress! + y * (stride + 1) + 1).update(from: b.baseAddress!, count: stride)
                    }
                }
            }
        }
        return out
    }

    @inline(__always) static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }
}
