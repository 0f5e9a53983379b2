import Foundation
import Testing
import Myelin

@Suite struct DataLoaderTests {
    /// The targets of every batch of one pass, in order.
    func targets(_ batches: some Sequence<Batch>) -> [[Int]] { batches.map { $0.target.integers() } }

    @Test func everySampleOncePerEpoch() {
        let loader = DataLoader(numberedDataset(23), batchSize: 5, shuffle: true, seed: 11)
        #expect(loader.count == 5)
        for _ in 0..<3 {
            let batches = targets(loader)
            #expect(batches.map(\.count) == [5, 5, 5, 5, 3])
            #expect(batches.flatMap { $0 }.sorted() == Array(0..<23))
        }
        #expect(loader.epoch == 3)
    }

    @Test func inputsStayWithTheirTargets() {
        let loader = DataLoader(numberedDataset(17), batchSize: 4, shuffle: true, seed: 2)
        for (x, y) in loader {
            #expect(x.shape == [y.shape[0], 3])
            #expect(x.scalars(as: Float.self).enumerated().filter { $0.offset % 3 == 0 }.map { Int($0.element) } == y.integers())
        }
    }

    @Test func unshuffledIsInOrder() {
        let loader = DataLoader(numberedDataset(7), batchSize: 3)
        #expect(targets(loader) == [[0, 1, 2], [3, 4, 5], [6]])
        #expect(targets(loader) == [[0, 1, 2], [3, 4, 5], [6]])
    }

    @Test func sameSeedSameOrderNewOrderEachEpoch() {
        let a = DataLoader(numberedDataset(40), batchSize: 8, shuffle: true, seed: 99)
        let b = DataLoader(numberedDataset(40), batchSize: 8, shuffle: true, seed: 99)
        let a0 = targets(a), a1 = targets(a)
        #expect(a0 == targets(b))
        #expect(a1 == targets(b))
        #expect(a0 != a1)
        let c = DataLoader(numberedDataset(40), batchSize: 8, shuffle: true, seed: 100)
        #expect(targets(c) != a0)
    }

    /// A run resumed at epoch e sees the order an uninterrupted run saw at epoch e.
    @Test func resumedEpochMatches() {
        let full = DataLoader(numberedDataset(30), batchSize: 7, shuffle: true, seed: 5)
        let epochs = (0..<4).map { _ in targets(full) }
        let resumed = DataLoader(numberedDataset(30), batchSize: 7, shuffle: true, seed: 5)
        resumed.epoch = 2
        #expect(targets(resumed) == epochs[2])
        #expect(targets(resumed) == epochs[3])
        #expect(targets(full.batches(epoch: 1)) == epochs[1])
        #expect(full.order(epoch: 0) == epochs[0].flatMap { $0 })
    }

    @Test func dropLastCounts() {
        let keep = DataLoader(numberedDataset(10), batchSize: 4)
        let drop = DataLoader(numberedDataset(10), batchSize: 4, dropLast: true)
        #expect(keep.count == 3)
        #expect(drop.count == 2)
        #expect(targets(keep).map(\.count) == [4, 4, 2])
        #expect(targets(drop).map(\.count) == [4, 4])
        #expect(DataLoader(numberedDataset(8), batchSize: 4, dropLast: true).count == 2)
        #expect(DataLoader(numberedDataset(3), batchSize: 4, dropLast: true).count == 0)
        #expect(targets(DataLoader(numberedDataset(3), batchSize: 4, dropLast: true)).isEmpty)
        #expect(targets(DataLoader(numberedDataset(0), batchSize: 4)).isEmpty)
    }

    @Test func prefetchGivesTheSameBatchesAsSynchronousLoading() {
        let transform = Compose { RandomHorizontalFlip(); RandomCrop(3, padding: 1) }
        let images = TensorDataset(inputs: Tensor.rand([37, 1, 3, 3], generator: RandomGenerator(seed: 1)),
                                   targets: Tensor((0..<37).map { Int64($0) }, shape: [37]))
        for prefetch in [1, 2, 5] {
            let sync = DataLoader(images, batchSize: 4, shuffle: true, seed: 3, transform: transform, prefetch: 0)
            let background = DataLoader(images, batchSize: 4, shuffle: true, seed: 3, transform: transform, prefetch: prefetch)
            for _ in 0..<2 {
                let s = Array(sync), b = Array(background)
                #expect(s.count == b.count)
                for (x, y) in zip(s, b) {
                    #expect(x.input.scalars(as: Float.self) == y.input.scalars(as: Float.self))
                    #expect(x.target.integers() == y.target.integers())
                }
            }
        }
    }

