import Foundation
import Testing
import Myelin

@Suite struct UpsampleTests {
    static let cases = Conv4Fixtures.names(op: "upsample")

    private static func layer(_ c: Conv4Fixtures.Case) -> Upsample {
        let mode: UpsampleMode = c.strings["mode"] == "bilinear" ? .bilinear : .nearest
        let ac = c.bools["align_corners"] ?? false
        if let size = c.pairs["size"] { return Upsample(size: size, mode: mode, alignCorners: ac) }
        return Upsample(scaleFactor: c.number("scale"), mode: mode, alignCorners: ac)
    }

    @Test func fixturesCoverBothModesAndAlignCorners() {
        for required in ["up_nearest_x2", "up_nearest_size", "up_bilinear_x2", "up_bilinear_x2_ac", "up_bilinear_size_ac", "up_bilinear_down"] {
            #expect(Self.cases.contains(required), "missing fixture case \(required)")
        }
    }

    @Test(arguments: cases, [DType.float64, .float32])
    func matchesPyTorch(_ name: String, _ dtype: DType) {
        let up = Self.layer(Conv4Fixtures.named(name))
        let x = Conv4Fixtures.tensor("\(name).input").to(dtype).requiringGrad()
        let y = up(x)
        #expect(y.dtype == dtype)
        y.backward(gradient: Conv4Fixtures.tensor("\(name).grad_output").to(dtype))
        let (rtol, atol) = dtype == .float64 ? (1e-11, 1e-12) : (1e-5, 1e-6)
        expectClose(y, Conv4Fixtures.tensor("\(name).output"), rtol: rtol, atol: atol, "\(name) (\(dtype)) output")
        expectClose(x.grad, Conv4Fixtures.tensor("\(name).grad_input"), rtol: rtol, atol: atol, "\(name) (\(dtype)) grad input")
    }

    struct GradCase: CustomTestStringConvertible, Sendable {
        let size: IntPair?, scale: Double?, mode: UpsampleMode, alignCorners: Bool
        var testDescription: String { "\(mode) \(size.map { "size \($0)" } ?? "scale \(scale ?? 0)")\(alignCorners ? " align corners" : "")" }
    }

    static let gradCases: [GradCase] = [
        GradCase(size: nil, scale: 2, mode: .nearest, alignCorners: false),
        GradCase(size: [5, 4], scale: nil, mode: .nearest, alignCorners: false),
        GradCase(size: nil, scale: 2, mode: .bilinear, alignCorners: false),
        GradCase(size: nil, scale: 2, mode: .bilinear, alignCorners: true),
        GradCase(size: [2, 5], scale: nil, mode: .bilinear, alignCorners: false),
        GradCase(size: [2, 5], scale: nil, mode: .bilinear, alignCorners: true),
    ]

    @Test(arguments: gradCases)
    func gradients(_ t: GradCase) {
        let x = randomDoubles([2, 2, 3, 3], seed: 31)
        expectGradients([x], t.testDescription) { v in
            upsample2d(v[0], size: t.size, scaleFactor: t.scale, mode: t.mode, alignCorners: t.alignCorners)
        }
    }

    @Test func handComputedValues() {
        let x = Tensor([1.0, 2.0, 3.0, 4.0], shape: [1, 1, 2, 2]).to(.float64)
        #expect(upsample2d(x, scaleFactor: 2).scalars(as: Double.self)
                == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        // align corners: the corners stay, the middle is the average.
        let ac = upsample2d(x, size: [3, 3], mode: .bilinear, alignCorners: true).scalars(as: Double.self)
        #expect(ac == [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4])
        // half-pixel centres: the first output row of a 2× upsampling is 3/4·row0 + 1/4·row0 (clamped) = row 0 blend.
        let hp = upsample2d(x, scaleFactor: 2, mode: .bilinear).scalars(as: Double.self)
        #expect(Array(hp[0..<4]) == [1, 1.25, 1.75, 2])
    }

    @Test func shapes() {
        let x = Tensor.zeros([2, 3, 4, 5])
        #expect(Upsample(scaleFactor: 2)(x).shape == [2, 3, 8, 10])
        #expect(Upsample(scaleFactor: 1.5, mode: .bilinear)(x).shape == [2, 3, 6, 7])
        #expect(Upsample(size: [7, 3], mode: .bilinear, alignCorners: true)(x).shape == [2, 3, 7, 3])
        #expect(Upsample(scaleFactor: 2)(x[0]).shape == [3, 8, 10])
        #expect(Upsample(scaleFactor: 2, mode: .bilinear, alignCorners: true).layerDescription == "Upsample(scale 2.0, bilinear, align corners)")
    }

    @Test func zeroPadPadsHeightAndWidth() {
        let x = Tensor([1.0, 2.0, 3.0, 4.0], shape: [1, 1, 2, 2]).to(.float64)
        let y = ZeroPad2D(left: 1, right: 0, top: 0, bottom: 1)(x)
        #expect(y.shape == [1, 1, 3, 3])
        #expect(y.scalars(as: Double.self) == [0, 1, 2, 0, 3, 4, 0, 0, 0])
        #expect(ZeroPad2D(2)(Tensor.zeros([3, 4, 5])).shape == [3, 8, 9])
        #expect(ZeroPad2D(IntPair(1, 2))(Tensor.zeros([1, 3, 4, 5])).shape == [1, 3, 6, 9])
        #expect(ZeroPad2D(left: 1, right: 2, top: 0, bottom: 1).layerDescription == "ZeroPad2D(left 1, right 2, top 0, bottom 1)")
        expectGradients([randomDoubles([1, 2, 2, 3], seed: 41)], "ZeroPad2D") { v in ZeroPad2D(left: 1, right: 2, top: 0, bottom: 1)(v[0]) }
    }

    @Test func wrongRankStopsNamingLayerAndShape() async {
        let up = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Upsample(scaleFactor: 2, mode: .bilinear)(Tensor.zeros([4, 5]))
        }
        let e1 = stopMessage(up)
        #expect(e1.contains("Upsample(scale 2.0, bilinear): input must be [N, C, H, W] or [C, H, W], got shape [4, 5]"), "stderr: \(e1)")
        let pad = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ZeroPad2D(1)(Tensor.zeros([4, 5]))
        }
        let e2 = stopMessage(pad)
        #expect(e2.contains("ZeroPad2D(1): input must be [N, C, H, W] or [C, H, W], got shape [4, 5]"), "stderr: \(e2)")
    }
}
