import CZlib
import Foundation
import Testing
import Myelin

/// A minimal independent PNG reader for the tests: chunk walk with CRC check,
/// zlib inflate of the IDAT stream, and the five row filters undone.
struct DecodedPNG {
    var width = 0, height = 0, bitDepth = 0, colorType = 0, interlace = 0
    var chunkTypes: [String] = []
    var pixels: [UInt8] = []

    /// CRC-32 (the PNG/zlib polynomial), computed here rather than by zlib.
    static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var table = [UInt32](repeating: 0, count: 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            table[i] = c
        }
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    enum Failure: Error { case signature, truncated, crc(String), inflate(Int32), size }

    init(_ data: Data) throws {
        let b = [UInt8](data)
        guard b.count > 8, Array(b[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { throw Failure.signature }
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        var i = 8
        var idat: [UInt8] = []
        while i < b.count {
            guard i + 12 <= b.count else { throw Failure.truncated }
            let len = be32(i)
            guard i + 12 + len <= b.count else { throw Failure.truncated }
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = Array(b[(i + 8)..<(i + 8 + len)])
            guard Self.crc32(b[(i + 4)..<(i + 8 + len)]) == UInt32(be32(i + 8 + len)) else { throw Failure.crc(type) }
            chunkTypes.append(type)
            if type == "IHDR" {
                width = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
                height = Int(body[4]) << 24 | Int(body[5]) << 16 | Int(body[6]) << 8 | Int(body[7])
                (bitDepth, colorType, interlace) = (Int(body[8]), Int(body[9]), Int(body[12]))
            }
            if type == "IDAT" { idat += body }
            i += 12 + len
        }
        let channels = [0: 1, 2: 3, 4: 2, 6: 4][colorType] ?? 0
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        var rawLen = uLongf(raw.count)
        let rc = raw.withUnsafeMutableBufferPointer { r in idat.withUnsafeBufferPointer { uncompress(r.baseAddress, &rawLen, $0.baseAddress, uLong($0.count)) } }
        guard rc == Z_OK else { throw Failure.inflate(rc) }
        guard Int(rawLen) == raw.count else { throw Failure.size }
        var out = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let f = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = raw[y * (stride + 1) + 1 + x]
                let a = x >= channels ? Int(out[y * stride + x - channels]) : 0
                let up = y > 0 ? Int(out[(y - 1) * stride + x]) : 0
                let c = (x >= channels && y > 0) ? Int(out[(y - 1) * stride + x - channels]) : 0
                let pred: Int
                switch f {
                case 0: pred = 0
                case 1: pred = a
                case 2: pred = up
                case 3: pred = (a + up) / 2
                default:
                    let p = a + up - c
                    let (pa, pb, pc) = (abs(p - a), abs(p - up), abs(p - c))
                    pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c
                }
                out[y * stride + x] = UInt8((Int(v) + pred) & 0xFF)
            }
        }
        pixels = out
    }
}

@Suite struct PNGTests {
    @Test func tinyRGBImageDecodesToTheSamePixels() throws {
        // 3×2: red, green, blue / white, black, a gradient value.
        let px: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255,
                           255, 255, 255, 0, 0, 0, 10, 20, 30]
        let png = PNG.encode(pixels: px, width: 3, height: 2, colorType: .rgb)
        #expect(Array(png.prefix(8)) == PNG.signature)
        let d = try DecodedPNG(png)
        #expect(d.chunkTypes == ["IHDR", "IDAT", "IEND"])
        #expect(d.width == 3 && d.height == 2 && d.bitDepth == 8 && d.colorType == 2 && d.interlace == 0)
        #expect(d.pixels == px)
    }

    @Test(arguments: [PNG.ColorType.gray, .grayAlpha, .rgb, .rgba])
    func everyColorTypeAndFilterRoundTrips(_ type: PNG.ColorType) throws {
        // A noisy, gradient image exercises all five filters.
        let (w, h) = (37, 23)
        var state: UInt32 = 12345
        let px = (0..<(w * h * type.channels)).map { i -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return i % 5 == 0 ? UInt8(truncatingIfNeeded: state >> 24) : UInt8(truncatingIfNeeded: i / 7)
        }
        let d = try DecodedPNG(PNG.encode(pixels: px, width: w, height: h, colorType: type))
        #expect(d.colorType == Int(type.rawValue))
        #expect(d.width == w && d.height == h)
        #expect(d.pixels == px)
    }

    @Test func crcMatchesTheKnownValue() {
        // CRC-32 of "IEND" is the constant every PNG ends with.
        #expect(PNG.crc32(Array("IEND".utf8)) == 0xAE42_6082)
        #expect(DecodedPNG.crc32(Array("IEND".utf8)) == 0xAE42_6082)
    }

    @Test func imageTensorIsScaledAndClamped() throws {
        let t = Tensor([0, 0.5, 1, 2, -1, 0.25], shape: [2, 3])
        let d = try DecodedPNG(PNG.encode(t))
        #expect(d.colorType == 0 && d.width == 3 && d.height == 2)
        #expect(d.pixels == [0, 128, 255, 255, 0, 64])
        let rgb = Tensor([Int64](arrayLiteral: 300, 20, -5, 7, 8, 9), shape: [1, 2, 3])
        #expect(try DecodedPNG(PNG.encode(rgb)).pixels == [255, 20, 0, 7, 8, 9])
    }

    @Test func writeCreatesTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("myelin-png-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try PNG.write(pixels: [1, 2, 3, 4], width: 2, height: 2, colorType: .gray, to: url)
        #expect(try DecodedPNG(Data(contentsOf: url)).pixels == [1, 2, 3, 4])
    }
}
