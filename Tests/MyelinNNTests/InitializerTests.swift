import Foundation
import Testing
import Myelin

@Suite struct InitializerTests {
    /// Sample mean and standard deviation.
    func moments(_ p: Parameter) -> (mean: Double, std: Double, maxAbs: Double) {
        let v = p.value.scalars(as: Double.self)
        let mean = v.reduce(0, +) / Double(v.count)
        let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)
        return (mean, variance.squareRoot(), v.map(abs).max() ?? 0)
    }

    @Test func gainsAreCalculateGains() {
        #expect(Init.calculateGain(.linear) == 1 && Init.calculateGain(.sigmoid) == 1)
        #expect(Init.calculateGain(.tanh) == 5.0 / 3)
        #expect(Init.calculateGain(.relu) == 2.0.squareRoot())
        #expect(abs(Init.calculateGain(.leakyRelu) - (2 / 1.0001).squareRoot()) < 1e-15)
        #expect(abs(Init.calculateGain(.leakyRelu, param: 5.0.squareRoot()) - (1.0 / 3).squareRoot()) < 1e-15)
        #expect(Init.calculateGain(.selu) == 0.75)
    }

    @Test func fansFollowPyTorch() {
        #expect(Init.fans([20, 30]) == (fanIn: 30, fanOut: 20))
        #expect(Init.fans([16, 8, 3, 3]) == (fanIn: 72, fanOut: 144))
        #expect(Init.fans([4, 2, 5]) == (fanIn: 10, fanOut: 20))
    }

    @Test func xavier() {
        let p = Parameter(wrappedValue: Tensor.zeros([200, 300]))
        Init.xavierUniform(p, gain: 2, generator: RandomGenerator(seed: 1))
        let a = 2 * (6.0 / 500).squareRoot()
        var m = moments(p)
        #expect(m.maxAbs <= a && abs(m.std - a / 3.0.squareRoot()) < 0.02 * a)
        Init.xavierNormal(p, generator: RandomGenerator(seed: 2))
        m = moments(p)
        #expect(abs(m.std - (2.0 / 500).squareRoot()) < 0.02 * (2.0 / 500).squareRoot() && abs(m.mean) < 0.002)
    }

    @Test func kaiming() {
        // A conv weight [out 32, in 16, 3, 3]: fan_in 144, fan_out 288.
        let p = Parameter(wrappedValue: Tensor.zeros([32, 16, 3, 3]))
        Init.kaimingNormal(p, mode: .fanOut, nonlinearity: .relu, generator: RandomGenerator(seed: 3))
        var m = moments(p)
        let std = 2.0.squareRoot() / 288.0.squareRoot()
        #expect(abs(m.std - std) < 0.03 * std, "\(m.std) vs \(std)")
        Init.kaimingUniform(p, generator: RandomGenerator(seed: 4))  // leaky_relu, a = 0: gain √2, fan_in
        m = moments(p)
        let bound = 3.0.squareRoot() * 2.0.squareRoot() / 144.0.squareRoot()
        #expect(m.maxAbs <= bound && m.maxAbs > 0.95 * bound && abs(m.std - bound / 3.0.squareRoot()) < 0.03 * bound)
        Init.kaimingUniform(p, a: 5.0.squareRoot(), generator: RandomGenerator(seed: 5))  // PyTorch's Linear/Conv default
        #expect(moments(p).maxAbs <= 1 / 144.0.squareRoot() + 1e-7)
    }

    @Test func constantsAndDistributionsKeepDtypeAndTrainability() {
        let p = Parameter(wrappedValue: Tensor.zeros([3, 4], dtype: .float64))
        p.requiresGrad = false
        Init.ones(p)
        #expect(p.value.dtype == .float64 && p.value.scalars(as: Double.self).allSatisfy { $0 == 1 } && !p.requiresGrad)
        Init.constant(p, 2.5)
        #expect(p.value.scalars(as: Double.self).allSatisfy { $0 == 2.5 })
        Init.zeros(p)
        #expect(p.value.scalars(as: Double.self).allSatisfy { $0 == 0 })
        Init.uniform(p, low: -1, high: 3, generator: RandomGenerator(seed: 6))
        #expect(p.value.scalars(as: Double.self).allSatisfy { $0 >= -1 && $0 < 3 })
        let q = Parameter(wrappedValue: Tensor.zeros([100, 100]))
        Init.normal(q, mean: 5, std: 0.5, generator: RandomGenerator(seed: 7))
        let m = moments(q)
        #expect(abs(m.mean - 5) < 0.02 && abs(m.std - 0.5) < 0.02 && q.requiresGrad)
    }

    @Test func worksOnLayerParameters() {
        let layer = Linear(8, 4)
        Init.kaimingNormal(layer.$weight, nonlinearity: .relu)
        if let bias = layer.bias { Init.zeros(bias) }
        #expect(layer.bias?.value.scalars() == [0, 0, 0, 0])
        #expect(layer.weight.shape == [4, 8] && layer.weight.requiresGrad)
    }

    @Test func vectorHasNoFans() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            Init.xavierUniform(Parameter(wrappedValue: Tensor.zeros([5])))
        }
        #expect(stopMessage(result).contains("Init.xavierUniform: fan in and fan out cannot be computed for a tensor of shape [5]"),
                "\(stopMessage(result))")
    }
}
