import MyelinCore
import MyelinNN

/// Which recurrent cell a `SequenceClassifier` runs.
public enum RecurrentCellKind: String, Sendable, Codable, CaseIterable {
    case lstm, gru
}

/// Many-to-one classification of word sequences: Embedding(V, E) → bidirectional LSTM or GRU
/// (H units per direction, 1–2 layers, batch-first) → a summary of each sequence over its
/// real steps (both directions' last states, or mean/max pooling; see `SequenceEncoder`) →
/// dropout → Linear(D·H, classes). Names: "embedding.weight", "encoder.rnn.weight_ih_l0",
/// "encoder.rnn.weight_ih_l0_reverse", "classifier.weight".
public final class SequenceClassifier: Module {
    public let embedding: Embedding
    public let encoder: SequenceEncoder
    public let dropout: Dropout
    public let classifier: Linear
    public let vocabularySize: Int, classes: Int

    public init(vocabularySize: Int, classes: Int, embeddingSize: Int = 64, hiddenSize: Int = 64, layers: Int = 1,
                cell: RecurrentCellKind = .lstm, bidirectional: Bool = true, pooling: SequencePooling = .lastState,
                dropout: Double = 0.3, recurrentDropout: Double = 0, generator: RandomGenerator = .default) {
        require(vocabularySize > 0 && classes >= 2 && embeddingSize > 0 && hiddenSize > 0 && layers >= 1,
                "SequenceClassifier: vocabularySize, embeddingSize, hiddenSize and layers must be positive and classes at least 2, "
                    + "got \(vocabularySize), \(embeddingSize), \(hiddenSize), \(layers) and \(classes)")
        require(pooling != .sequence, "SequenceClassifier: pooling must summarise the sequence (lastState, mean or max), not .sequence")
        embedding = Embedding(vocabularySize, embeddingSize, generator: generator)
        let rnn: RecurrentLayer = switch cell {
        case .lstm: LSTM(inputSize: embeddingSize, hiddenSize: hiddenSize, numLayers: layers, batchFirst: true,
                         dropout: recurrentDropout, bidirectional: bidirectional, generator: generator)
        case .gru: GRU(inputSize: embeddingSize, hiddenSize: hiddenSize, numLayers: layers, batchFirst: true,
                       dropout: recurrentDropout, bidirectional: bidirectional, generator: generator)
        }
        encoder = SequenceEncoder(rnn, pooling: pooling)
        self.dropout = Dropout(dropout, generator: generator)
        classifier = Linear(hiddenSize * (bidirectional ? 2 : 1), classes, generator: generator)
        self.vocabularySize = vocabularySize
        self.classes = classes
        super.init()
    }

    /// Logits [N, classes] for word indices [N, T] (int); `lengths` or `mask` ([N, T], true =
    /// a real word) mark the padding, which the recurrence and the pooling skip.
    public func callAsFunction(_ tokens: Tensor, lengths: [Int]? = nil, mask: Tensor? = nil) -> Tensor {
        require(tokens.rank == 2, "SequenceClassifier: input must be word indices [N, T], got shape \(tokens.shape)")
        let summary = encoder(embedding(tokens), lengths: lengths, mask: mask)
        return classifier(dropout(summary))
    }
}
