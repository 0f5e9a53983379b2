import Foundation
import Myelin
import Testing

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

private func values(_ t: Tensor) -> [Float] { t.scalars(as: Float.self) }

/// A `[C, H, W]` image whose values are exact multiples of 1/levels.
private func levelsImage(channels c: Int, height h: Int, width w: Int, levels: Int) -> Tensor {
    let n = c * h * w
    return Tensor((0..<n).map { Float(($0 * 7919 + 13) % (levels + 1)) / Float(levels) }, shape: [c, h, w])
}

/// A smooth photo-like RGB image (gradients and a soft disc) for JPEG tests.
private func smoothImage(height h: Int, width w: Int) -> Tensor {
    var v = [Float](repeating: 0, count: 3 * h * w)
    for y in 0..<h {
        for x in 0..<w {
            let u = Float(x) / Float(w), t = Float(y) / Float(h)
            let d = ((u - 0.5) * (u - 0.5) + (t - 0.5) * (t - 0.5)).squareRoot()
            v[y * w + x] = u
            v[h * w + y * w + x] = t
            v[2 * h * w + y * w + x] = d < 0.3 ? 0.9 : 0.2 + 0.3 * u * t
        }
    }
    return Tensor(v, shape: [3, h, w])
}

@Suite("Image writing and layouts")
struct ImageWritingTests {
    @Test("8-bit PNG: every channel count reads back exactly")
    func png8() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        for c in 1...4 {
            let img = levelsImage(channels: c, height: 5, width: 7, levels: 255)
            let url = dir.appendingPathComponent("c\(c).png")
            try ImageFile.write(img, to: url)
            let (back, info) = try ImageFile.readWithInfo(contentsOf: url)
            #expect(back.shape == [c, 5, 7])
            #expect(values(back) == values(img), "channels \(c)")
            #expect(info.bitDepth == 8 && info.format == .png)
            #expect(info.colorType == ["gray", "gray+alpha", "RGB", "RGBA"][c - 1])
        }
        // [H, W] is one gray channel.
        let url = dir.appendingPathComponent("hw.png")
        try ImageFile.write(levelsImage(channels: 1, height: 3, width: 4, levels: 255)[0], to: url)
        #expect(try ImageFile.read(contentsOf: url).shape == [1, 3, 4])
    }

    @Test("16-bit PNG: every channel count reads back exactly, and 16-bit detail survives")
    func png16() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        for c in 1...4 {
            let img = levelsImage(channels: c, height: 4, width: 6, levels: 65535)
            let url = dir.appendingPathComponent("c\(c).png")
            try ImageFile.write(img, to: url, bitDepth: 16)
            let (back, info) = try ImageFile.readWithInfo(contentsOf: url)
            #expect(info.bitDepth == 16)
            #expect(values(back) == values(img), "channels \(c)")
        }
        // Two values 1/65535 apart stay apart in 16 bits and merge in 8.
        let fine = Tensor([Float(30000) / 65535, Float(30001) / 65535], shape: [1, 1, 2])
        let url = dir.appendingPathComponent("fine.png")
        try ImageFile.write(fine, to: url, bitDepth: 16)
        let v16 = values(try ImageFile.read(contentsOf: url))
        #expect(v16[0] != v16[1])
        try ImageFile.write(fine, to: url, bitDepth: 8)
        let v8 = values(try ImageFile.read(contentsOf: url))
        #expect(v8[0] == v8[1])
    }

    @Test("values are clamped to [0, 1] and rounded to the nearest level; NaN gives 0")
    func rounding() throws {
        let x = Tensor([-0.3, 0, 0.001, 0.5, 0.999, 1, 1.7, .nan], shape: [1, 1, 8])
        #expect(ImageFile.toBytes(x) == [0, 0, 0, 128, 255, 255, 255, 0])
        #expect(ImageFile.toUInt16(x) == [0, 0, 66, 32768, 65469, 65535, 65535, 0])
        let url = try TestData.scratchFolder().appendingPathComponent("r.png")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        try ImageFile.write(x, to: url)
        #expect(values(try ImageFile.read(contentsOf: url)) == [0, 0, 0, 128, 255, 255, 255, 0].map { Float($0) / 255 })
    }

    @Test("palette, 1-bit and gray+alpha PNGs report what the file holds")
    func paletteInfo() throws {
        let cases: [(String, String, Int, Int)] = [
            ("palette4.png", "palette", 4, 3), ("palette_trns.png", "palette", 8, 4), ("gray1.png", "gray", 1, 1),
            ("gray16.png", "gray", 16, 1), ("gray_alpha.png", "gray+alpha", 8, 2), ("rgb16.png", "RGB", 16, 3),
        ]
        for (name, type, depth, channels) in cases {
            let (img, info) = try ImageFile.readWithInfo(contentsOf: fixtures.appendingPathComponent(name))
            #expect(info.colorType == type && info.bitDepth == depth && info.channels == channels && img.shape[0] == channels, "\(name): \(info)")
        }
        // A palette image written back is plain RGBA and keeps its pixels.
        let pal = try ImageFile.read(contentsOf: fixtures.appendingPathComponent("palette_trns.png"))
        let url = try TestData.scratchFolder().appendingPathComponent("pal.png")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        try ImageFile.write(pal, to: url)
        #expect(values(try ImageFile.read(contentsOf: url)) == values(pal))
    }

    @Test("JPEG: higher quality, smaller error and larger files; gray and RGB")
    func jpegQuality() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = smoothImage(height: 48, width: 64)
        var errors: [Double] = [], sizes: [Int] = []
        for q in [10, 50, 95] {
            let url = dir.appendingPathComponent("q\(q).jpg")
            try ImageFile.write(img, to: url, quality: q)
            let back = try ImageFile.read(contentsOf: url)
            #expect(back.shape == [3, 48, 64])
            errors.append((back - img).abs().mean().itemDouble())
            sizes.append(try Data(contentsOf: url).count)
        }
        #expect(errors[0] > errors[1] && errors[1] > errors[2], "mean errors \(errors)")
        #expect(sizes[0] < sizes[1] && sizes[1] < sizes[2], "sizes \(sizes)")
        #expect(errors[2] < 0.02, "quality 95 mean error \(errors[2])")
        // Gray stays one channel; .jpeg and .JPG are JPEG too.
        let gray = ImageProcessing.grayscale(img)
        let url = dir.appendingPathComponent("gray.JPEG")
        try ImageFile.write(gray, to: url)
        let (back, info) = try ImageFile.readWithInfo(contentsOf: url)
        #expect(info.format == .jpeg && back.shape == [1, 48, 64])
        #expect((back - gray).abs().mean().itemDouble() < 0.02)
        #expect(ImageFile.format(forExtension: "JPG") == .jpeg && ImageFile.format(forExtension: "png") == .png && ImageFile.format(forExtension: "bmp") == nil)
    }

    @Test("bad extension, shape, depth, quality and folder throw DataError; a failed write leaves the old file intact")
    func errorsAndAtomicity() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = levelsImage(channels: 3, height: 4, width: 4, levels: 255)
        func kind(_ body: () throws -> Void) -> DataError.Kind? {
            do { try body(); return nil } catch let e as DataError { return e.kind } catch { return nil }
        }
        #expect(kind { try ImageFile.write(img, to: dir.appendingPathComponent("a.bmp")) } == .invalidArgument)
        #expect(kind { try ImageFile.write(img, to: dir.appendingPathComponent("noext")) } == .invalidArgument)
        #expect(kind { try ImageFile.write(Tensor.zeros([5]), to: dir.appendingPathComponent("a.png")) } == .invalidArgument)
        #expect(kind { try ImageFile.write(Tensor.zeros([5, 4, 4]), to: dir.appendingPathComponent("a.png")) } == .invalidArgument)
        #expect(kind { try ImageFile.write(Tensor.zeros([2, 3, 4, 4]), to: dir.appendingPathComponent("a.png")) } == .invalidArgument)
        #expect(kind { try ImageFile.write(img, to: dir.appendingPathComponent("a.png"), bitDepth: 12) } == .invalidArgument)
        #expect(kind { try ImageFile.write(img, to: dir.appendingPathComponent("a.jpg"), bitDepth: 16) } == .invalidArgument)
        #expect(kind { try ImageFile.write(img, to: dir.appendingPathComponent("a.jpg"), quality: 0) } == .invalidArgument)
        #expect(kind { try ImageFile.write(img, to: dir.appendingPathComponent("missing/a.png")) } == .writeFailed)
        // The message names the problem.
        do {
            try ImageFile.write(Tensor.zeros([5, 4, 4]), to: dir.appendingPathComponent("a.png"))
        } catch let e as DataError {
            #expect(e.description.contains("a.png") && e.description.contains("channels") && e.description.contains("[5, 4, 4]"), "\(e)")
        }

        // An existing file survives a write that fails (RGBA to JPEG has no alpha to hold).
        let target = dir.appendingPathComponent("keep.jpg")
        try ImageFile.write(img, to: target)
        let before = try Data(contentsOf: target)
        #expect(kind { try ImageFile.write(Tensor.zeros([4, 4, 4]), to: target) } == .invalidArgument)
        #expect(kind { try ImageFile.write(Tensor.zeros([3, 70000, 1]), to: target) } == .invalidArgument)
        #expect(try Data(contentsOf: target) == before)
        // A successful write replaces it, and no temporary file is left behind.
        try ImageFile.write(1 - img, to: target)
        #expect(try Data(contentsOf: target) != before)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!names.contains { $0.hasSuffix(".tmp") }, "\(names)")
    }

    @Test("layouts: CHW ↔ HWC, NCHW ↔ NHWC, bytes ↔ tensors as torchvision's to_tensor")
    func layouts() throws {
        let chw = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        let hwc = ImageFile.toHWC(chw)
        #expect(hwc.shape == [3, 4, 2])
        // hwc[y, x, c] == chw[c, y, x]
        #expect(hwc[1, 2, 1].itemDouble() == chw[1, 1, 2].itemDouble())
        #expect(values(ImageFile.toCHW(hwc)) == values(chw))
        let batch = Tensor.stack([chw, chw * 2], axis: 0)
        let nhwc = ImageFile.relayout(batch, from: .channelsFirst, to: .channelsLast)
        #expect(nhwc.shape == [2, 3, 4, 2])
        #expect(values(ImageFile.relayout(nhwc, from: .channelsLast, to: .channelsFirst)) == values(batch))

        // Interleaved bytes (PIL / NumPy uint8 HWC) → CHW in [0, 1], and back.
        let bytes: [UInt8] = [255, 0, 10, 128, 64, 32]  // 1×2 pixels × 3 channels
        let t = ImageFile.toTensor(bytes, height: 1, width: 2, channels: 3)
        #expect(t.shape == [3, 1, 2])
        #expect(values(t) == [255, 128, 0, 64, 10, 32].map { Float($0) / 255 })
        #expect(ImageFile.toBytes(t) == bytes)
        let words: [UInt16] = [65535, 1, 300]
        let t16 = ImageFile.toTensor(words, height: 1, width: 3, channels: 1)
        #expect(ImageFile.toUInt16(t16) == words)

        // Writing HWC with layout: .channelsLast gives the same file as CHW.
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = levelsImage(channels: 3, height: 5, width: 6, levels: 255)
        try ImageFile.write(img, to: dir.appendingPathComponent("chw.png"))
        try ImageFile.write(ImageFile.toHWC(img), to: dir.appendingPathComponent("hwc.png"), layout: .channelsLast)
        #expect(try Data(contentsOf: dir.appendingPathComponent("chw.png")) == Data(contentsOf: dir.appendingPathComponent("hwc.png")))
    }
}
