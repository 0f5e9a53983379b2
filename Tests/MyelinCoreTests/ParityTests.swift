import Foundation
import Testing
import Myelin

/// Myelin against PyTorch on fixed inputs: forward values and input gradients of
/// every core op, from Fixtures/ops.safetensors (made by scripts/make_fixtures.py).
@Suite struct ParityTests {
    static let fixtures: (tensors: [String: Tensor], cases: [Case]) = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/ops.safetensors")
        do {
            let (tensors, metadata) = try SafeTensors.read(contentsOf: url)
            let json = Data((metadata["cases"] ?? "[]").utf8)
            return (tensors, try JSONDecoder().decode([Case].self, from: json))
        } catch {
            fatalError("cannot read the parity fixtures at \(url.path): \(error)")
        }
    }()

    struct Case: Decodable, CustomTestStringConvertible, Sendable {
        let name: String
        let inputs: Int
        let tolerance: [String: Double]
        var testDescription: String { name }
    }

    /// The Myelin expression of each PyTorch case in scripts/make_fixtures.py.
    static let ops: [String: @Sendable ([Tensor]) -> Tensor] = [
        "add_broadcast": { $0[0] + $0[1] },
        "sub_broadcast": { $0[0] - $0[1] },
        "mul_broadcast": { $0[0] * $0[1] },
        "div_broadcast": { $0[0] / $0[1] },
        "add_scalar": { $0[0] + 2.5 },
        "rsub_scalar": { 1.5 - $0[0] },
        "mul_scalar": { $0[0] * -3.0 },
        "rdiv_scalar": { 2.0 / $0[0] },
        "neg": { -$0[0] },
        "pow_scalar": { $0[0].pow(2.5) },
        "pow_tensor": { pow($0[0], $0[1]) },
        "abs": { $0[0].abs() },
        "sqrt": { $0[0].sqrt() },
        "rsqrt": { $0[0].rsqrt() },
        "exp": { $0[0].exp() },
        "log": { $0[0].log() },
        "log1p": { $0[0].log1p() },
        "sin": { $0[0].sin() },
        "cos": { $0[0].cos() },
        "square": { $0[0].square() },
        "tanh": { $0[0].tanh() },
        "sigmoid": { $0[0].sigmoid() },
        "relu": { $0[0].relu() },
        "leaky_relu": { $0[0].leakyRelu(negativeSlope: 0.1) },
        "elu": { $0[0].elu(alpha: 1.5) },
        "gelu_erf": { $0[0].gelu() },
        "gelu_tanh": { $0[0].gelu(approximation: .tanh) },
        "softplus": { $0[0].softplus(beta: 2, threshold: 5) },
        "clamp": { $0[0].clamp(min: -0.5, max: 0.7) },
        "minimum": { minimum($0[0], $0[1]) },
        "maximum": { maximum($0[0], $0[1]) },
        "where": { select($0[0], $0[1], $0[2]) },
        "sum_all": { $0[0].sum() },
        "sum_axes02_keep": { $0[0].sum(axes: [0, 2], keepDims: true) },
        "mean_axis1": { $0[0].mean(axis: 1) },
        "mean_all": { $0[0].mean() },
        "max_axis1": { $0[0].max(axis: 1) },
        "min_axis0_keep": { $0[0].min(axis: 0, keepDims: true) },
        "var_unbiased_axis1": { $0[0].variance(axes: [1], unbiased: true) },
        "var_biased_all": { $0[0].variance(unbiased: false) },
        "std_unbiased_axes01": { $0[0].std(axes: [0, 1], unbiased: true) },
        "logsumexp_last": { $0[0].logSumExp(axes: [-1]) },
        "softmax_axis1": { $0[0].softmax(axis: 1) },
        "softmax_last": { $0[0].softmax(axis: -1) },
        "log_softmax_last": { $0[0].logSoftmax(axis: -1) },
        "log_softmax_axis0": { $0[0].logSoftmax(axis: 0) },
        "matmul_2d": { matmul($0[0], $0[1]) },
        "matmul_batched_broadcast": { matmul($0[0], $0[1]) },
        "matmul_vec": { matmul($0[0], $0[1]) },
        "matmul_transpose_b": { matmul($0[0], $0[1], transposeB: true) },
        "matmul_transpose_a": { matmul($0[0], $0[1], transposeA: true) },
        "reshape": { $0[0].reshaped([3, 4]) * Tensor.arange(0, 12).reshaped([3, 4]) },
        "transpose": { $0[0].transposed(0, 2) },
        "permute": { $0[0].permuted([1, 2, 0]) },
        "expand": { $0[0].expanded(to: [2, 3, 4]) },
        "concat_axis1": { Tensor.concat([$0[0], $0[1]], axis: 1) },
        "stack_axis1": { Tensor.stack([$0[0], $0[1]], axis: 1) },
        "split": { x in Tensor.concat(x[0].split(sizes: [2, 3], axis: 0).enumerated().map { $1 * Double($0 + 1) }, axis: 0) },
        "chunk": { x in Tensor.concat(x[0].chunked(3, axis: 1).enumerated().map { $1 * Double($0 + 1) }, axis: 1) },
        "slice_step": { $0[0][1..<3, .stride(1, 8, by: 3)] },
        "index_select": { $0[0].indexSelect(axis: 0, indices: $0[1]) },
        "gather": { $0[0].gather(axis: 1, indices: $0[1]) },
        "scatter_add": { $0[0].scatterAdd(axis: 1, indices: $0[1], source: $0[2]) },
        "pad": { $0[0].padded([(0, 1), (1, 2)], value: 0.5) },
        "argmax_axis1": { $0[0].argmax(axis: 1) },
        "argmin_all": { $0[0].argmin() },
        "one_hot": { $0[0].oneHot(classes: 4) },
    ]

    /// max|a − b| / max|b|: the relative error the fixtures' tolerances are stated in.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.scalars(as: Double.self), y = b.scalars(as: Double.self)
        let scale = y.map(Swift.abs).max() ?? 0
        let diff = zip(x, y).map { Swift.abs($0 - $1) }.max() ?? 0
        return diff / Swift.max(scale, 1e-30)
    }

    @Test func everyFixtureCaseHasAMyelinExpression() {
        let names = Set(Self.fixtures.cases.map(\.name))
        #expect(names.count >= 60)
        #expect(names.subtracting(Self.ops.keys).isEmpty, "cases without a Myelin expression: \(names.subtracting(Self.ops.keys).sorted())")
        #expect(Set(Self.ops.keys).subtracting(names).isEmpty, "expressions without a fixture: \(Set(Self.ops.keys).subtracting(names).sorted())")
    }

    @Test(arguments: fixtures.cases)
    func matchesPyTorch(_ c: Case) throws {
        let t = Self.fixtures.tensors
        guard let op = Self.ops[c.name] else { Issue.record("no Myelin expression for \(c.name)"); return }
        let inputs = try (0..<c.inputs).map { i -> Tensor in
            let x = try #require(t["\(c.name)/in\(i)"], "missing \(c.name)/in\(i)")
            return x.dtype.isFloatingPoint ? x.requiringGrad() : x
        }
        let expected = try #require(t["\(c.name)/out"])
        let out = op(inputs)
        #expect(out.shape == expected.shape, "\(c.name): shape \(out.shape) vs PyTorch \(expected.shape)")
        guard out.shape == expected.shape else { return }
        let tolOut = c.tolerance["out"] ?? 1e-5
        if tolOut == 0 {
            #expect(out.integers() == expected.integers(), "\(c.name): \(out) vs PyTorch \(expected)")
            return
        }
        let e = Self.relativeError(out, expected)
        #expect(e <= tolOut, "\(c.name) forward: relative error \(e) > \(tolOut)")
        guard let gout = t["\(c.name)/gout"] else { return }
        out.backward(gradient: gout)
        for (i, x) in inputs.enumerated() where x.dtype.isFloatingPoint {
            let want = try #require(t["\(c.name)/grad\(i)"])
            let got = try #require(x.grad, "\(c.name): no gradient reached input \(i)")
            #expect(got.shape == want.shape)
            let tol = c.tolerance["grad\(i)"] ?? 1e-5
            let ge = Self.relativeError(got, want)
            #expect(ge <= tol, "\(c.name) gradient of input \(i): relative error \(ge) > \(tol)")
        }
    }
}
