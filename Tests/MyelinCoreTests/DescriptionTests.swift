import Testing
import Myelin

/// Expected strings are `repr(...)` of the same tensors printed by PyTorch 2.x
/// (/work/venv-torch), with one documented substitution: Myelin writes
/// `dtype=float64` where torch writes `dtype=torch.float64`.
@Suite struct DescriptionTests {
    @Test func vector() {
        #expect((Tensor([1.0, 2.0, 3.0])).description == "tensor([1., 2., 3.])")
    }

    @Test func matrix() throws {
        #expect((try Tensor([[1.5, 2], [3, 4]])).description == "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])")
    }

    @Test func ints() {
        #expect((Tensor([1, 2, 3])).description == "tensor([1, 2, 3])")
    }

    @Test func bools() {
        #expect((Tensor([true, false])).description == "tensor([ True, False])")
    }

    @Test func scalar() {
        #expect((Tensor(scalar: Float(3))).description == "tensor(3.)")
    }

    @Test func scalarInt() {
        #expect((Tensor([Int64(7)], shape: [])).description == "tensor(7)")
    }

    @Test func float64() {
        #expect((Tensor([1.5, 2.25] as [Double], dtype: .float64)).description == "tensor([1.5000, 2.2500], dtype=float64)")
    }

    @Test func int32() {
        #expect((Tensor([Int32(1), -20])).description == "tensor([  1, -20], dtype=int32)")
    }

    @Test func requiresGrad() {
        let a = Tensor([1.0, 2.0]).requiringGrad()
        #expect((a).description == "tensor([1., 2.], requires_grad=True)")
    }

    @Test func gradFnAdd() {
        let a = Tensor([1.0, 2.0]).requiringGrad()
        #expect((a + a).description == "tensor([2., 4.], grad_fn=<AddBackward0>)")
    }

    @Test func gradFnMul() {
        let a = Tensor([1.0, 2.0]).requiringGrad()
        #expect((a * 2.0).description == "tensor([2., 4.], grad_fn=<MulBackward0>)")
    }

    @Test func gradFnSum() {
        let a = Tensor([1.0, 2.0]).requiringGrad()
        #expect(((a * a).sum()).description == "tensor(5., grad_fn=<SumBackward0>)")
    }

    @Test func empty() {
        #expect((Tensor([] as [Double])).description == "tensor([])")
    }

    @Test func empty2D() {
        #expect((Tensor.zeros([0, 3])).description == "tensor([], size=(0, 3))")
    }

    @Test func emptyInt() {
        #expect((Tensor.zeros([0], dtype: .int64)).description == "tensor([], dtype=int64)")
    }

    @Test func empty3D() {
        #expect((Tensor.zeros([2, 0, 3])).description == "tensor([], size=(2, 0, 3))")
    }

    @Test func sciSmall() {
        #expect((Tensor([1e-5, 1.0])).description == "tensor([1.0000e-05, 1.0000e+00])")
    }

    @Test func sciRatio() {
        #expect((Tensor([1.0, 2000.0])).description == "tensor([1.0000e+00, 2.0000e+03])")
    }

    @Test func sciLarge() {
        #expect((Tensor([1e9, 1.5])).description == "tensor([1.0000e+09, 1.5000e+00])")
    }

    @Test func wrapInts() {
        #expect((Tensor.arange(30)).description == "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29])")
    }

    @Test func wrapFloats() {
        #expect((Tensor.arange(0, 2.5, step: 0.125)).description == "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000,\n        1.1250, 1.2500, 1.3750, 1.5000, 1.6250, 1.7500, 1.8750, 2.0000, 2.1250,\n        2.2500, 2.3750])")
    }

    @Test func nanInf() {
        #expect((Tensor([.nan, 1.5, .infinity, -.infinity])).description == "tensor([   nan, 1.5000,    inf,   -inf])")
    }

    @Test func zeroNan() {
        #expect((Tensor([0.0, .nan])).description == "tensor([0., nan])")
    }

    @Test func mixedSign() {
        #expect((Tensor([-1.0, 0.0, 2.0])).description == "tensor([-1.,  0.,  2.])")
    }

    @Test func rank3() {
        #expect((Tensor.arange(0, 24).reshaped([2, 3, 4])).description == "tensor([[[ 0.,  1.,  2.,  3.],\n         [ 4.,  5.,  6.,  7.],\n         [ 8.,  9., 10., 11.]],\n\n        [[12., 13., 14., 15.],\n         [16., 17., 18., 19.],\n         [20., 21., 22., 23.]]])")
    }

    @Test func negFrac() throws {
        #expect((try Tensor([[-0.5, 0.25], [10.125, 3]])).description == "tensor([[-0.5000,  0.2500],\n        [10.1250,  3.0000]])")
    }

