import Testing
import Myelin

@Suite struct CreationTests {
    private func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-6) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { Swift.abs($0 - $1) <= tolerance }
    }

    @Test func arangeOfAnIntegerIsInt64() {
        let t = Tensor.arange(5)
        #expect(t.dtype == .int64)
        #expect(t.shape == [5])
        #expect(t.integers() == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(0).shape == [0])
        #expect(Tensor.arange(3, dtype: .float64).scalars(as: Double.self) == [0, 1, 2])
    }

    @Test func arangeCountIsCeilOfSpanOverStep() {
        // torch.arange(0, 1, 0.3) -> 4 values; torch.arange(1, 2.5, 0.5) -> 3 values.
        let a = Tensor.arange(0, 1, step: 0.3)
        #expect(a.dtype == .float32)
        #expect(close(a.scalars(), [0, 0.3, 0.6, 0.9]))
        #expect(Tensor.arange(1, 2.5, step: 0.5).scalars() == [1, 1.5, 2])
        #expect(Tensor.arange(0, 1, step: 0.1).count == 10)
        #expect(Tensor.arange(2.5).scalars() == [0, 1, 2])
        #expect(Tensor.arange(3, 3).shape == [0])
    }

    @Test func arangeWithNegativeStepAndIntDtype() {
        // torch.arange(5, 1, -1.5) -> [5.0, 3.5, 2.0]
        #expect(Tensor.arange(5, 1, step: -1.5).scalars() == [5, 3.5, 2])
        let i = Tensor.arange(0, 10, step: 3, dtype: .int64)
        #expect(i.dtype == .int64)
        #expect(i.integers() == [0, 3, 6, 9])
        #expect(Tensor.arange(-2, 2, dtype: .int32).integers() == [-2, -1, 0, 1])
    }

    @Test func linspaceIncludesBothEnds() {
        #expect(Tensor.linspace(0, 1, count: 5).scalars() == [0, 0.25, 0.5, 0.75, 1])
        #expect(Tensor.linspace(-1, 1, count: 1).scalars() == [-1])
        #expect(Tensor.linspace(0, 1, count: 0).shape == [0])
        let t = Tensor.linspace(0, 0.3, count: 7, dtype: .float64).scalars(as: Double.self)
        #expect(t.first == 0 && t.last == 0.3)
        #expect(zip(t, (0..<7).map { 0.05 * Double($0) }).allSatisfy { Swift.abs($0 - $1) < 1e-15 })
        #expect(Tensor.linspace(3, -3, count: 4).scalars() == [3, 1, -1, -3])
    }

    @Test func eyeIsIdentity() {
        #expect(Tensor.eye(3).scalars() == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        let r = Tensor.eye(2, 3)
        #expect(r.shape == [2, 3])
        #expect(r.scalars() == [1, 0, 0, 0, 1, 0])
        let c = Tensor.eye(3, 2, dtype: .int64)
        #expect(c.dtype == .int64)
        #expect(c.integers() == [1, 0, 0, 1, 0, 0])
        #expect(Tensor.eye(0).shape == [0, 0])
        #expect(Tensor.eye(2, dtype: .bool).bools() == [true, false, false, true])
    }

    @Test func constantsStillWork() {
        #expect(Tensor.full([2, 2], 2.5).scalars() == [2.5, 2.5, 2.5, 2.5])
        #expect(Tensor.ones([3], dtype: .int32).integers() == [1, 1, 1])
        #expect(Tensor.zeros([0, 4]).count == 0)
    }

    @Test func arangeWithZeroStepFails() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.arange(0, 1, step: 0)
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("arange: step must be non-zero"))
    }
}
