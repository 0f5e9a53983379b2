import Foundation
import Testing
import Myelin

/// Small layers with PyTorch's parameter names, for state-dict tests (MyelinNN's real
/// layers live on another branch).
final class TestLinear: Module, UnaryLayer {
    @Parameter var weight: Tensor
    @Parameter var bias: Tensor
    init(_ inputs: Int, _ outputs: Int, start: Double = 0) {
        _weight = Parameter(wrappedValue: Tensor((0..<(inputs * outputs)).map { start + Double($0) / 10 }, shape: [outputs, inputs]))
        _bias = Parameter(wrappedValue: Tensor.full([outputs], start))
        super.init()
    }
    func callAsFunction(_ input: Tensor) -> Tensor { input }
}

final class TestReLU: Module, UnaryLayer {
    func callAsFunction(_ input: Tensor) -> Tensor { input }
}

final class TestBatchNorm: Module, UnaryLayer {
    @Parameter var weight: Tensor
    @Parameter var bias: Tensor
    @Buffer var runningMean: Tensor
    @Buffer var runningVar: Tensor
    @Buffer var numBatchesTracked: Tensor
    init(_ n: Int) {
        _weight = Parameter(wrappedValue: .ones([n]))
        _bias = Parameter(wrappedValue: .zeros([n]))
        _runningMean = Buffer(wrappedValue: .zeros([n]))
        _runningVar = Buffer(wrappedValue: .ones([n]))
        _numBatchesTracked = Buffer(wrappedValue: .zeros([], dtype: .int64))
        super.init()
    }
    func callAsFunction(_ input: Tensor) -> Tensor { input }
}

func makeNet(hidden: Int = 4) -> Sequential {
    Sequential([TestLinear(3, hidden), TestReLU(), TestLinear(hidden, 2, start: 1), TestBatchNorm(2)])
}

@Suite struct WeightsTests {
    @Test func loadsAPyTorchStateDictByName() throws {
        let url = fixtures.appendingPathComponent("linear.safetensors")
        let net = makeNet()
        let report = try loadWeights(into: net, from: url)
        #expect(report.isClean)
        #expect(report.loaded == ["0.bias", "0.weight", "2.bias", "2.weight", "3.bias", "3.num_batches_tracked",
                                  "3.running_mean", "3.running_var", "3.weight"])
        let file = try SafeTensors.read(contentsOf: url).tensors
        let state = net.stateDict()
        for (name, t) in file { #expect(sameBits(try #require(state[name]), t), "\(name)") }
        #expect(state["3.num_batches_tracked"]?.integers() == [1])
        #expect(state["3.num_batches_tracked"]?.dtype == .int64)
    }

    @Test func saveAndLoadRoundTrip() throws {
        let scratch = Scratch()
        let url = scratch.url("net.safetensors")
        let a = makeNet()
        try a.saveWeights(to: url)
        #expect(try SafeTensors.read(contentsOf: url).metadata == ["format": "pt"])
        let b = Sequential([TestLinear(3, 4, start: 9), TestReLU(), TestLinear(4, 2, start: 9), TestBatchNorm(2)])
        try b.loadWeights(from: url)
        #expect(Checkpoint(model: a) == Checkpoint(model: b))
        #expect(AtomicFile.leftoverTemporaries(of: url).isEmpty)
    }

    @Test func strictModeReportsEveryMismatchAndChangesNothing() throws {
        let scratch = Scratch()
        let url = scratch.url("net.safetensors")
        try saveWeights(makeNet(hidden: 4), to: url)
        let other = Sequential([TestLinear(3, 5, start: 7), TestReLU(), TestLinear(5, 2, start: 7)])
        let before = other.stateDict()
        do {
            try loadWeights(into: other, from: url)
            Issue.record("a mismatched file loaded in strict mode")
        } catch let report as StateDictReport {
            #expect(report.missing.isEmpty)
            #expect(report.unexpected == ["3.bias", "3.num_batches_tracked", "3.running_mean", "3.running_var", "3.weight"])
            #expect(report.mismatched.map(\.name) == ["0.bias", "0.weight", "2.weight"])
            #expect(report.description.contains("shape mismatch for 0.weight: the model has [5, 3], the file has [4, 3]"))
        }
        #expect(Checkpoint(model: before) == Checkpoint(model: other))
        // Lenient: what matches ("2.bias") loads, the report lists the rest.
        let report = try loadWeights(into: other, from: url, strict: false)
        #expect(report.loaded == ["2.bias"])
        #expect(other.stateDict()["2.bias"]?.scalars() == [1, 1])
    }

    @Test func corruptWeightsFileThrowsTheSafetensorsError() throws {
        let scratch = Scratch()
        let url = scratch.url("bad.safetensors")
        try Data([1, 2, 3]).write(to: url)
        #expect(throws: SafeTensors.Error.self) { try loadWeights(into: makeNet(), from: url) }
    }

    @Test(.enabled(if: pythonWithTorch != nil)) func pyTorchLoadsMyelinWeights() throws {
        let scratch = Scratch()
        let url = scratch.url("net.safetensors")
        try saveWeights(makeNet(), to: url)
        let script = """
        import sys, torch
        from safetensors.torch import load_file
        m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2), torch.nn.BatchNorm1d(2))
        print(m.load_state_dict(load_file(sys.argv[1])))
        assert m[0].weight[1, 2].item() == torch.tensor(0.5).item()
        assert m[2].bias.tolist() == [1.0, 1.0]
        print("python-ok")
        """
        #expect(try runPython(script, arguments: [url.path]).contains("python-ok"))
    }
}
