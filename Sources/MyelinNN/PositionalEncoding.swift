import Foundation
import MyelinCore

/// The fixed sinusoidal positional encoding of "Attention Is All You Need", added to the
/// input, then dropout: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).
///
/// The table [maxLength, dModel] is a non-persistent buffer `pe` (never trained, not in the
/// state dict: it is recomputed from the configuration). Inputs are [B, L, dModel]
/// (batch-first, the default) or [L, B, dModel].
public final class SinusoidalPositionalEncoding: Module, UnaryLayer {
    public let dModel: Int, maxLength: Int
    public let batchFirst: Bool
    public let pe: Buffer
    public let dropout: Dropout

    public init(dModel: Int, maxLength: Int = 5000, dropout: Double = 0, batchFirst: Bool = true,
                generator: RandomGenerator = .default) {
        require(dModel > 0 && maxLength > 0,
                "SinusoidalPositionalEncoding: dModel and maxLength must be positive, got \(dModel) and \(maxLength)")
        self.dModel = dModel
        self.maxLength = maxLength
        self.batchFirst = batchFirst
        pe = Buffer(wrappedValue: Self.table(length: maxLength, dModel: dModel), persistent: false)
        self.dropout = Dropout(dropout, generator: generator)
        super.init()
    }

    /// The encoding table [length, dModel] (float32), computed in double precision.
    public static func table(length: Int, dModel: Int) -> Tensor {
        var values = [Float](repeating: 0, count: length * dModel)
        for i in stride(from: 0, to: dModel, by: 2) {
            let frequency = Foundation.exp(-Double(i) * Foundation.log(10000.0) / Double(dModel))
            for pos in 0..<length {
                let angle = Double(pos) * frequency
                values[pos * dModel + i] = Float(Foundation.sin(angle))
                if i + 1 < dModel { values[pos * dModel + i + 1] = Float(Foundation.cos(angle)) }
            }
        }
        return Tensor(values, shape: [length, dModel])
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let name = "SinusoidalPositionalEncoding(dModel: \(dModel), maxLength: \(maxLength))"
        require(input.rank == 3 && input.shape[2] == dModel,
                "\(name): input of shape \(input.shape) must be \(batchFirst ? "[batch, length, \(dModel)]" : "[length, batch, \(dModel)]")")
        let length = input.shape[batchFirst ? 1 : 0]
        require(length <= maxLength, "\(name): input length \(length) exceeds the maximum length \(maxLength)")
        let rows = pe.value[0..<length].to(input.dtype.isFloatingPoint ? input.dtype : .float32)
        return dropout(input + (batchFirst ? rows : rows.reshaped([length, 1, dModel])))
    }
}

/// Learned absolute position embeddings: a trainable `weight` [maxLength, dModel] (N(0, 1) as
/// `nn.Embedding`) whose first L rows are added to a [B, L, dModel] input (batch-first, or
/// [L, B, dModel]), starting at row `offset` (for decoding step by step).
public final class LearnedPositionalEmbedding: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    public let maxLength: Int, dModel: Int
    public let batchFirst: Bool

    public init(maxLength: Int, dModel: Int, batchFirst: Bool = true, generator: RandomGenerator = .default) {
        require(maxLength > 0 && dModel > 0,
                "LearnedPositionalEmbedding: maxLength and dModel must be positive, got \(maxLength) and \(dModel)")
        self.maxLength = maxLength
        self.dModel = dModel
        self.batchFirst = batchFirst
        _weight = Parameter(wrappedValue: Tensor.normal([maxLength, dModel], generator: generator))
        super.init()
    }

    /// `input` plus the embeddings of positions offset..<offset + L.
    public func callAsFunction(_ input: Tensor, offset: Int) -> Tensor {
        let name = "LearnedPositionalEmbedding(maxLength: \(maxLength), dModel: \(dModel))"
        require(input.rank == 3 && input.shape[2] == dModel,
                "\(name): input of shape \(input.shape) must be \(batchFirst ? "[batch, length, \(dModel)]" : "[length, batch, \(dModel)]")")
        let length = input.shape[batchFirst ? 1 : 0]
        require(offset >= 0 && offset + length <= maxLength,
                "\(name): positions \(offset)..<\(offset + length) (input length \(length)) exceed the maximum length \(maxLength)")
        let rows = weight[offset..<(offset + length)]
        return input + (batchFirst ? rows : rows.reshaped([length, 1, dModel]))
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { callAsFunction(input, offset: 0) }
}
