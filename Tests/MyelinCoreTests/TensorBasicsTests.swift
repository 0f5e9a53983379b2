import Testing
import Myelin

@Suite struct TensorBasicsTests {
    @Test func broadcastAddAndGradient() throws {
        var a = try Tensor([[1, 2, 3], [4, 5, 6]] as [[Double]])
        var b = Tensor([10.0, 20.0, 30.0])
        a.requiresGrad = true
        b.requiresGrad = true
        let c = a + b
        #expect(c.shape == [2, 3])
        #expect(c.scalars() == [11, 22, 33, 14, 25, 36])
        (c * c).sum().backward()
        #expect(a.grad!.scalars() == [22, 44, 66, 28, 50, 72])
        #expect(b.grad!.scalars() == [50, 94, 138])
    }

    @Test func matmulMatchesReference() throws {
        let a = try Tensor([[1, 2], [3, 4], [5, 6]] as [[Double]])
        let b = try Tensor([[1, 0, 2], [0, 1, 3]] as [[Double]])
        #expect(matmul(a, b).scalars() == [1, 2, 8, 3, 4, 18, 5, 6, 28])
        #expect(matmul(a, a, transposeB: true).shape == [3, 3])
        #expect(matmul(a, a, transposeA: true).scalars() == [35, 44, 44, 56])
    }

    @Test func gradientCheckOfMatmul() {
        let a = Tensor((0..<6).map { Double($0) * 0.3 - 0.7 }, shape: [2, 3])
        let b = Tensor((0..<12).map { Double($0) * 0.1 - 0.5 }, shape: [2, 3, 2])
        let r = checkGradients([a, b]) { matmul($0[0], $0[1]) }
        #expect(r.passed, "\(r)")
    }

    @Test func raggedArraysThrow() {
        #expect(throws: TensorError.self) { try Tensor([[1, 2], [3]] as [[Double]]) }
        #expect(throws: TensorError.self) { try Tensor(nested: [1, [2]] as [Any]) }
        #expect(throws: TensorError.self) { try Tensor(bytes: [UInt8](repeating: 0, count: 7), shape: [2], dtype: .float32) }
    }
}
