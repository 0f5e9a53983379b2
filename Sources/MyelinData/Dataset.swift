import Foundation
import MyelinCore

/// One supervised sample, or a batch of them stacked along a new first axis:
/// the model's input and the target it should produce. A tuple, so that
/// `for (x, y) in loader { ... }` reads as in PyTorch.
public typealias Example = (input: Tensor, target: Tensor)

/// A batch: inputs `[B, ...]` and targets `[B, ...]`.
public typealias Batch = (input: Tensor, target: Tensor)

/// Random access to samples, as PyTorch's map-style `Dataset`: a count and a
/// subscript. A sample is an `(input, target)` pair of tensors; data sets without
/// targets (autoencoders) use the input again, language models the shifted text.
///
/// `batch(_:)` gathers many samples at once. Its default stacks the samples one
/// by one; data sets held in whole tensors (`TensorDataset`, `MNIST`) copy rows
/// directly instead.
public protocol Dataset: Sendable {
    /// How many samples there are.
    var count: Int { get }
    /// Sample `index`, for `0 <= index < count`.
    subscript(index: Int) -> Example { get }
    /// The samples at `indices`, stacked: inputs `[indices.count, ...]`, targets likewise.
    func batch(_ indices: [Int]) -> Batch
}

extension Dataset {
    public func batch(_ indices: [Int]) -> Batch {
        let examples = indices.map { self[$0] }
        return (Batching.stack(examples.map(\.input), what: "inputs"),
                Batching.stack(examples.map(\.target), what: "targets"))
    }

    /// Every sample, stacked (for a whole validation set, or to fit a `Standardizer`).
    public func all() -> Batch { batch(Array(0..<count)) }

    /// The samples at `indices` of this data set, as a data set.
    public func subset(_ indices: [Int]) -> Subset { Subset(self, indices: indices) }
}

// MARK: - TensorDataset

/// Samples held as rows of two tensors (PyTorch's `TensorDataset`): sample `i` is
/// `(inputs[i], targets[i])`. A batch is gathered by copying whole rows, never by
/// building a tensor per sample.
public struct TensorDataset: Dataset {
    /// All inputs, `[count, ...]`.
    public let inputs: Tensor
    /// All targets, `[count, ...]` (`[count]` for class labels).
    public let targets: Tensor

    public init(inputs: Tensor, targets: Tensor) {
        require(inputs.rank >= 1 && targets.rank >= 1,
                "TensorDataset: inputs \(inputs.shape) and targets \(targets.shape) need a first (sample) axis")
        require(inputs.shape[0] == targets.shape[0],
                "TensorDataset: inputs \(inputs.shape) and targets \(targets.shape) must have the same number of samples (first axis)")
        self.inputs = inputs.detached()
        self.targets = targets.detached()
    }

    public var count: Int { inputs.shape[0] }

    public subscript(index: Int) -> Example {
        require(index >= 0 && index < count, "TensorDataset: index \(index) is out of range for \(count) samples")
        return (Batching.gatherRows(inputs, [index]).reshaped(Array(inputs.shape.dropFirst())),
                Batching.gatherRows(targets, [index]).reshaped(Array(targets.shape.dropFirst())))
    }

    public func batch(_ indices: [Int]) -> Batch {
        (Batching.gatherRows(inputs, indices), Batching.gatherRows(targets, indices))
    }
}

// MARK: - Subset

/// Some samples of another data set, by index (PyTorch's `Subset`). Batches are
/// gathered by the underlying data set, so its fast path is kept.
public struct Subset: Dataset {
    public let base: any Dataset
    /// Indices into `base`.
    public let indices: [Int]

    public init(_ base: some Dataset, indices: [Int]) {
        let n = base.count
        if let bad = indices.first(where: { $0 < 0 || $0 >= n }) {
            requirementFailure("Subset: index \(bad) is out of range for a data set of \(n) samples")
        }
        self.base = base
        self.indices = indices
    }

    public var count: Int { indices.count }

    public subscript(index: Int) -> Example {
        require(index >= 0 && index < indices.count, "Subset: index \(index) is out of range for \(indices.count) samples")
        return base[indices[index]]
    }

    public func batch(_ batchIndices: [Int]) -> Batch {
        let n = indices.count
        return base.batch(batchIndices.map { i in
            require(i >= 0 && i < n, "Subset: index \(i) is out of range for \(n) samples")
            return indices[i]
        })
    }
}

// MARK: - Splits

