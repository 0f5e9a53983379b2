import Foundation
import Testing
import Myelin

/// The PyTorch reference values written by scripts/fixtures_optim.py.
enum Fixtures {
    static let tensors: [String: Tensor] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/optim.safetensors")
        do { return try SafeTensors.read(contentsOf: url).tensors } catch {
            fatalError("cannot read \(url.path): \(error); run scripts/fixtures_optim.py")
        }
    }()

    static func tensor(_ name: String) -> Tensor {
        guard let t = tensors[name] else { fatalError("fixture '\(name)' is missing; rerun scripts/fixtures_optim.py") }
        return t
    }

    static let parameterCount = 3
    static let steps = 3

    /// Fresh parameters with the fixture's initial values.
    static func parameters(dtype: DType = .float32) -> [Parameter] {
        (0..<parameterCount).map { Parameter(wrappedValue: tensor("params.init.\($0)").to(dtype)) }
    }

    /// Sets the fixture's gradients of step `k` on `params`.
    static func setGradients(_ params: [Parameter], step k: Int) {
        for (i, p) in params.enumerated() { p.grad = tensor("grads.\(k).\(i)").to(p.value.dtype) }
    }
}

/// Elementwise |a - b| <= rtol * |b| + atol, recording the worst offender.
func expectClose(_ a: Tensor, _ b: Tensor, rtol: Double = 1e-6, atol: Double = 1e-7, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.shape == b.shape, "\(what): shape \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    let x = a.scalars(as: Double.self), y = b.scalars(as: Double.self)
    guard x.count == y.count else { return }
    var worst = 0.0, at = -1
    for i in x.indices {
        let excess = abs(x[i] - y[i]) - (rtol * abs(y[i]) + atol)
        if excess > worst || x[i].isNaN != y[i].isNaN { worst = max(worst, excess); at = i }
    }
    #expect(at < 0, "\(what): element \(at) is \(at >= 0 ? x[at] : 0), PyTorch has \(at >= 0 ? y[at] : 0)",
            sourceLocation: sourceLocation)
}

func expectClose(_ a: [Double], _ b: [Double], rtol: Double = 1e-12, atol: Double = 1e-15, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): \(a.count) values vs \(b.count)", sourceLocation: sourceLocation)
    for (i, (x, y)) in zip(a, b).enumerated() where !(abs(x - y) <= rtol * abs(y) + atol) {
        Issue.record("\(what): value \(i) is \(x), PyTorch has \(y)", sourceLocation: sourceLocation)
        return
    }
}
