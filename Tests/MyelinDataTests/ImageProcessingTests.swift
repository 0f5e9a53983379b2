import Foundation
import Myelin
import Testing

/// scripts/fixtures_images_processing.py's reference values (PyTorch, torchvision, NumPy, PIL).
private enum Reference {
    static let tensors: [String: Tensor] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/images_processing.safetensors")
        return (try? SafeTensors.read(contentsOf: url).tensors) ?? [:]
    }()

    static func tensor(_ name: String) -> Tensor? {
        let t = tensors[name]
        #expect(t != nil, "fixture \(name) is missing: run scripts/fixtures_images_processing.py")
        return t
    }
}

/// max |a − b|, or infinity when the shapes differ.
private func maxDifference(_ a: Tensor, _ b: Tensor) -> Double {
    guard a.shape == b.shape else { return .infinity }
    return zip(a.scalars(as: Double.self), b.scalars(as: Double.self)).map { Swift.abs($0 - $1) }.max() ?? 0
}

private func rows(_ t: Tensor) -> [[Double]] {
    let w = t.shape.last ?? 1
    let v = t.scalars(as: Double.self)
    return stride(from: 0, to: v.count, by: w).map { Array(v[$0..<($0 + w)]) }
}

private func image(_ rows: [[Double]]) -> Tensor {
    Tensor(rows.flatMap { $0 }, shape: [1, rows.count, rows[0].count])
}