    @Test func summary1D() {
        #expect((Tensor.arange(0, 250.25, step: 0.25)).description == "tensor([  0.0000,   0.2500,   0.5000,  ..., 249.5000, 249.7500, 250.0000])")
    }

    @Test func summary2D() {
        #expect((Tensor.arange(1200).reshaped([40, 30])).description == "tensor([[   0,    1,    2,  ...,   27,   28,   29],\n        [  30,   31,   32,  ...,   57,   58,   59],\n        [  60,   61,   62,  ...,   87,   88,   89],\n        ...,\n        [1110, 1111, 1112,  ..., 1137, 1138, 1139],\n        [1140, 1141, 1142,  ..., 1167, 1168, 1169],\n        [1170, 1171, 1172,  ..., 1197, 1198, 1199]])")
    }

    @Test func summary3D() {
        #expect((Tensor.arange(0, 1200).reshaped([2, 10, 60])).description == "tensor([[[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 5.7000e+01,\n          5.8000e+01, 5.9000e+01],\n         [6.0000e+01, 6.1000e+01, 6.2000e+01,  ..., 1.1700e+02,\n          1.1800e+02, 1.1900e+02],\n         [1.2000e+02, 1.2100e+02, 1.2200e+02,  ..., 1.7700e+02,\n          1.7800e+02, 1.7900e+02],\n         ...,\n         [4.2000e+02, 4.2100e+02, 4.2200e+02,  ..., 4.7700e+02,\n          4.7800e+02, 4.7900e+02],\n         [4.8000e+02, 4.8100e+02, 4.8200e+02,  ..., 5.3700e+02,\n          5.3800e+02, 5.3900e+02],\n         [5.4000e+02, 5.4100e+02, 5.4200e+02,  ..., 5.9700e+02,\n          5.9800e+02, 5.9900e+02]],\n\n        [[6.0000e+02, 6.0100e+02, 6.0200e+02,  ..., 6.5700e+02,\n          6.5800e+02, 6.5900e+02],\n         [6.6000e+02, 6.6100e+02, 6.6200e+02,  ..., 7.1700e+02,\n          7.1800e+02, 7.1900e+02],\n         [7.2000e+02, 7.2100e+02, 7.2200e+02,  ..., 7.7700e+02,\n          7.7800e+02, 7.7900e+02],\n         ...,\n         [1.0200e+03, 1.0210e+03, 1.0220e+03,  ..., 1.0770e+03,\n          1.0780e+03, 1.0790e+03],\n         [1.0800e+03, 1.0810e+03, 1.0820e+03,  ..., 1.1370e+03,\n          1.1380e+03, 1.1390e+03],\n         [1.1400e+03, 1.1410e+03, 1.1420e+03,  ..., 1.1970e+03,\n          1.1980e+03, 1.1990e+03]]])")
    }

    @Test func suffixWrap() {
        #expect((Tensor.full([8], 0.1).requiringGrad()).description == "tensor([0.1000, 0.1000, 0.1000, 0.1000, 0.1000, 0.1000, 0.1000, 0.1000],\n       requires_grad=True)")
    }

    @Test func boolMatrix() {
        #expect((Tensor([true, false, true, false, false, true], shape: [2, 3])).description == "tensor([[ True, False,  True],\n        [False, False,  True]])")
    }

    @Test func zeros() {
        #expect((Tensor.zeros([2, 2])).description == "tensor([[0., 0.],\n        [0., 0.]])")
    }

    @Test func negZero() {
        #expect((Tensor([-0.0, 1.0])).description == "tensor([-0., 1.])")
    }

    @Test func emptyBool() {
        #expect((Tensor.zeros([0], dtype: .bool)).description == "tensor([], dtype=bool)")
    }

    @Test func summaryGivesShapeAndDtype() {
        #expect(Tensor.zeros([2, 3]).summary == "Tensor(shape: [2, 3], dtype: float32)")
        #expect(Tensor.zeros([4], dtype: .int64).requiringGrad(false).summary == "Tensor(shape: [4], dtype: int64)")
        let a = Tensor([1.0, 2.0]).requiringGrad()
        #expect(a.summary == "Tensor(shape: [2], dtype: float32, requiresGrad: true)")
        #expect((a + a).summary == "Tensor(shape: [2], dtype: float32, gradFn: AddBackward0)")
    }

    @Test func largeTensorPrintsQuicklyAndSummarised() {
        let t = Tensor.zeros([1000, 1000])
        let s = t.description
        #expect(s.contains("..."))
        #expect(s.split(separator: "\n").count == 7)
    }
}
