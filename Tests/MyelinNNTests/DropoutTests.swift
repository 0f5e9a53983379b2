import Testing
import Myelin

@Suite struct DropoutTests {
    @Test(arguments: [0.1, 0.5, 0.8])
    func zeroesAboutPAndScalesSurvivors(_ p: Double) {
        let layer = Dropout(p, generator: RandomGenerator(seed: 3))
        let n = 100_000
        let y = layer(Tensor.full([n], 2)).scalars(as: Double.self)
        let zeroed = Double(y.filter { $0 == 0 }.count) / Double(n)
        // Binomial standard deviation √(p(1−p)/n) < 0.0016; allow 4 of them.
        #expect(abs(zeroed - p) < 0.0065, "fraction zeroed \(zeroed) for p = \(p)")
        let scaled = 2 / (1 - p)
        #expect(y.allSatisfy { $0 == 0 || abs($0 - scaled) < 1e-5 * scaled })
        // Inverted dropout keeps the mean.
        let mean = y.reduce(0, +) / Double(n)
        #expect(abs(mean - 2) < 0.05)
    }

    @Test func gradientFollowsTheMask() throws {
        let x = Tensor.randn([50, 40]).requiringGrad()
        let y = dropout(x, p: 0.3, generator: RandomGenerator(seed: 9))
        y.sum().backward()
        let g = try #require(x.grad).scalars(), out = y.scalars(), xs = x.scalars()
        for i in g.indices {
            if out[i] == 0 && xs[i] != 0 { #expect(g[i] == 0) } else { #expect(abs(g[i] - Float(1 / 0.7)) < 1e-5) }
        }
    }

    @Test func evalModeAndEdgeProbabilities() {
        let x = Tensor.randn([4, 5])
        let layer = Dropout(0.5)
        layer.eval()
        #expect(layer(x).scalars() == x.scalars())
        #expect(Dropout(0)(x).scalars() == x.scalars())
        #expect(Dropout(1)(x).scalars().allSatisfy { $0 == 0 })
        #expect(dropout(x, p: 0.5, training: false).scalars() == x.scalars())
        // The same seed gives the same mask.
        let a = Dropout(0.5, generator: RandomGenerator(seed: 1))(x), b = Dropout(0.5, generator: RandomGenerator(seed: 1))(x)
        #expect(a.scalars() == b.scalars())
    }

    @Test func invalidProbabilityStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Dropout(1.5)
        }
        #expect(stopMessage(result).contains("Dropout: p must be in [0, 1], got 1.5"), "\(stopMessage(result))")
    }
}
