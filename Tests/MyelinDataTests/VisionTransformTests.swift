import Foundation
import Myelin
import Testing

/// torchvision's outputs for the functional ops (scripts/fixtures_vision_data.py).
private let visionFixtures: [String: Tensor] = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/vision.safetensors")
    return (try? SafeTensors.read(contentsOf: url).tensors) ?? [:]
}()

private func fixture(_ name: String) -> Tensor {
    guard let t = visionFixtures[name] else { Issue.record("fixture \(name) missing"); return Tensor.zeros([1]) }
    return t
}

private func expectNear(_ a: Tensor, _ b: Tensor, tol: Double = 1e-5, _ what: String) {
    #expect(a.shape == b.shape, "\(what): shape \(a.shape) vs \(b.shape)")
    guard a.shape == b.shape else { return }
    let x = a.scalars(as: Double.self), y = b.scalars(as: Double.self)
    let worst = zip(x, y).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= tol, "\(what): max difference \(worst)")
}

@Suite("Vision transforms")
struct VisionTransformTests {
    let image = fixture("image").to(.float64)

    @Test func functionalOpsMatchTorchvision() {
        for f in [0.4, 1.3] {
            expectNear(VisionOps.adjustBrightness(image, f), fixture("brightness_\(f)"), "brightness \(f)")
            expectNear(VisionOps.adjustContrast(image, f), fixture("contrast_\(f)"), "contrast \(f)")
        }
        for f in [0.0, 0.5, 1.7] {
            expectNear(VisionOps.adjustSaturation(image, f), fixture("saturation_\(f)"), "saturation \(f)")
        }
        for f in [0.2, -0.35, 0.5] {
            expectNear(VisionOps.adjustHue(image, f), fixture("hue_\(f)"), tol: 1e-6, "hue \(f)")
        }
        expectNear(VisionOps.adjustContrast(fixture("gray").to(.float64), 0.6), fixture("contrast_gray"), "contrast gray")
        expectNear(VisionOps.gaussianBlur(image, kernelSize: 5, sigma: 1.3), fixture("blur_k5_s1.3"), "gaussian blur")
        expectNear(RandomGrayscale(p: 1)(image), fixture("grayscale"), "grayscale")
        expectNear(Resize(height: 5, width: 7)(image), fixture("resize_5x7"), "resize down")
        expectNear(Resize(height: 13, width: 17)(image), fixture("resize_13x17"), "resize up")
        let crop = VisionOps.resized(VisionOps.cropped(image, top: 1, left: 2, height: 5, width: 6), height: 7, width: 9)
        expectNear(crop, fixture("resized_crop"), "resized crop")
    }

    @Test func hueShiftOfPureRed() {
        // Pure red turned by a third of a turn is pure green, by two thirds pure blue.
        let red = Tensor([1.0, 0, 0], shape: [3, 1, 1])
        #expect(VisionOps.adjustHue(red, 1.0 / 3).scalars(as: Double.self).map { ($0 * 1e6).rounded() / 1e6 } == [0, 1, 0])
        #expect(VisionOps.adjustHue(red, -1.0 / 3).scalars(as: Double.self).map { ($0 * 1e6).rounded() / 1e6 } == [0, 0, 1])
        // Grays have no hue: unchanged.
        let gray = Tensor.full([3, 2, 2], 0.4)
        #expect(VisionOps.adjustHue(gray, 0.3).scalars() == gray.scalars())
    }

    @Test func normalizationConstants() {
        #expect(Normalize.imageNet.mean == [0.485, 0.456, 0.406] && Normalize.imageNet.std == [0.229, 0.224, 0.225])
        #expect(Normalize.mnist.mean == [0.1307] && Normalize.mnist.std == [0.3081])
        #expect(Normalize.cifar10.mean.count == 3 && Normalize.cifar100.std.count == 3)
        let y = Normalize.imageNet(Tensor.full([3, 2, 2], 0.485))
        #expect(abs(y.scalars()[0]) < 1e-6)
    }

    @Test func resizeShorterSide() {
        let r = Resize(256)
        #expect(r.outputSize(height: 480, width: 640) == (256, 341))
        #expect(r.outputSize(height: 640, width: 480) == (341, 256))
        #expect(Resize(4)(Tensor.zeros([3, 6, 9])).shape == [3, 4, 6])
        #expect(Resize(4)(Tensor.zeros([6, 9])).shape == [4, 6])
    }

    @Test func randomResizedCropBoxes() {
        let rrc = RandomResizedCrop(8)
        let g = RandomGenerator(seed: 1)
        var fractions: [Double] = []
        for _ in 0..<2000 {
            let b = rrc.cropBox(imageHeight: 100, imageWidth: 120, generator: g)
            #expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= 100 && b.left + b.width <= 120)
            let ratio = Double(b.width) / Double(b.height)
            #expect(ratio > 0.7 && ratio < 1.45)
            fractions.append(Double(b.height * b.width) / 12000)
        }
        // Area uniform in [0.08, 1] (a few large draws fail and retry): mean near 0.54.
        let mean = fractions.reduce(0, +) / Double(fractions.count)
        #expect(mean > 0.45 && mean < 0.6, "mean area fraction \(mean)")
        #expect(fractions.min()! >= 0.07 && fractions.max()! <= 1)
        // Shape and seeded reproducibility.
        let x = Tensor.uniform([3, 20, 30], generator: RandomGenerator(seed: 2))
        let a = rrc(x, generator: RandomGenerator(seed: 9)), b = rrc(x, generator: RandomGenerator(seed: 9))
        #expect(a.shape == [3, 8, 8] && a.scalars() == b.scalars())
    }

