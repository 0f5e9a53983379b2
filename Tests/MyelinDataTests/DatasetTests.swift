import Foundation
import Testing
import Myelin

/// Sample i: input [i, i + 0.5, i + 0.25] (float32), target i (int64).
func numberedDataset(_ n: Int) -> TensorDataset {
    var values: [Float] = []
    for i in 0..<n {
        let f = Float(i)
        values += [f, f + 0.5, f + 0.25]
    }
    let x = Tensor(values, shape: [n, 3])
    let y = Tensor((0..<n).map { Int64($0) }, shape: [n])
    return TensorDataset(inputs: x, targets: y)
}

/// A data set that builds samples one by one (the protocol's default batching).
struct SquaresDataset: Dataset {
    let count: Int
    subscript(index: Int) -> Example {
        (Tensor([Float(index), Float(index * index)], shape: [2]), Tensor([Int64(index)], shape: []))
    }
}

@Suite struct DatasetTests {
    @Test func tensorDatasetRowsAndBatches() {
        let d = numberedDataset(10)
        #expect(d.count == 10)
        let (x, y) = d[4]
        #expect(x.shape == [3])
        #expect(x.scalars(as: Float.self) == [4, 4.5, 4.25])
        #expect(y.shape == [])
        #expect(y.integers() == [4])
        let b = d.batch([7, 2, 2])
        #expect(b.input.shape == [3, 3])
        #expect(b.input.scalars(as: Float.self) == [7, 7.5, 7.25, 2, 2.5, 2.25, 2, 2.5, 2.25])
        #expect(b.target.integers() == [7, 2, 2])
        #expect(b.target.dtype == .int64)
    }

    @Test func defaultBatchStacksSamples() {
        let d = SquaresDataset(count: 5)
        let b = d.batch([3, 1])
        #expect(b.input.shape == [2, 2])
        #expect(b.input.scalars(as: Float.self) == [3, 9, 1, 1])
        #expect(b.target.shape == [2])
        #expect(b.target.integers() == [3, 1])
        #expect(d.all().input.shape == [5, 2])
    }

    @Test func subsetMapsIndicesAndKeepsFastPath() {
        let d = numberedDataset(10)
        let s = Subset(d, indices: [9, 3, 5])
        #expect(s.count == 3)
        #expect(s[1].target.integers() == [3])
        #expect(s.batch([2, 0]).target.integers() == [5, 9])
        let nested = s.subset([2, 1])
        #expect(nested.all().target.integers() == [5, 3])
    }

    @Test func randomSplitIsAPartitionAndReproducible() {
        let d = numberedDataset(103)
        let parts = randomSplit(d, fractions: [0.7, 0.2, 0.1], seed: 7)
        // floor(72.1, 20.6, 10.3) = 72, 20, 10; one left over goes to the first part.
        #expect(parts.map(\.count) == [73, 20, 10])
        let all = parts.flatMap { $0.indices }
        #expect(all.sorted() == Array(0..<103))
        let again = randomSplit(d, fractions: [0.7, 0.2, 0.1], seed: 7)
        #expect(again.map(\.indices) == parts.map(\.indices))
        let other = randomSplit(d, fractions: [0.7, 0.2, 0.1], seed: 8)
        #expect(other[0].indices != parts[0].indices)
        let counts = randomSplit(d, counts: [100, 3], seed: 1)
        #expect(counts.map(\.count) == [100, 3])
    }

    @Test func trainValidationSplitSizes() {
        let d = numberedDataset(50)
        let (train, val) = trainValidationSplit(d, validationFraction: 0.2, seed: 3)
        #expect(train.count == 40)
        #expect(val.count == 10)
        #expect(Set(train.indices).isDisjoint(with: val.indices))
        let (t2, v2) = trainValidationSplit(d, validationFraction: 0.2, seed: 3)
        #expect(t2.indices == train.indices && v2.indices == val.indices)
    }

    @Test func mismatchedCountsStop() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = TensorDataset(inputs: Tensor.zeros([4, 2]), targets: Tensor.zeros([3]))
        }
        // `require` keeps its message in release builds too.
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("TensorDataset: inputs [4, 2] and targets [3] must have the same number of samples"))
    }
}
