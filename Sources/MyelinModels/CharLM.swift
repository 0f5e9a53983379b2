import MyelinCore
import MyelinNN

/// The character-level language model of the lectures: Embedding(V, E) → LSTM(E, H, L
/// layers, dropout between them) → Linear(H, V), predicting each next character. Names as
/// scripts/pytorch_charlm.py ("embedding.weight", "lstm.weight_ih_l0", "decoder.bias"), so
/// weights move between the two.
public final class CharLM: Module {
    public let embedding: Embedding
    public let lstm: LSTM
    public let decoder: Linear
    public let vocabularySize: Int

    public init(vocabularySize: Int, embeddingSize: Int = 64, hiddenSize: Int = 256, layers: Int = 2, dropout: Double = 0.2,
                generator: RandomGenerator = .default) {
        require(vocabularySize > 0 && embeddingSize > 0 && hiddenSize > 0 && layers > 0,
                "CharLM: vocabulary, embedding, hidden sizes and layers must be positive")
        embedding = Embedding(vocabularySize, embeddingSize, generator: generator)
        lstm = LSTM(inputSize: embeddingSize, hiddenSize: hiddenSize, numLayers: layers, batchFirst: true, dropout: dropout,
                    generator: generator)
        decoder = Linear(hiddenSize, vocabularySize, generator: generator)
        self.vocabularySize = vocabularySize
        super.init()
    }

    /// Logits [N, T, V] for character indices [N, T] (int), from `state` (zero when nil);
    /// returns the state after the last step, to carry into the next chunk.
    public func callAsFunction(_ tokens: Tensor, state: RecurrentState? = nil) -> (logits: Tensor, state: RecurrentState) {
        require(tokens.rank == 2, "CharLM: input must be character indices [N, T], got shape \(tokens.shape)")
        let r = lstm(embedding(tokens), state: state)
        return (decoder(r.output), r.state)
    }

    /// `length` characters drawn one at a time after `prompt` (indices), with a temperature
    /// (0: always the most likely), seeded by `generator`; returns the prompt and the drawn
    /// indices. Runs in evaluation mode without gradients.
    public func generate(prompt: [Int], length: Int, temperature: Double = 1, generator: RandomGenerator = .default) -> [Int] {
        require(!prompt.isEmpty, "CharLM.generate: the prompt must have at least one character")
        require(prompt.allSatisfy { $0 >= 0 && $0 < vocabularySize }, "CharLM.generate: prompt indices must be in 0..<\(vocabularySize)")
        let wasTraining = training
        eval()
        defer { train(wasTraining) }
        var out = prompt
        withoutGradients {
            var (logits, state) = self(Tensor(prompt.map(Int64.init), shape: [1, prompt.count]))
            for _ in 0..<length {
                let next = sampleCategorical(logits: logits[0, logits.shape[1] - 1], temperature: temperature, generator: generator)
                out.append(next)
                (logits, state) = self(Tensor([Int64(next)], shape: [1, 1]), state: state)
            }
        }
        return out
    }
}
