import Foundation
import Myelin
import Testing

/// The Concatenate container and the ReLU6 activation (Inception, DenseNet, MobileNetV2).
@Suite struct ConcatenateTests {
    @Test func joinsBranchOutputsAlongChannels() {
        // [1, 2, 2, 2]: channel 0 holds −2, −1, 0, 1; channel 1 holds 2, 3, 4, 5.
        let x = Tensor((0..<8).map { Double($0) - 2 }, shape: [1, 2, 2, 2])
        let block = Concatenate {
            ReLU()
            Sequential { Conv2D(2, 1, 1, bias: false) }
            MaxPool2D(3, stride: 1, padding: 1)
        }
        (block[1] as? Sequential)?[0].parameters()[0].assign(Tensor([1.0, 10.0], shape: [1, 2, 1, 1]))
        let y = block(x)
        #expect(y.shape == [1, 2 + 1 + 2, 2, 2])
        #expect(y.scalars(as: Double.self) == [0, 0, 0, 1, 2, 3, 4, 5,       // ReLU
                                               18, 29, 40, 51,               // −2 + 10·2, −1 + 10·3, ...
                                               1, 1, 1, 1, 5, 5, 5, 5])      // 3×3 max over the 2×2 map
        // Children are named as Sequential's; the state dict follows.
        #expect(block.namedChildren().map(\.0) == ["0", "1", "2"])
        #expect(Set(block.stateDict().keys) == ["1.0.weight"])
        #expect(block.count == 3)
    }

    @Test func otherAxesAndNegativeAxis() {
        let x = Tensor((0..<6).map(Double.init), shape: [2, 3])
        let last = Concatenate(axis: -1, [ReLU(), Tanh()])
        #expect(last(x).shape == [2, 6])
        #expect(last(x)[0].scalars(as: Double.self).prefix(3) == [0, 1, 2])
        let rows = Concatenate(axis: 0, [ReLU(), ReLU()])
        #expect(rows(x).shape == [4, 3])
    }

    @Test func gradientsFlowIntoEveryBranch() {
        let x = randomDoubles([2, 3, 2, 2], seed: 1)
        let block = Concatenate { Tanh(); Sequential { Sigmoid(); Tanh() }; ReLU6() }
        expectGradients([x], "Concatenate over channels") { block($0[0]) * Tensor.arange(0, 9, dtype: .float64).reshaped([1, 9, 1, 1]) }
        let flat = randomDoubles([3, 4], seed: 2)
        expectGradients([flat], "Concatenate axis -1") { Concatenate(axis: -1, [Tanh(), Sigmoid()])($0[0]) }
        // Each branch's gradient lands on the shared input: d/dx sum(cat(tanh x, x²)) = 1 − tanh²x + 2x.
        let v = Tensor([1.0, -2.0, 3.0], shape: [1, 3]).to(.float64).requiringGrad()
        let y = Concatenate(axis: 1, [Tanh(), SquareLayer()])(v)
        y.sum().backward()
        let t = [1.0, -2.0, 3.0].map { 1 - Foundation.tanh($0) * Foundation.tanh($0) + 2 * $0 }
        let g = v.grad?.scalars(as: Double.self) ?? []
        #expect(zip(g, t).allSatisfy { abs($0 - $1) < 1e-12 }, "\(g) vs \(t)")
    }

    @Test func summaryTracesEveryBranch() {
        let block = Sequential {
            Concatenate {
                Conv2D(4, 2, 1)
                Sequential { Conv2D(4, 3, 3, padding: 1); ReLU() }
                MaxPool2D(3, stride: 1, padding: 1)
            }
            Conv2D(9, 1, 1)
        }
        let s = ModelSummary(block, inputShape: [4, 5, 5])
        #expect(s.outputShape == [1, 1, 5, 5])
        #expect(!s.macsIncomplete)
        #expect(s.totalMACs == 2 * 25 * 4 + 3 * 25 * 4 * 9 + 25 * 9)
        let cat = s.layers.first { $0.name == "0" }
        #expect(cat?.outputShape == [1, 9, 5, 5])
        #expect(cat?.macs == 2 * 25 * 4 + 3 * 25 * 4 * 9)
        #expect(s.layers.first { $0.name == "0.1.0" }?.outputShape == [1, 3, 5, 5])
        #expect(s.layers.first { $0.name == "0.2" }?.outputShape == [1, 4, 5, 5])
    }

    @Test func mismatchedBranchesStopWithTheirShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Concatenate { ReLU(); MaxPool2D(2) }(Tensor.zeros([1, 2, 4, 4]))
        }
        let err = stopMessage(result)
        #expect(err.contains("Concatenate(axis: 1): branch 1 gives shape [1, 2, 2, 2] but branch 0 gives [1, 2, 4, 4]"), "stderr: \(err)")
        let summary = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ModelSummary(Concatenate { ReLU(); Flatten() }, inputShape: [2, 3, 3])
        }
        let e2 = stopMessage(summary)
        #expect(e2.contains("branch 1 gives shape [1, 18] but branch 0 gives [1, 2, 3, 3]"), "stderr: \(e2)")
        let axis = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Concatenate(axis: 4, [ReLU()])(Tensor.zeros([1, 2, 3, 3]))
        }
        #expect(stopMessage(axis).contains("Concatenate: axis 4 is out of range for branch outputs of rank 4"), "stderr: \(stopMessage(axis))")
    }

    @Test func relu6ValuesAndPyTorchsGradientAtTheEnds() {
        let x = Tensor([-1.0, 0, 3, 6, 7, 5.5], shape: [6]).requiringGrad()
        let y = ReLU6()(x)
        #expect(y.scalars(as: Double.self) == [0, 0, 3, 6, 6, 5.5])
        y.sum().backward()
        // PyTorch's relu6 (hardtanh) passes the gradient strictly inside (0, 6) only.
        #expect(x.grad?.scalars(as: Double.self) == [0, 0, 1, 0, 0, 1])
        let f = Tensor([-3.0, 2, 8], shape: [3]).to(.float32)
        #expect(f.relu6().dtype == .float32 && f.relu6().scalars(as: Float.self) == [0, 2, 6])
        expectGradients([randomDoubles([3, 4], seed: 5, scale: 5)], "relu6") { $0[0].relu6() * $0[0] }
    }
}

/// x², a layer for the tests.
final class SquareLayer: Module, UnaryLayer {
    func callAsFunction(_ x: Tensor) -> Tensor { x * x }
}