    /// Leaving the loop early stops the producer; many early exits in a row do not hang or pile up threads.
    @Test func earlyBreakDoesNotHang() {
        let loader = DataLoader(numberedDataset(1000), batchSize: 3, shuffle: true, seed: 1, prefetch: 2)
        for _ in 0..<200 {
            var seen = 0
            for (_, y) in loader {
                seen += y.shape[0]
                if seen >= 6 { break }
            }
            #expect(seen == 6)
        }
        // An iterator that is dropped without reading anything also stops its thread.
        for _ in 0..<50 { _ = loader.makeIterator() }
        #expect(targets(loader).count == loader.count)
    }

    /// The consumer is slower than the producer: the queue stays bounded and nothing is lost.
    @Test func slowConsumerGetsEverything() {
        let loader = DataLoader(numberedDataset(60), batchSize: 6, shuffle: true, seed: 4, prefetch: 2)
        var all: [Int] = []
        for (_, y) in loader {
            usleep(2000)
            all += y.integers()
        }
        #expect(all.sorted() == Array(0..<60))
    }

    @Test func perSampleTransformsApply() {
        let d = TensorDataset(inputs: Tensor.ones([6, 1, 2, 2]), targets: Tensor((0..<6).map { Int64($0) }, shape: [6]))
        let loader = DataLoader(d, batchSize: 4, transform: Normalize(mean: [0.5], std: [0.25]))
        let batches = Array(loader)
        #expect(batches[0].input.shape == [4, 1, 2, 2])
        #expect(batches[1].input.shape == [2, 1, 2, 2])
        #expect(batches[0].input.scalars(as: Float.self).allSatisfy { $0 == 2 })
    }

    @Test func worksWithDefaultBatchingAndSubsets() {
        let d = SquaresDataset(count: 9)
        let (train, _) = trainValidationSplit(d, validationFraction: 1.0 / 3, seed: 1)
        let loader = DataLoader(train, batchSize: 4, shuffle: true, seed: 1)
        let batches = Array(loader)
        #expect(batches.map { $0.target.shape[0] } == [4, 2])
        for (x, y) in batches {
            let v = x.scalars(as: Float.self), t = y.integers()
            for (k, i) in t.enumerated() { #expect(v[2 * k + 1] == Float(i * i)) }
        }
    }

    /// Without a seed the loader draws one from the default generator, so `manualSeed` fixes the order.
    @Test func unseededLoaderFollowsGeneratorArgument() {
        let a = DataLoader(numberedDataset(20), batchSize: 5, shuffle: true, seed: 8)
        #expect(a.seed == 8)
        let b = DataLoader(numberedDataset(20), batchSize: 5, shuffle: true)
        let c = DataLoader(numberedDataset(20), batchSize: 5, shuffle: true)
        #expect(b.seed != c.seed)
    }

    @Test(.enabled(if: TestData.hasMNIST, "needs ../shared/data/mnist"))
    func mnistLoaderBatches() throws {
        let test = try #require(TestData.mnistTest)
        let loader = DataLoader(test, batchSize: 128, shuffle: true, seed: 0, dropLast: true)
        #expect(loader.count == 78)
        var n = 0
        for (x, y) in loader {
            #expect(x.shape == [128, 1, 28, 28])
            #expect(y.shape == [128])
            n += 1
            if n == 3 { break }
        }
        let first = try #require(Array(loader.batches(epoch: 0).prefix(1)).first)
        let index = loader.order(epoch: 0)[0]
        #expect(first.input.scalars(as: Float.self).prefix(784) == test[index].input.scalars(as: Float.self)[...])
    }
}