/// Splits `dataset` at random into parts of the given sizes (PyTorch's
/// `random_split`). The same seed always gives the same parts.
public func randomSplit(_ dataset: some Dataset, counts: [Int], seed: UInt64) -> [Subset] {
    require(counts.allSatisfy { $0 >= 0 }, "randomSplit: counts must be non-negative, got \(counts)")
    require(counts.reduce(0, +) == dataset.count,
            "randomSplit: counts \(counts) add up to \(counts.reduce(0, +)), not to the data set's \(dataset.count) samples")
    let order = RandomGenerator(seed: seed).permutation(dataset.count)
    var parts: [Subset] = []
    var start = 0
    for c in counts {
        parts.append(Subset(dataset, indices: Array(order[start..<(start + c)])))
        start += c
    }
    return parts
}

/// Splits `dataset` at random into parts holding the given fractions of it
/// (summing to 1). Sizes are rounded down, and the samples left over go one
/// each to the first parts, as PyTorch does.
public func randomSplit(_ dataset: some Dataset, fractions: [Double], seed: UInt64) -> [Subset] {
    randomSplit(dataset, counts: splitCounts(dataset.count, fractions: fractions), seed: seed)
}

/// A random train/validation split: `validationFraction` of the samples (rounded
/// to the nearest count) go to validation, the rest to training.
public func trainValidationSplit(
    _ dataset: some Dataset, validationFraction: Double, seed: UInt64
) -> (train: Subset, validation: Subset) {
    require(validationFraction >= 0 && validationFraction <= 1,
            "trainValidationSplit: validationFraction must be in [0, 1], got \(validationFraction)")
    let nVal = Int((Double(dataset.count) * validationFraction).rounded())
    let parts = randomSplit(dataset, counts: [dataset.count - nVal, nVal], seed: seed)
    return (parts[0], parts[1])
}

/// Part sizes for `fractions` of `n`: rounded down, remainder spread one per part from the first.
func splitCounts(_ n: Int, fractions: [Double]) -> [Int] {
    require(!fractions.isEmpty && fractions.allSatisfy { $0 >= 0 && $0.isFinite },
            "randomSplit: fractions must be non-negative numbers, got \(fractions)")
    let total = fractions.reduce(0, +)
    require(abs(total - 1) < 1e-6, "randomSplit: fractions \(fractions) must add up to 1, not \(total)")
    var counts = fractions.map { Int((Double(n) * $0).rounded(.down)) }
    for i in 0..<(n - counts.reduce(0, +)) { counts[i % counts.count] += 1 }
    return counts
}

// MARK: - Row copies

/// Batch assembly by memcpy of contiguous rows.
public enum Batching {
    /// Rows `indices` of `t` (along the first axis), as a new tensor `[indices.count, ...]`.
    public static func gatherRows(_ t: Tensor, _ indices: [Int]) -> Tensor {
        require(t.rank >= 1, "gatherRows: a tensor of shape \(t.shape) has no rows")
        let n = t.shape[0]
        var shape = t.shape
        shape[0] = indices.count
        let out = Tensor(uninitializedShape: shape, dtype: t.dtype)
        let rowBytes = n == 0 ? 0 : t.count / n * t.dtype.byteSize
        let src = t.storage.bytes, dst = out.storage.bytes
        withExtendedLifetime(t) {
            for (j, i) in indices.enumerated() {
                require(i >= 0 && i < n, "gatherRows: row \(i) is out of range for a tensor of shape \(t.shape)")
                memcpy(dst + j * rowBytes, src + i * rowBytes, rowBytes)
            }
        }
        return out
    }

    /// Tensors of one shape and dtype stacked along a new first axis.
    public static func stack(_ tensors: [Tensor], what: String = "tensors") -> Tensor {
        guard let first = tensors.first else {
            requirementFailure("stack: cannot stack an empty list of \(what)")
        }
        for (i, t) in tensors.enumerated() where t.shape != first.shape || t.dtype != first.dtype {
            requirementFailure(
                "stack: \(what) must share one shape and dtype to form a batch; sample 0 is \(first.dtype) \(first.shape), sample \(i) is \(t.dtype) \(t.shape)")
        }
        let out = Tensor(uninitializedShape: [tensors.count] + first.shape, dtype: first.dtype)
        let rowBytes = first.count * first.dtype.byteSize
        for (i, t) in tensors.enumerated() {
            withExtendedLifetime(t) { _ = memcpy(out.storage.bytes + i * rowBytes, t.storage.bytes, rowBytes) }
        }
        return out
    }
}
