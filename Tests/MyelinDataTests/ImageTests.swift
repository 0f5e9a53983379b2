import Foundation
import Myelin
import Testing

private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let imagesFolder = repoRoot.appendingPathComponent("../shared/data/images").standardizedFileURL
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
private let haveImages = FileManager.default.fileExists(atPath: imagesFolder.appendingPathComponent("astronaut.png").path)

private func temporaryFile(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("myelin-image-tests-\(getpid())-\(name)")
}

private func values(_ t: Tensor) -> [Float] { t.scalars(as: Float.self) }

@Suite("Image files")
struct ImageTests {
    @Test("real PNG and JPEG photos: sizes, channels, value range",
          .enabled(if: haveImages, "../shared/data/images is absent: skipping the real-photo checks"))
    func realPhotos() throws {
        let expected: [(String, [Int])] = [
            ("astronaut.png", [3, 512, 512]), ("camera.png", [1, 512, 512]), ("chelsea.png", [3, 300, 451]),
            ("coffee.png", [3, 400, 600]), ("china.jpg", [3, 427, 640]),
        ]
        for (name, shape) in expected {
            let img = try ImageFile.read(contentsOf: imagesFolder.appendingPathComponent(name))
            #expect(img.shape == shape, "\(name)")
            #expect(img.dtype == .float32)
            let v = values(img)
            let lo = v.min() ?? -1, hi = v.max() ?? 2
            #expect(lo >= 0 && hi <= 1, "\(name): values in [\(lo), \(hi)]")
            // A photo spans most of the range and is not constant.
            #expect(hi - lo > 0.5, "\(name)")
        }
        // camera.png's gray equals what the RGB → gray path would give for a gray image.
        let cam = try ImageFile.read(contentsOf: imagesFolder.appendingPathComponent("camera.png"))
        #expect(ImageFile.converted(cam, channels: 3).shape == [3, 512, 512])
        // The JPEG decodes to the same pixels as libjpeg's reference (spot check: mean of a real photo).
        let china = try ImageFile.read(contentsOf: imagesFolder.appendingPathComponent("china.jpg"))
        let mean = china.mean().itemDouble()
        #expect(mean > 0.2 && mean < 0.8)
    }

    @Test("a PNG written by MyelinIO's encoder reads back exactly (gray, RGB, RGBA)")
    func roundTrip() throws {
        let (w, h) = (5, 3)
        for (type, c) in [(PNG.ColorType.gray, 1), (.rgb, 3), (.rgba, 4)] {
            let pixels = (0..<(w * h * c)).map { UInt8(($0 * 37 + 11) % 256) }
            let url = temporaryFile("roundtrip-\(c).png")
            defer { try? FileManager.default.removeItem(at: url) }
            try PNG.write(pixels: pixels, width: w, height: h, colorType: type, to: url)
            let img = try ImageFile.read(contentsOf: url)
            #expect(img.shape == [c, h, w])
            let v = values(img)
            // CHW in the tensor, HWC in the bytes.
            var worst: Float = 0
            for y in 0..<h { for x in 0..<w { for ch in 0..<c {
                let want = Float(pixels[(y * w + x) * c + ch]) / 255
                worst = Swift.max(worst, abs(v[ch * h * w + y * w + x] - want))
            } } }
            #expect(worst == 0, "channels \(c): max difference \(worst)")
        }
        // The tensor encoder (HWC float in [0, 1]) too.
        let t = Tensor([0.0, 0.5, 1.0, 0.25, 0.75, 1.0], shape: [2, 3])
        let url = temporaryFile("tensor.png")
        defer { try? FileManager.default.removeItem(at: url) }
        try PNG.encode(t).write(to: url)
        let back = try ImageFile.read(contentsOf: url)
        #expect(back.shape == [1, 2, 3])
        let backExpected: [Float] = [0, 128, 255, 64, 191, 255].map { Float($0) / 255 }
        #expect(values(back) == backExpected)
    }