@Suite("Image processing")
struct ImageProcessingTests {
    @Test("the lecture's 5×5 image with the 3×3 filter gives its 3×3 feature map (inside a zero-padded same-size output)")
    func lectureExample() {
        let x = image([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
        let k = ImageKernel([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
        let y = ImageProcessing.convolve(x, kernel: k)
        #expect(y.shape == [1, 5, 5])
        let r = rows(y[0])
        #expect(r[1...3].map { Array($0[1...3]) } == [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
        // Corner, by hand: the weights that fall inside touch x[0,0] = 1 and x[1,1] = 1.
        #expect(r[0][0] == 2)
        // The kernel is symmetric: flipping changes nothing.
        #expect(maxDifference(ImageProcessing.convolve(x, kernel: k, flip: true), y) == 0)
    }

    @Test("every border mode matches F.pad + F.conv2d (odd, even and 5×5 kernels, a batch of 2×3 channels)")
    func borderModesMatchPyTorch() throws {
        guard let x = Reference.tensor("x") else { return }
        let modes: [(BorderMode, String)] = [(.zeros, "constant"), (.reflect, "reflect"), (.replicate, "replicate"), (.circular, "circular")]
        for name in ["k3", "k4", "k5"] {
            guard let kt = Reference.tensor(name) else { continue }
            let kernel = ImageKernel(rows(kt))
            for (mode, torchName) in modes {
                guard let want = Reference.tensor("conv.\(name).\(torchName)") else { continue }
                let got = ImageProcessing.convolve(x, kernel: kernel, border: mode)
                #expect(maxDifference(got, want) < 1e-12, "\(name) \(mode)")
                // One image [C, H, W] gives the same as its slot in the batch.
                #expect(maxDifference(ImageProcessing.convolve(x[1], kernel: kernel, border: mode), want[1]) < 1e-12, "\(name) \(mode) unbatched")
            }
        }
    }

    @Test("padding wider than the image keeps folding as NumPy's reflect, edge and wrap")
    func widePadding() {
        let ramp = Tensor((0..<12).map(Double.init), shape: [1, 1, 3, 4]).to(.float64)
        for (mode, numpy) in [(BorderMode.reflect, "reflect"), (.replicate, "edge"), (.circular, "wrap")] {
            guard let want = Reference.tensor("pad.\(numpy)") else { continue }
            let got = ImageProcessing.padded(ramp, top: 5, bottom: 5, left: 5, right: 5, mode: mode)
            #expect(maxDifference(got, want) == 0, "\(mode)")
        }
        // The row a b c d with two pixels each side, as BorderMode documents.
        let row = Tensor([1.0, 2, 3, 4], shape: [1, 1, 4])
        let expected: [(BorderMode, [Double])] = [
            (.zeros, [0, 0, 1, 2, 3, 4, 0, 0]), (.reflect, [3, 2, 1, 2, 3, 4, 3, 2]),
            (.replicate, [1, 1, 1, 2, 3, 4, 4, 4]), (.circular, [3, 4, 1, 2, 3, 4, 1, 2]),
        ]
        for (mode, want) in expected {
            let got = ImageProcessing.padded(row, top: 0, bottom: 0, left: 2, right: 2, mode: mode)
            #expect(got.scalars(as: Double.self) == want, "\(mode)")
        }
        #expect(BorderMode(name: "wrap") == .circular && BorderMode(name: "zero") == .zeros && BorderMode(name: "edge") == .replicate)
        #expect(BorderMode(name: "mirrorx") == nil)
    }

    @Test("one-pixel shifts move the content in the named direction")
    func shifts() throws {
        // A single bright pixel at row 1, column 2 of a 4×5 image.
        var v = [Double](repeating: 0, count: 20)
        v[1 * 5 + 2] = 1
        let x = Tensor(v, shape: [1, 4, 5])
        func position(_ name: String, flip: Bool = false) throws -> (Int, Int)? {
            let y = ImageProcessing.convolve(x, kernel: try ImageKernel.named(name), flip: flip).scalars(as: Double.self)
            return y.firstIndex(of: 1).map { ($0 / 5, $0 % 5) }
        }
        #expect(try position("shift-left").map { [$0.0, $0.1] } == [1, 1])
        #expect(try position("shift-right").map { [$0.0, $0.1] } == [1, 3])
        #expect(try position("shift-up").map { [$0.0, $0.1] } == [0, 2])
        #expect(try position("shift-down").map { [$0.0, $0.1] } == [2, 2])
        // True convolution rotates the kernel: shift-left becomes a right shift.
        #expect(try position("shift-left", flip: true).map { [$0.0, $0.1] } == [1, 3])
        // With zero borders the column that enters is black; with wrap it is the far column.
        let ramp = Tensor([1.0, 2, 3], shape: [1, 1, 3])
        #expect(ImageProcessing.convolve(ramp, kernel: .shiftLeft).scalars(as: Double.self) == [2, 3, 0])
        #expect(ImageProcessing.convolve(ramp, kernel: .shiftLeft, border: .circular).scalars(as: Double.self) == [2, 3, 1])
    }

    @Test("kernel catalogue: names, sums, Gaussian vs torchvision, unknown names")
    func catalogue() throws {
        for name in ImageKernel.names {
            let k = try ImageKernel.named(name)
            let expectedSum: Double = ["sobel-x", "sobel-y", "laplacian", "edge"].contains(name) ? 0 : 1
            #expect(Swift.abs(k.sum - expectedSum) < 1e-12, "\(name) sums to \(k.sum)")
        }
        #expect(try ImageKernel.named("blur5").weights.allSatisfy { Swift.abs($0 - 1.0 / 25) < 1e-15 })
        #expect(try ImageKernel.named("SobelX") == .sobelX)
        #expect(try ImageKernel.named("sobel_y") == .sobelY)
        #expect(try ImageKernel.named("blur7").height == 7)
        for (size, sigma) in [(5, 1.1), (7, 2.0), (3, 0.5)] {
            guard let want = Reference.tensor("gaussian.\(size)_\(sigma)") else { continue }
            let k = ImageKernel.gaussian(size: size, sigma: sigma)
            let diff = zip(k.weights, want.scalars(as: Double.self)).map { Swift.abs($0 - $1) }.max() ?? 1
            #expect(want.count == k.weights.count && diff < 1e-15, "gaussian \(size) \(sigma)")
        }
        // Defaults as torchvision / OpenCV: size 5 → sigma 1.1; sigma 2 → size 13.
        #expect(ImageKernel.gaussian() == ImageKernel.gaussian(size: 5, sigma: 1.1))
        #expect(ImageKernel.gaussian(sigma: 2).height == 13)
        // An unknown name lists the known ones; "sobel" is a filter, not a kernel.
        do {
            _ = try ImageKernel.named("sobelz")
            Issue.record("an unknown kernel must throw")
        } catch let e as DataError {
            #expect(e.kind == .invalidArgument && e.description.contains("sobel-x") && e.description.contains("sobelz"), "\(e)")
        }
        #expect(throws: DataError.self) { try ImageKernel.named("sobel") }
        #expect(try ImageFilter.named("sobel") == .gradientMagnitude(x: .sobelX, y: .sobelY))
        #expect(throws: DataError.self) { try ImageFilter.named("nope") }
    }

    @Test("torchvision's gaussian_blur (reflect borders) and a separable kernel equal the 2-D sum")
    func gaussianBlur() throws {
        guard let x = Reference.tensor("x"), let want = Reference.tensor("gaussian_blur.out") else { return }
        let got = ImageProcessing.convolve(x[0], kernel: .gaussian(size: 5, sigma: 1.1), border: .reflect)
        #expect(maxDifference(got, want) < 1e-12)
        // The same weights without the separable factors give the same image.
        let dense = ImageKernel(ImageKernel.gaussian(size: 5, sigma: 1.1).rows)
        #expect(dense.separable == nil)
        #expect(maxDifference(ImageProcessing.convolve(x[0], kernel: dense, border: .reflect), want) < 1e-12)
    }

    @Test("Sobel on a vertical step edge: x responds at the step with the right sign, y not at all")
    func sobelStep() throws {
        // Dark left half (0), bright right half (1): 5 rows × 6 columns.
        let x = Tensor((0..<30).map { $0 % 6 >= 3 ? 1.0 : 0.0 }, shape: [1, 5, 6])
        let gx = rows(ImageProcessing.convolve(x, kernel: .sobelX, border: .replicate)[0])
        for r in gx {
            #expect(r == [0, 0, 4, 4, 0, 0], "\(r)")  // brightness rises to the right: positive
        }
        let gy = ImageProcessing.convolve(x, kernel: .sobelY, border: .replicate)
        #expect(gy.scalars(as: Double.self).allSatisfy { $0 == 0 })
        let magnitude = ImageProcessing.filter(x, try ImageFilter.named("sobel"), border: .replicate)
        #expect(rows(magnitude[0])[2] == [0, 0, 4, 4, 0, 0])
        // A dark-to-bright step going the other way gives negative sobel-x.
        let mirrored = ImageProcessing.convolve(1 - x, kernel: .sobelX, border: .replicate)
        #expect(rows(mirrored[0])[0] == [0, 0, -4, -4, 0, 0])
    }

    @Test("negative and grayscale by mean, luminance and BT.709; batches")
    func negativeAndGray() {
        let pixel = Tensor([0.2, 0.6, 1.0], shape: [3, 1, 1])
        #expect(maxDifference(ImageProcessing.negative(pixel), Tensor([0.8, 0.4, 0.0], shape: [3, 1, 1])) < 1e-6)
        let cases: [(ImageProcessing.GrayscaleMethod, Double)] = [
            (.mean, 0.6), (.luminance, 0.299 * 0.2 + 0.587 * 0.6 + 0.114), (.bt709, 0.2126 * 0.2 + 0.7152 * 0.6 + 0.0722),
        ]
        for (method, want) in cases {
            let g = ImageProcessing.grayscale(pixel, method: method)
            #expect(g.shape == [1, 1, 1])
            #expect(Swift.abs(g.itemDouble() - want) < 1e-6, "\(method)")
        }
        let batch = Tensor.stack([pixel, 1 - pixel], axis: 0)
        let g = ImageProcessing.grayscale(batch, method: .mean, outputChannels: 3)
        #expect(g.shape == [2, 3, 1, 1])
        let expected: [Double] = [0.6, 0.6, 0.6, 0.4, 0.4, 0.4]
        #expect(zip(g.scalars(as: Double.self), expected).allSatisfy { Swift.abs($0 - $1) < 1e-6 })
        // RGBA: alpha ignored; gray stays gray.
        let rgba = Tensor([0.2, 0.6, 1.0, 0.0], shape: [4, 1, 1])
        #expect(Swift.abs(ImageProcessing.grayscale(rgba, method: .mean).itemDouble() - 0.6) < 1e-6)
        // keepingAlpha inverts the colour only.
        let inverted = ImageProcessing.keepingAlpha(rgba) { ImageProcessing.negative($0) }
        #expect(maxDifference(inverted, Tensor([0.8, 0.4, 0.0, 0.0], shape: [4, 1, 1])) < 1e-6)
    }

    @Test("luminance equals PIL's convert(\"L\") on a real photo within its 8-bit rounding",
          .enabled(if: FileManager.default.fileExists(atPath: TestData.shared.appendingPathComponent("images/chelsea.png").path),
                   "../shared/data/images/chelsea.png is absent"))
    func luminanceMatchesPIL() throws {
        guard let want = Reference.tensor("chelsea_L") else { return }
        let photo = try ImageFile.read(contentsOf: TestData.shared.appendingPathComponent("images/chelsea.png"))
        let gray = ImageProcessing.grayscale(photo[.all, 100..<132, 200..<240])[0]
        // PIL computes in fixed point and rounds to a byte: at most half a level apart, plus slack.
        #expect(maxDifference(gray, want) <= 0.51 / 255 + 1e-6)
        // Rounded to bytes, nearly every pixel is identical.
        let same = zip(gray.scalars(as: Double.self), want.scalars(as: Double.self)).filter { ($0 * 255).rounded() == ($1 * 255).rounded() }.count
        #expect(Double(same) / Double(want.count) > 0.95)
    }

    @Test("brightness, contrast and gamma match torchvision; threshold and normalisation")
    func adjustments() {
        guard let x = Reference.tensor("x") else { return }
        let img = x[0].clamp(min: 0, max: 1)
        let checks: [(String, Tensor)] = [
            ("brightness.1.7", ImageProcessing.adjustBrightness(img, factor: 1.7)),
            ("contrast.0.4", ImageProcessing.adjustContrast(img, factor: 0.4)),
            ("contrast.1.8", ImageProcessing.adjustContrast(img, factor: 1.8)),
            ("gamma.0.5", ImageProcessing.adjustGamma(img, gamma: 0.5)),
            ("gamma.2.2_gain0.9", ImageProcessing.adjustGamma(img, gamma: 2.2, gain: 0.9)),
        ]
        for (name, got) in checks {
            guard let want = Reference.tensor(name) else { continue }
            // Contrast blends with the mean gray, which torchvision weighs with 0.2989 for R, not 0.299.
            #expect(maxDifference(got, want) < (name.hasPrefix("contrast") ? 1e-4 : 1e-12), "\(name)")
        }
        let t = ImageProcessing.threshold(Tensor([0.1, 0.5, 0.9], shape: [1, 1, 3]), at: 0.5)
        #expect(t.scalars(as: Double.self) == [0, 0, 1])
        let edges = Tensor([-2.0, 0, 2, 6], shape: [1, 2, 2])
        #expect(ImageProcessing.normalizedToUnitRange(edges).scalars(as: Double.self) == [0, 0.25, 0.5, 1])
        #expect(ImageProcessing.normalizedToUnitRange(Tensor.full([1, 2, 2], 3)).scalars(as: Double.self) == [0, 0, 0, 0])
    }

    @Test("resizing matches F.interpolate(bilinear, align_corners=False), with and without antialias")
    func resizeMatchesPyTorch() {
        guard let x = Reference.tensor("resize.in") else { return }
        for (h, w) in [(5, 4), (7, 9), (20, 16)] {
            for aa in [false, true] {
                guard let want = Reference.tensor("resize.\(h)x\(w).\(aa ? "aa" : "plain")") else { continue }
                let got = ImageFile.resized(x, height: h, width: w, interpolation: .bilinear, antialias: aa)
                #expect(maxDifference(got, want) < 1e-5, "\(h)x\(w) antialias \(aa)")
            }
        }
        // Shrinking a one-pixel checkerboard: antialiased gives the mean gray, plain keeps aliasing.
        let board = Tensor((0..<64).map { Double(($0 / 8 + $0 % 8) % 2) }, shape: [1, 8, 8])
        let smooth = ImageFile.resized(board, height: 2, width: 2, antialias: true).scalars(as: Double.self)
        #expect(smooth.allSatisfy { Swift.abs($0 - 0.5) < 0.1 }, "\(smooth)")
    }

    @Test("gradients through convolution (every border mode, flip), grayscale, negative and contrast")
    func gradients() {
        let x = Tensor.randn([2, 2, 4, 5], dtype: .float64, generator: RandomGenerator(seed: 7))
        let kernel = ImageKernel([[0.3, -1, 0.5], [2, 0.1, -0.4]])  // 2×3: uneven padding
        for mode in BorderMode.allCases {
            for flip in [false, true] {
                let r = checkGradients([x]) { ImageProcessing.convolve($0[0], kernel: kernel, border: mode, flip: flip) }
                #expect(r.passed, "convolve \(mode) flip \(flip): \(r)")
            }
        }
        let blur = checkGradients([x]) { ImageProcessing.convolve($0[0], kernel: .gaussian(size: 3, sigma: 0.8), border: .reflect) }
        #expect(blur.passed, "separable gaussian: \(blur)")
        let rgb = Tensor.randn([2, 3, 3, 3], dtype: .float64, generator: RandomGenerator(seed: 8)) * 0.2 + 0.5
        let gray = checkGradients([rgb]) { ImageProcessing.grayscale($0[0], method: .luminance, outputChannels: 3) }
        #expect(gray.passed, "grayscale: \(gray)")
        let neg = checkGradients([rgb]) { ImageProcessing.negative($0[0]) }
        #expect(neg.passed, "negative: \(neg)")
        let contrast = checkGradients([rgb]) { ImageProcessing.adjustContrast($0[0], factor: 0.7) }
        #expect(contrast.passed, "contrast: \(contrast)")
        let sobel = checkGradients([rgb]) { ImageProcessing.filter($0[0], .gradientMagnitude(x: .sobelX, y: .sobelY), border: .reflect) }
        #expect(sobel.passed, "sobel magnitude: \(sobel)")
    }
}
