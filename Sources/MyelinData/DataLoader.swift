import Foundation
import MyelinCore
import Synchronization

/// Mini-batches of a data set, as PyTorch's `DataLoader`:
///
///     let loader = DataLoader(train, batchSize: 64, shuffle: true, seed: 42)
///     for epoch in 0..<10 {
///         for (x, y) in loader { ... }   // a new order every epoch
///     }
///
/// - Shuffling: epoch `e` visits the samples in an order drawn from a generator
///   derived from `(seed, e)` alone, so a run resumed at epoch `e` (set `epoch`)
///   sees the same batches as one that never stopped. Random transforms draw
///   from a second generator derived the same way.
/// - Iterating the loader itself runs epoch `epoch` and then advances `epoch`;
///   `batches(epoch:)` runs a given epoch and changes nothing.
/// - Prefetch: with `prefetch > 0` a background thread assembles up to that many
///   batches ahead while the model trains on the current one. The batches are
///   identical to synchronous loading. Leaving a loop early stops the thread
///   (the iterator waits for it, so no thread outlives its iterator).
public final class DataLoader: Sequence, Sendable {
    public let dataset: any Dataset
    public let batchSize: Int
    public let shuffle: Bool
    /// Drop the last batch when it would be smaller than `batchSize`.
    public let dropLast: Bool
    /// The seed that orders every epoch (and seeds the transforms).
    public let seed: UInt64
    /// Applied to every sample's input before batching.
    public let transform: (any Transform)?
    /// How many batches the background thread may prepare ahead (0: none, no thread).
    public let prefetch: Int

    private let nextEpoch = Mutex(0)

    /// - Parameters:
    ///   - seed: orders the epochs when `shuffle` is on and seeds random transforms;
    ///     nil draws one from `RandomGenerator.default` (so `manualSeed` fixes it).
    ///   - prefetch: batches prepared ahead on a background thread; 0 loads on the caller's thread.
    public init(
        _ dataset: some Dataset, batchSize: Int, shuffle: Bool = false, seed: UInt64? = nil,
        dropLast: Bool = false, transform: (any Transform)? = nil, prefetch: Int = 2
    ) {
        require(batchSize > 0, "DataLoader: batchSize must be positive, got \(batchSize)")
        require(prefetch >= 0, "DataLoader: prefetch must be non-negative, got \(prefetch)")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed ?? RandomGenerator.default.nextUInt64()
        self.dropLast = dropLast
        self.transform = transform
        self.prefetch = prefetch
    }

    /// Batches per epoch.
    public var count: Int {
        let n = dataset.count
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize
    }

    /// Samples in the data set.
    public var sampleCount: Int { dataset.count }

    /// The epoch that the next `for ... in loader` runs (0 at first). Set it to
    /// resume training at a given epoch.
    public var epoch: Int {
        get { nextEpoch.withLock { $0 } }
        set {
            require(newValue >= 0, "DataLoader: epoch must be non-negative, got \(newValue)")
            nextEpoch.withLock { $0 = newValue }
        }
    }