    @Test("16-bit, palette (with tRNS), 1-bit and gray+alpha PNGs")
    func pngFormats() throws {
        let g16 = try ImageFile.read(contentsOf: fixtures.appendingPathComponent("gray16.png"))
        #expect(g16.shape == [1, 2, 3])
        let g16Expected: [Float] = [0, 1, 256, 32768, 65534, 65535].map { Float($0) / 65535 }
        #expect(values(g16) == g16Expected)
        let rgb16 = try ImageFile.read(contentsOf: fixtures.appendingPathComponent("rgb16.png"))
        #expect(rgb16.shape == [3, 1, 2])
        // CHW: R plane (65535, 1), G plane (0, 2), B plane (4660, 65535).
        let rgb16Expected: [Float] = [65535, 1, 0, 2, 4660, 65535].map { Float($0) / 65535 }
        #expect(values(rgb16) == rgb16Expected)
        let pal = try ImageFile.read(contentsOf: fixtures.appendingPathComponent("palette_trns.png"))
        #expect(pal.shape == [4, 2, 2])
        // Pixels: index 0 (red, opaque), 1 (green, alpha 128), 2 (blue, opaque: no tRNS entry), 0.
        let palExpected: [Float] = [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, Float(128) / 255, 1, 1]
        #expect(values(pal) == palExpected)
        let pal4 = try ImageFile.read(contentsOf: fixtures.appendingPathComponent("palette4.png"))
        #expect(pal4.shape == [3, 1, 3])
        let pal4Expected: [Float] = [0, 1, 0, 0, 0, 1, 1, 0, 0]
        #expect(values(pal4) == pal4Expected)
        let g1 = try ImageFile.read(contentsOf: fixtures.appendingPathComponent("gray1.png"))
        #expect(g1.shape == [1, 1, 8])
        let g1Expected: [Float] = [1, 0, 1, 1, 0, 0, 0, 1]
        #expect(values(g1) == g1Expected)
        let ga = try ImageFile.read(contentsOf: fixtures.appendingPathComponent("gray_alpha.png"))
        #expect(ga.shape == [2, 1, 2])
        let gaExpected: [Float] = [Float(10) / 255, Float(200) / 255, 1, 0]
        #expect(values(ga) == gaExpected)
    }

    @Test("corrupt, truncated, empty, non-image and missing files throw DataError")
    func badFiles() throws {
        let good = try Data(contentsOf: fixtures.appendingPathComponent("gray16.png"))
        var flipped = good
        flipped[flipped.count - 20] ^= 0xFF  // inside IDAT: CRC (and zlib) fail
        let cases: [(String, Data)] = [
            ("truncated.png", good.prefix(good.count - 30)),
            ("flipped.png", flipped),
            ("signature-only.png", good.prefix(8)),
            ("empty.png", Data()),
            ("text.png", Data("hello, not an image\n".utf8)),
            ("jpeg-header-only.jpg", Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10])),
        ]
        for (name, bytes) in cases {
            let url = temporaryFile(name)
            try bytes.write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            #expect(throws: DataError.self, "\(name)") { try ImageFile.read(contentsOf: url) }
            do { _ = try ImageFile.read(contentsOf: url) } catch let e as DataError {
                #expect(e.file == url.path && e.kind == .corrupt, "\(name): \(e)")
            }
        }
        #expect(throws: DataError.self) { try ImageFile.read(contentsOf: temporaryFile("does-not-exist.png")) }
    }

    @Test("a truncated real JPEG throws", .enabled(if: haveImages, "../shared/data/images is absent"))
    func truncatedJPEG() throws {
        let data = try Data(contentsOf: imagesFolder.appendingPathComponent("china.jpg"))
        #expect(throws: DataError.self) { try ImageFile.decode(data.prefix(data.count / 2), name: "half.jpg") }
        #expect(throws: DataError.self) { try ImageFile.decode(data.prefix(200), name: "head.jpg") }
    }

    @Test("grayscale conversion and resizing")
    func conversions() throws {
        // One RGB pixel (1, 0.5, 0) → luma 0.299 + 0.2935.
        let rgb = Tensor([1.0, 0.5, 0.0], shape: [3, 1, 1])
        let g = ImageFile.converted(rgb, channels: 1)
        #expect(g.shape == [1, 1, 1])
        #expect(abs(g.itemDouble() - (0.299 + 0.587 * 0.5)) < 1e-6)
        // RGBA drops alpha; gray → RGB repeats.
        let dropped = ImageFile.converted(Tensor([0.2, 0.4, 0.6, 0.1], shape: [4, 1, 1]), channels: 3)
        let droppedExpected: [Float] = [0.2, 0.4, 0.6]
        #expect(values(dropped) == droppedExpected)
        let repeated = ImageFile.converted(Tensor([0.3], shape: [1, 1, 1]), channels: 3)
        let repeatedExpected: [Float] = [0.3, 0.3, 0.3]
        #expect(values(repeated) == repeatedExpected)
        // Nearest: 2×2 → 4×4 repeats each pixel into a 2×2 block.
        let small = Tensor([1.0, 2.0, 3.0, 4.0], shape: [1, 2, 2])
        let big = ImageFile.resized(small, height: 4, width: 4, interpolation: .nearest)
        let bigExpected: [Float] = [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]
        #expect(values(big) == bigExpected)
        // Bilinear with half-pixel centres (PyTorch, align_corners=False): [0, 1] → [0, .25, .75, 1].
        let row = ImageFile.resized(Tensor([0.0, 1.0], shape: [1, 1, 2]), height: 1, width: 4, interpolation: .bilinear)
        let rowExpected: [Float] = [0, 0.25, 0.75, 1]
        #expect(values(row) == rowExpected)
        // Down-sampling a real photo to MNIST's 28×28 gray.
        if haveImages {
            let cam = try ImageFile.read(contentsOf: imagesFolder.appendingPathComponent("astronaut.png"))
            let small = ImageFile.resized(ImageFile.converted(cam, channels: 1), height: 28, width: 28)
            #expect(small.shape == [1, 28, 28])
        }
    }
}
