import Testing
import Myelin

@Suite struct ActivationTests {
    static let layers: [String: @Sendable () -> any UnaryLayer] = [
        "relu": { ReLU() }, "leaky_relu": { LeakyReLU(negativeSlope: 0.2) }, "elu": { ELU(alpha: 1.5) },
        "sigmoid": { Sigmoid() }, "tanh": { Tanh() }, "gelu": { GELU() }, "gelu_tanh": { GELU(approximation: .tanh) },
        "softmax": { Softmax(axis: 0) }, "log_softmax": { LogSoftmax(axis: -1) },
    ]

    /// Each activation after a Linear (as the fixtures build it), so SGD has parameters to train.
    @Test(arguments: layers.keys.sorted())
    func matchesPyTorch(_ name: String) throws {
        let make = try #require(Self.layers[name])
        try checkLayerCase("act_\(name)", Sequential { Linear(5, 4); make() })
    }

    @Test(arguments: layers.keys.sorted())
    func gradientCheck(_ name: String) throws {
        let make = try #require(Self.layers[name])
        // Away from the kinks at 0, where finite differences straddle two slopes.
        let r = randomDoubles([3, 4], seed: 11)
        let x = select(r .>= 0, r + 0.1, r - 0.1)
        let layer = make()
        expectGradients([x], name) { layer($0[0]) }
    }

    @Test func layersAreParameterFreeAndChain() {
        let model = Sequential { ReLU(); LeakyReLU(); ELU(); Sigmoid(); Tanh(); GELU(); Softmax(); LogSoftmax() }
        #expect(model.parameterCount == 0 && model.count == 8)
        let x = Tensor([-2.0, -0.5, 0, 0.5, 2], shape: [1, 5])
        #expect(ReLU()(x).scalars() == [0, 0, 0, 0.5, 2])
        #expect(LeakyReLU(negativeSlope: 0.1)(x).scalars() == [-0.2, -0.05, 0, 0.5, 2])
        let y = model(x)
        #expect(y.shape == [1, 5] && y.scalars().allSatisfy { $0 < 0 && $0.isFinite })
    }
}
