import Testing
import Myelin

/// A two-level model built from raw parameters, to test naming without any layer.
final class Affine: Module, UnaryLayer {
    @Parameter var weight = Tensor.ones([2, 3])
    @Buffer var runningMean = Tensor.zeros([3])
    let bias: Parameter? = Parameter(wrappedValue: Tensor.zeros([2]))
    func callAsFunction(_ x: Tensor) -> Tensor { matmul(x, weight, transposeB: true) + bias!.value }
}
final class Block: Module {
    let head = Affine()
    let stages: [Module] = [Affine(), Affine()]
    let missing: Affine? = nil
}

@Suite struct ModuleTests {
    @Test func namesFollowPyTorch() {
        let names = Block().namedParameters().map(\.0)
        #expect(names == ["head.weight", "head.bias", "stages.0.weight", "stages.0.bias", "stages.1.weight", "stages.1.bias"])
        #expect(Block().namedBuffers().map(\.0) == ["head.running_mean", "stages.0.running_mean", "stages.1.running_mean"])
        #expect(Module.snakeCase("weightIhL0") == "weight_ih_l0")
        #expect(Block().parameterCount == 3 * 8)
    }

    @Test func sequentialNumbersItsLayers() {
        let s = Sequential { Affine(); Affine() }
        #expect(s.namedParameters().map(\.0) == ["0.weight", "0.bias", "1.weight", "1.bias"])
        s.eval()
        #expect(s.namedModules().allSatisfy { !$0.1.training })
    }

    @Test func stateDictRoundTripAndStrictErrors() throws {
        let a = Affine(), b = Affine()
        a.$weight.assign(Tensor.full([2, 3], 7))
        try b.loadStateDict(a.stateDict())
        #expect(b.weight.scalars() == [Float](repeating: 7, count: 6))
        var bad = a.stateDict()
        bad["weight"] = Tensor.zeros([3, 3])
        bad["extra"] = Tensor.zeros([1])
        bad["bias"] = nil
        #expect(throws: StateDictReport.self) { try b.loadStateDict(bad) }
        #expect(b.weight.scalars()[0] == 7, "a failed strict load changes nothing")
        let report = try b.loadStateDict(bad, strict: false)
        #expect(report.missing == ["bias"] && report.unexpected == ["extra"] && report.mismatched.map(\.name) == ["weight"])
    }

    @Test func freezingStopsGradients() {
        let m = Affine()
        m.freeze()
        #expect(m.trainableParameters().isEmpty)
        m.unfreeze()
        #expect(m.trainableParameters().count == 2)
    }
}
