import Testing
import Myelin

@Suite struct EmbeddingTests {
    @Test func matchesPyTorch() throws {
        try checkLayerCase("embedding", Embedding(10, 4))
        try checkLayerCase("embedding_padding", Embedding(10, 4, paddingIndex: 2))
        try checkLayerCase("embedding_int32", Embedding(10, 4))
        #expect(NNFixtures.tensor("embedding_int32.x").dtype == .int32)
    }

    @Test func gradientCheck() {
        let w = randomDoubles([6, 3], seed: 4)
        let idx = Tensor([1, 5, 1, 0, 2, 1], shape: [2, 3])
        expectGradients([w, idx], "embedding") { embedding($0[1], weight: $0[0]) }
        expectGradients([w, idx], "embedding with a padding index it does not use") { embedding($0[1], weight: $0[0], paddingIndex: 3) }
    }

    @Test func paddingRowIsZeroAndUntrained() throws {
        let e = Embedding(5, 3, paddingIndex: -1)
        #expect(e.paddingIndex == 4)
        #expect(e.weight.scalars()[12..<15].allSatisfy { $0 == 0 })
        let y = e(Tensor([4, 0, 4], shape: [3]))
        #expect(y.shape == [3, 3])
        y.sum().backward()
        let g = try #require(e.$weight.grad).scalars()
        #expect(g[12..<15].allSatisfy { $0 == 0 } && g[0..<3].allSatisfy { $0 == 1 })
    }

    @Test func defaultInitIsStandardNormal() {
        let w = Embedding(400, 50, generator: RandomGenerator(seed: 5)).weight.scalars(as: Double.self)
        let mean = w.reduce(0, +) / Double(w.count)
        let variance = w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(w.count)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.03)
    }

    @Test func scalarAndEmptyIndices() {
        let e = Embedding(3, 2)
        #expect(e(Tensor([Int64(2)], shape: [], dtype: .int64)).shape == [2])
        #expect(e(Tensor([Int64](), shape: [0, 4], dtype: .int64)).shape == [0, 4, 2])
    }

    @Test func outOfRangeIndexStops() async {
        var result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Embedding(10, 4)(Tensor([3, 12, 1]))
        }
        #expect(stopMessage(result).contains("index 12 at position 1 is out of range for 10 embeddings"), "\(stopMessage(result))")
        result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Embedding(10, 4)(Tensor([1.0, 2.0]))
        }
        #expect(stopMessage(result).contains("indices must be int32 or int64, not float32"), "\(stopMessage(result))")
    }
}
