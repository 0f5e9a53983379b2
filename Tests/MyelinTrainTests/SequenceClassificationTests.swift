import Foundation
import Testing
import Myelin

/// The many-to-one sequence classifier (Embedding → bidirectional LSTM/GRU → pooling → Linear)
/// and its training loop, on small synthetic sequences.
@Suite struct SequenceClassificationTests {
    @Test(arguments: [(RecurrentCellKind.lstm, SequencePooling.lastState), (.gru, .mean), (.lstm, .max)])
    func shapesNamesAndPaddingInvariance(_ cell: RecurrentCellKind, _ pooling: SequencePooling) {
        let model = SequenceClassifier(vocabularySize: 12, classes: 3, embeddingSize: 5, hiddenSize: 4, layers: 2, cell: cell,
                                       pooling: pooling, dropout: 0.2, generator: RandomGenerator(seed: 1))
        model.eval()
        let tokens = Tensor([Int64(1), 2, 3, 4, 5, 6, 0, 0], shape: [2, 4], dtype: .int64)
        let logits = model(tokens, lengths: [4, 2])
        #expect(logits.shape == [2, 3])
        let names = model.namedParameters().map(\.0)
        #expect(names.first == "embedding.weight" && names.contains("encoder.rnn.weight_ih_l1_reverse") && names.last == "classifier.bias")
        // The padded second sequence scores as it does alone; a mask gives the same as lengths.
        let alone = model(Tensor([Int64(5), 6], shape: [1, 2], dtype: .int64))
        #expect((logits[1] - alone[0]).abs().max().item() < 1e-5)
        let masked = model(tokens, mask: sequenceMask(lengths: [4, 2], steps: 4))
        #expect((masked - logits).abs().max().item() == 0)
        let gates = cell == .lstm ? 4 : 3
        // Embedding + 2 bidirectional layers + Linear(8, 3).
        let expected = 12 * 5 + 2 * gates * 4 * (5 + 4 + 2) + 2 * gates * 4 * (8 + 4 + 2) + 8 * 3 + 3
        #expect(model.parameterCount == expected)
    }

    /// Class 1 holds token 1 or 2 somewhere among random words 3...15; about 35% of the examples.
    static func synthetic(_ n: Int, seed: UInt64) -> [SequenceExample] {
        let rng = RandomGenerator(seed: seed)
        return (0..<n).map { _ in
            let draws = Tensor.randint(0, 1000, [10], generator: rng).integers()
            let length = 2 + draws[0] % 7
            var tokens = (0..<length).map { 3 + draws[1 + $0] % 13 }
            let label = draws[9] % 100 < 35 ? 1 : 0
            if label == 1 { tokens[draws[8] % length] = 1 + draws[9] % 2 }
            return SequenceExample(tokens: tokens, label: label, source: "synthetic")
        }
    }

    @Test func learnsASyntheticTaskBeyondTheMajorityBaseline() {
        let train = Self.synthetic(240, seed: 2), validation = Self.synthetic(60, seed: 3), test = Self.synthetic(100, seed: 4)
        let majority = Double(test.filter { $0.label == 0 }.count) / Double(test.count)
        let model = SequenceClassifier(vocabularySize: 16, classes: 2, embeddingSize: 8, hiddenSize: 8, cell: .gru,
                                       dropout: 0.1, generator: RandomGenerator(seed: 5))
        var options = SequenceClassifierTrainingOptions()
        options.epochs = 8
        options.batchSize = 16
        options.learningRate = 0.02
        options.patience = 8
        var epochs: [SequenceClassifierEpoch] = []
        let history = trainSequenceClassifier(model, train: train, validation: validation, options: options) { epochs.append($0) }
        #expect(epochs.count == history.epochs.count && !epochs.isEmpty)
        #expect(epochs.last.map { $0.trainLoss < epochs[0].trainLoss } == true, "the training loss falls")
        let matrix = evaluateSequenceClassifier(model, test)
        #expect(matrix.total == 100)
        #expect(matrix.accuracy > majority + 0.1, "test accuracy \(matrix.accuracy) vs majority \(majority)")
        // The model holds the best epoch's weights.
        let val = evaluateSequenceClassifier(model, validation).accuracy
        #expect(abs(val - history.bestValidationAccuracy) < 1e-12)
    }
}