    @Test func randomResizedCropFallsBackToCentre() {
        // A scale that can never fit (the image is far too thin for ratios near 1) → central crop at the extreme ratio.
        let rrc = RandomResizedCrop(4, scale: 0.9...1, ratio: 1...1)
        let b = rrc.cropBox(imageHeight: 10, imageWidth: 100, generator: RandomGenerator(seed: 3))
        #expect(b.height == 10 && b.width == 10 && b.top == 0 && b.left == 45)
    }

    @Test func colorJitterReproducibleAndInRange() {
        let x = fixture("image")
        let cj = ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)
        let a = cj(x, generator: RandomGenerator(seed: 5)), b = cj(x, generator: RandomGenerator(seed: 5))
        #expect(a.scalars() == b.scalars() && a.shape == x.shape && a.dtype == .float32)
        #expect(a.scalars().allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(a.scalars() != cj(x, generator: RandomGenerator(seed: 6)).scalars())
        // Only brightness: the output is the input times one factor in [0.6, 1.4] (before clamping).
        let y = ColorJitter(brightness: 0.4)(x, generator: RandomGenerator(seed: 7))
        let ratios = zip(y.scalars(), x.scalars()).filter { $0.1 > 0.05 && $0.0 < 0.999 }.map { $0.0 / $0.1 }
        #expect(ratios.max()! - ratios.min()! < 1e-4 && ratios[0] >= 0.6 && ratios[0] <= 1.4)
        // No factors: identity.
        #expect(ColorJitter()(x).scalars() == x.scalars())
    }

    @Test func grayscaleProbability() {
        let x = fixture("image")
        #expect(RandomGrayscale(p: 0)(x).scalars() == x.scalars())
        let g = RandomGrayscale(p: 1)(x)
        let n = 80
        let v = g.scalars()
        #expect(Array(v[0..<n]) == Array(v[n..<(2 * n)]) && Array(v[0..<n]) == Array(v[(2 * n)...]))
        let one = Tensor.uniform([1, 4, 4])
        #expect(RandomGrayscale(p: 1)(one).scalars() == one.scalars())
    }

    @Test func randomErasing() {
        let x = Tensor.ones([3, 32, 32])
        #expect(RandomErasing(p: 0)(x).scalars() == x.scalars())
        let e = RandomErasing(p: 1, value: .constant([0.5, 0.25, 0]))
        var fractions: [Double] = []
        for seed in 0..<200 {
            let y = e(x, generator: RandomGenerator(seed: UInt64(seed)))
            let v = y.scalars()
            let erased = v[0..<1024].filter { $0 == 0.5 }.count
            #expect(v[1024..<2048].filter { $0 == 0.25 }.count == erased && v[2048...].filter { $0 == 0 }.count == erased)
            fractions.append(Double(erased) / 1024)
        }
        #expect(fractions.allSatisfy { $0 <= 0.40 })
        #expect(fractions.filter { $0 > 0 }.count > 190)
        let mean = fractions.reduce(0, +) / 200
        #expect(mean > 0.1 && mean < 0.22, "mean erased fraction \(mean)")
        let a = e(x, generator: RandomGenerator(seed: 4)), b = e(x, generator: RandomGenerator(seed: 4))
        #expect(a.scalars() == b.scalars())
        let noisy = RandomErasing(p: 1, value: .random)(x, generator: RandomGenerator(seed: 1))
        #expect(noisy.scalars().contains { $0 != 1 })
    }

    @Test func cutoutSquare() {
        let x = Tensor.ones([1, 20, 20])
        for seed in 0..<50 {
            let y = Cutout(size: 6)(x, generator: RandomGenerator(seed: UInt64(seed)))
            let zeros = y.scalars().enumerated().filter { $0.element == 0 }.map(\.offset)
            let rows = Set(zeros.map { $0 / 20 }), cols = Set(zeros.map { $0 % 20 })
            #expect(zeros.count == rows.count * cols.count && rows.count <= 6 && cols.count <= 6 && !zeros.isEmpty)
            #expect(rows.max()! - rows.min()! == rows.count - 1)
        }
        // Centred in the middle, the whole square fits.
        #expect(Cutout(size: 6, p: 0)(x).scalars() == x.scalars())
    }

    @Test func gaussianBlurKeepsConstantsAndMass() {
        let c = Tensor.full([2, 9, 9], 0.3)
        let b = GaussianBlur(kernelSize: 5)(c, generator: RandomGenerator(seed: 1))
        #expect(b.scalars().allSatisfy { abs($0 - 0.3) < 1e-6 })
        let x = Tensor.uniform([3, 10, 10])
        let y = GaussianBlur(kernelSize: 3, sigma: 0.5...1.5)
        #expect(y(x, generator: RandomGenerator(seed: 2)).scalars() == y(x, generator: RandomGenerator(seed: 2)).scalars())
    }
}
