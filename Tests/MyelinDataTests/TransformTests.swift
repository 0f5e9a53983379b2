import Foundation
import Testing
import Myelin

@Suite struct TransformTests {
    /// A [c, h, w] image whose pixel (ch, i, j) is 100·ch + 10·i + j + 1 (never 0, so padding shows).
    func ramp(_ c: Int, _ h: Int, _ w: Int, dtype: DType = .float32) -> Tensor {
        var v: [Double] = []
        for ch in 0..<c { for i in 0..<h { for j in 0..<w { v.append(Double(100 * ch + 10 * i + j + 1)) } } }
        return Tensor(v, shape: [c, h, w], dtype: dtype)
    }

    func pixels(_ t: Tensor) -> [Double] { t.scalars(as: Double.self) }

    @Test func normalizePerChannel() {
        let x = Tensor([1, 2, 3, 4, 10, 20, 30, 40] as [Float], shape: [2, 2, 2])
        let y = Normalize(mean: [2, 20], std: [2, 10])(x)
        #expect(y.shape == [2, 2, 2])
        #expect(pixels(y) == [-0.5, 0, 0.5, 1, -1, 0, 1, 2])
        let one = Normalize(mean: [1], std: [0.5])(x.to(.float64))
        #expect(one.dtype == .float64)
        #expect(pixels(one)[0...1] == [0, 2])
    }

    @Test func horizontalAndVerticalFlip() {
        let x = ramp(2, 2, 3)
        let g = RandomGenerator(seed: 0)
        #expect(pixels(RandomHorizontalFlip(p: 1)(x, generator: g)) == [3, 2, 1, 13, 12, 11, 103, 102, 101, 113, 112, 111])
        #expect(pixels(RandomHorizontalFlip(p: 0)(x, generator: g)) == pixels(x))
        #expect(pixels(RandomVerticalFlip(p: 1)(x, generator: g)) == [11, 12, 13, 1, 2, 3, 111, 112, 113, 101, 102, 103])
        let d = RandomHorizontalFlip(p: 1)(x.to(.float64), generator: g)
        #expect(d.dtype == .float64 && pixels(d)[0] == 3)
        // p = 0.5 flips about half the time.
        let flips = (0..<400).filter { _ in pixels(RandomHorizontalFlip()(x, generator: g))[0] == 3 }.count
        #expect(flips > 150 && flips < 250)
    }

    @Test func randomCropIsAShiftWithZeroPadding() {
        let x = ramp(1, 6, 6)
        let g = RandomGenerator(seed: 3)
        var shifts = Set<[Int]>()
        for _ in 0..<200 {
            let y = RandomCrop(6, padding: 2)(x, generator: g)
            #expect(y.shape == [1, 6, 6])
            let v = pixels(y)
            // Find the shift that explains the output.
            var found: [Int]?
            for dy in -2...2 {
                for dx in -2...2 {
                    var ok = true
                    for i in 0..<6 where ok { for j in 0..<6 where ok {
                        let si = i + dy, sj = j + dx
                        let expected = si >= 0 && si < 6 && sj >= 0 && sj < 6 ? Double(10 * si + sj + 1) : 0
                        ok = v[i * 6 + j] == expected
                    } }
                    if ok { found = [dy, dx] }
                }
            }
            #expect(found != nil)
            if let found { shifts.insert(found) }
        }
        #expect(shifts.count == 25)  // every offset happens
        let smaller = RandomCrop(height: 3, width: 4)(ramp(2, 5, 5), generator: g)
        #expect(smaller.shape == [2, 3, 4])
        #expect(pixels(RandomCrop(6)(x, generator: g)) == pixels(x))
    }

    @Test func centerCrop() {
        let y = CenterCrop(2)(ramp(1, 4, 4))
        #expect(pixels(y) == [12, 13, 22, 23])
    }

    @Test func affineIdentityRotationAndTranslation() {
        let x = ramp(2, 5, 5)
        #expect(pixels(Image.affine(x, angle: 0)) == pixels(x))
        #expect(pixels(Image.affine(x, angle: 0, interpolation: .nearest)) == pixels(x))

        // One bright pixel right of centre turns to above centre at +90° (counter-clockwise as displayed).
        var v = [Double](repeating: 0, count: 25)
        v[2 * 5 + 4] = 1
        let dot = Tensor(v, shape: [5, 5], dtype: .float32)
        for interpolation in [Interpolation.nearest, .bilinear] {
            let r = pixels(Image.affine(dot, angle: 90, interpolation: interpolation))
            #expect(abs(r[0 * 5 + 2] - 1) < 1e-5, "\(interpolation)")
            #expect(abs(r.reduce(0, +) - 1) < 1e-5, "\(interpolation)")
        }
        // A shift by one pixel right and one down, with zero fill.
        let t = pixels(Image.affine(x, angle: 0, translation: (1, 1)))
        #expect(t[0] == 0 && t[5] == 0)
        #expect(t[6] == 1 && t[24] == 34 && t[25 + 6] == 101)
        // Half-pixel shift with bilinear sampling averages neighbours.
        let half = pixels(Image.affine(x, angle: 0, translation: (0.5, 0)))
        #expect(abs(half[1] - 1.5) < 1e-5)
        // Scale 2 about the centre keeps the centre pixel.
        #expect(pixels(Image.affine(x, angle: 0, scale: 2))[12] == 23)
    }

    @Test func randomAffineIsReproducibleAndSmall() {
        let x = ramp(1, 28, 28)
        let t = RandomAffine(degrees: 10, translate: (0.1, 0.1))
        let a = t(x, generator: RandomGenerator(seed: 5))
        let b = t(x, generator: RandomGenerator(seed: 5))
        let c = t(x, generator: RandomGenerator(seed: 6))
        #expect(a.shape == [1, 28, 28])
        #expect(pixels(a) == pixels(b))
        #expect(pixels(a) != pixels(c))
        let r = RandomRotation(degrees: 15)(x, generator: RandomGenerator(seed: 1))
        #expect(r.shape == [1, 28, 28])
        // The centre moves little under a small rotation.
        #expect(abs(pixels(r)[14 * 28 + 14] - pixels(x)[14 * 28 + 14]) < 30)
    }

    @Test func composeRunsInOrderAndIsDeterministic() {
        let pipeline = Compose {
            RandomCrop(4, padding: 1)
            RandomHorizontalFlip()
            Normalize(mean: [1], std: [2])
        }
        #expect(pipeline.transforms.count == 3)
        let x = ramp(1, 4, 4)
        let a = pipeline(x, generator: RandomGenerator(seed: 9))
        let b = pipeline(x, generator: RandomGenerator(seed: 9))
        #expect(a.shape == [1, 4, 4])
        #expect(pixels(a) == pixels(b))
        let order = Compose([Normalize(mean: [1], std: [1]), LambdaTransform { x, _ in x * 2 }])
        #expect(pixels(order(Tensor([3] as [Float], shape: [1, 1, 1])))[0] == 4)
    }

    @Test func batchesAreRejectedWithAClearMessage() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = RandomHorizontalFlip()(Tensor.zeros([8, 1, 28, 28]))
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("RandomHorizontalFlip: needs an image of shape [C, H, W] or [H, W], got [8, 1, 28, 28]"))
    }
}
