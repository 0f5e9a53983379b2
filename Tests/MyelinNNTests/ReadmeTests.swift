import Testing
import Myelin

/// The README's examples, run as written, so the front page cannot drift from the API.
@Suite struct ReadmeTests {
    @Test func tasteTrainsOneStep() {
        manualSeed(0)
        let x = Tensor.randn([64, 784])
        let labels = Tensor.randint(0, 10, [64])

        let model = Sequential {
            Linear(784, 256); ReLU()
            Linear(256, 10)
        }
        let optimizer = SGD(model.parameters(), learningRate: 0.1, momentum: 0.9)

        let loss = crossEntropy(model(x), labels)
        loss.backward()
        optimizer.step()
        optimizer.zeroGrad()

        #expect(model.namedParameters().map(\.0) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        // The untrained loss is near ln(10); one step on the same batch lowers it.
        #expect(Swift.abs(Double(loss.item()) - 2.3026) < 0.3)
        #expect(crossEntropy(model(x), labels).item() < loss.item())
    }

    @Test func softmaxPrintsLikePyTorch() throws {
        let a = try Tensor([[1, 2, 3], [4, 5, 6]] as [[Double]])
        #expect(a.softmax(axis: 1).description == "tensor([[0.0900, 0.2447, 0.6652],\n        [0.0900, 0.2447, 0.6652]])")
    }
}
