import MyelinCore

/// Rows of `weight` [numEmbeddings, dim] picked by integer `indices` (int32 or int64,
/// any shape): the result has shape indices.shape + [dim], as PyTorch's `F.embedding`.
/// The gradient adds each output row back into the row it came from; the row
/// `paddingIndex` (if any) receives none.
public func embedding(_ indices: Tensor, weight: Tensor, paddingIndex: Int? = nil) -> Tensor {
    require(weight.rank == 2, "embedding: weight must be [numEmbeddings, dim], got shape \(weight.shape)")
    let (rows, dim) = (weight.shape[0], weight.shape[1])
    let padding = EmbeddingSupport.normalizedPadding(paddingIndex, rows: rows, op: "embedding")
    let idx = EmbeddingSupport.indices(indices, rows: rows, op: "embedding(\(rows), \(dim))")
    let w = weight.dtype.isFloatingPoint ? weight : weight.to(.float32)
    let out = Tensor(uninitializedShape: indices.shape + [dim], dtype: w.dtype)
    let bytes = dim * w.dtype.byteSize
    withExtendedLifetime(w) {
        let src = w.storage.bytes, dst = out.storage.bytes
        idx.withUnsafeBufferPointer { ix in
            Threading.parallelFor(ix.count, grain: Swift.max(1, Threading.elementwiseGrain / Swift.max(dim, 1))) { r in
                for k in r { (dst + k * bytes).copyMemory(from: src + ix[k] * bytes, byteCount: bytes) }
            }
        }
    }
    return Autograd.record(out, inputs: [w], name: "embedding") { g, _ in
        let g = g.to(w.dtype)
        let gw = Tensor.zeros([rows, dim], dtype: w.dtype)
        withExtendedLifetime(g) {
            switch w.dtype {
            case .float64: EmbeddingSupport.indexAdd(g.storage.pointer(as: Double.self), into: gw.storage.pointer(as: Double.self), idx, dim: dim, skip: padding)
            default: EmbeddingSupport.indexAdd(g.storage.pointer(as: Float.self), into: gw.storage.pointer(as: Float.self), idx, dim: dim, skip: padding)
            }
        }
        return [gw]
    }
}

enum EmbeddingSupport {
    static func normalizedPadding(_ paddingIndex: Int?, rows: Int, op: String) -> Int? {
        guard let p = paddingIndex else { return nil }
        require(p >= -rows && p < rows, "\(op): padding index \(p) is out of range for \(rows) embeddings (valid: \(-rows)..<\(rows))")
        return p < 0 ? p + rows : p
    }

    /// The indices as Ints, each checked against `rows`.
    static func indices(_ t: Tensor, rows: Int, op: String) -> [Int] {
        require(t.dtype == .int32 || t.dtype == .int64, "\(op): indices must be int32 or int64, not \(t.dtype)")
        let idx = t.integers()
        for (k, i) in idx.enumerated() where i < 0 || i >= rows {
            requirementFailure("\(op): index \(i) at position \(k) is out of range for \(rows) embeddings (valid: 0..<\(rows))")
        }
        return idx
    }

    /// gw[idx[k]] += g[k] for every k except the padding row. Rows are split over
    /// threads by destination (each thread owns a range of weight rows), so repeated
    /// indices never race.
    static func indexAdd<T: FloatElement>(_ g: UnsafePointer<T>, into gw: UnsafeMutablePointer<T>, _ idx: [Int], dim: Int, skip: Int?) {
        let rowsTotal = idx.max().map { $0 + 1 } ?? 0
        let work = idx.count * dim
        let parts = work >= 4 * Threading.elementwiseGrain ? Threading.threadCount : 1
        idx.withUnsafeBufferPointer { ix in
            Threading.parallelFor(parts, grain: 1) { pr in
                for part in pr {
                    let lo = rowsTotal * part / parts, hi = rowsTotal * (part + 1) / parts
                    for k in 0..<ix.count {
                        let row = ix[k]
                        guard row >= lo && row < hi && row != skip else { continue }
                        let d = gw + row * dim, s = g + k * dim
                        for j in 0..<dim { d[j] += s[j] }
                    }
                }
            }
        }
    }
}

/// A lookup table of `numEmbeddings` vectors of size `embeddingDim`, as `nn.Embedding`:
/// integer indices of any shape in, vectors out (shape indices.shape + [embeddingDim]).
/// Initialised N(0, 1) as PyTorch, with the padding row (if any) zero and never trained.
public final class Embedding: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    public let numEmbeddings: Int, embeddingDim: Int
    public let paddingIndex: Int?

    public init(_ numEmbeddings: Int, _ embeddingDim: Int, paddingIndex: Int? = nil, generator: RandomGenerator = .default) {
        require(numEmbeddings > 0 && embeddingDim > 0,
                "Embedding: sizes must be positive, got \(numEmbeddings) embeddings of dimension \(embeddingDim)")
        let padding = EmbeddingSupport.normalizedPadding(paddingIndex, rows: numEmbeddings, op: "Embedding(\(numEmbeddings), \(embeddingDim))")
        self.numEmbeddings = numEmbeddings
        self.embeddingDim = embeddingDim
        self.paddingIndex = padding
        var w = Tensor.normal([numEmbeddings, embeddingDim], generator: generator)
        if let padding {
            w.withUnsafeMutablePointer(as: Float.self) { p in
                for j in 0..<embeddingDim { p[padding * embeddingDim + j] = 0 }
            }
        }
        _weight = Parameter(wrappedValue: w)
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        embedding(input, weight: weight, paddingIndex: paddingIndex)
    }
}