    /// The order in which epoch `epoch` visits the samples (all of them, before drop-last).
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<dataset.count) }
        return RandomGenerator(seed: derivedSeed(epoch: epoch, stream: 0)).permutation(dataset.count)
    }

    /// The batches of one epoch, leaving `epoch` unchanged.
    public func batches(epoch: Int) -> Epoch { Epoch(loader: self, epoch: epoch) }

    /// Runs epoch `epoch`, and advances it for the next loop.
    public func makeIterator() -> Iterator {
        let e = nextEpoch.withLock { e in defer { e += 1 }; return e }
        return Iterator(loader: self, epoch: e)
    }

    public var underestimatedCount: Int { count }

    /// A seed for `(epoch, stream)`: one Philox block keyed by the loader's seed.
    private func derivedSeed(epoch: Int, stream: UInt64) -> UInt64 {
        let w = RandomGenerator.philox(seed: seed, counter: UInt64(epoch), stream: stream)
        return UInt64(w.0) << 32 | UInt64(w.1)
    }

    /// The index lists of epoch `epoch`'s batches.
    func batchIndices(epoch: Int) -> [[Int]] {
        let order = order(epoch: epoch)
        return (0..<count).map { b in Array(order[(b * batchSize)..<Swift.min((b + 1) * batchSize, order.count)]) }
    }

    /// Builds a batch; samples go through `transform` one by one when there is one.
    static func makeBatch(_ dataset: any Dataset, _ indices: [Int], _ transform: (any Transform)?, _ generator: RandomGenerator) -> Batch {
        guard let transform else { return dataset.batch(indices) }
        let samples = indices.map { dataset[$0] }
        return (Batching.stack(samples.map { transform($0.input, generator: generator) }, what: "transformed inputs"),
                Batching.stack(samples.map(\.target), what: "targets"))
    }

    /// One epoch's batches, as a sequence.
    public struct Epoch: Sequence, Sendable {
        public let loader: DataLoader
        public let epoch: Int
        public func makeIterator() -> Iterator { Iterator(loader: loader, epoch: epoch) }
        public var underestimatedCount: Int { loader.count }
    }

    /// Hands out one epoch's batches in order.
    public struct Iterator: IteratorProtocol {
        private let source: BatchSource

        init(loader: DataLoader, epoch: Int) {
            let batches = loader.batchIndices(epoch: epoch)
            let generator = RandomGenerator(seed: loader.derivedSeed(epoch: epoch, stream: 1))
            let (dataset, transform) = (loader.dataset, loader.transform)
            let make: @Sendable ([Int]) -> Batch = { DataLoader.makeBatch(dataset, $0, transform, generator) }
            if loader.prefetch > 0 && batches.count > 1 {
                source = PrefetchingSource(batches: batches, capacity: loader.prefetch, make: make)
            } else {
                source = SynchronousSource(batches: batches, make: make)
            }
        }

        public mutating func next() -> Batch? { source.next() }
    }
}

// MARK: - Batch sources

class BatchSource {
    func next() -> Batch? { nil }
}

/// Builds each batch when asked, on the caller's thread.
final class SynchronousSource: BatchSource {
    private let batches: [[Int]]
    private let make: @Sendable ([Int]) -> Batch
    private var position = 0

    init(batches: [[Int]], make: @escaping @Sendable ([Int]) -> Batch) {
        self.batches = batches
        self.make = make
    }

    override func next() -> Batch? {
        guard position < batches.count else { return nil }
        defer { position += 1 }
        return make(batches[position])
    }
}

/// A background thread fills a bounded queue; `next` takes from it. When the
/// source is released (the loop ended or broke off), the thread is told to stop
/// and waited for.
final class PrefetchingSource: BatchSource {
    /// State shared with the producer thread; every field is guarded by `condition`.
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var queue: [Batch] = []
        var head = 0
        var produced = false   // the producer has pushed its last batch
        var cancelled = false  // the consumer has gone
        var exited = false     // the producer thread has returned
    }

    private let shared = Shared()

    init(batches: [[Int]], capacity: Int, make: @escaping @Sendable ([Int]) -> Batch) {
        super.init()
        let shared = self.shared
        let thread = Thread {
            for indices in batches {
                shared.condition.lock()
                let stop = shared.cancelled
                shared.condition.unlock()
                if stop { break }

                let batch = make(indices)  // outside the lock: the consumer keeps going meanwhile

                shared.condition.lock()
                while shared.queue.count - shared.head >= capacity && !shared.cancelled { shared.condition.wait() }
                if shared.cancelled { shared.condition.unlock(); break }
                shared.queue.append(batch)
                shared.condition.broadcast()
                shared.condition.unlock()
            }
            shared.condition.lock()
            shared.produced = true
            shared.exited = true
            shared.condition.broadcast()
            shared.condition.unlock()
        }
        thread.name = "myelin.dataloader"
        thread.start()
    }

    override func next() -> Batch? {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        while shared.head == shared.queue.count && !shared.produced { shared.condition.wait() }
        guard shared.head < shared.queue.count else { return nil }
        let batch = shared.queue[shared.head]
        shared.head += 1
        // Drop consumed batches now and then, so the queue does not grow with the epoch.
        if shared.head >= 16 { shared.queue.removeFirst(shared.head); shared.head = 0 }
        shared.condition.broadcast()
        return batch
    }

    deinit {
        shared.condition.lock()
        shared.cancelled = true
        shared.condition.broadcast()
        while !shared.exited { shared.condition.wait() }
        shared.queue.removeAll()
        shared.condition.unlock()
    }
}
