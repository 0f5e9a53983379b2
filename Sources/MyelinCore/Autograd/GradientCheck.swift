import Foundation

/// The outcome of `checkGradients`: the worst disagreement between the
/// analytic gradient (backward) and central finite differences.
public struct GradientCheckResult: CustomStringConvertible, Sendable {
    public var passed: Bool
    public var maxAbsoluteError: Double
    public var maxRelativeError: Double
    /// Where the worst element was: (input index, flat element index, analytic, numeric).
    public var worst: (input: Int, element: Int, analytic: Double, numeric: Double)?

    public var description: String {
        var s = "gradient check \(passed ? "passed" : "FAILED"): max abs error \(maxAbsoluteError), max rel error \(maxRelativeError)"
        if let w = worst { s += " (worst: input \(w.input) element \(w.element): analytic \(w.analytic), numeric \(w.numeric))" }
        return s
    }
}

/// Compares the gradient that backward() computes for `function` with central
/// finite differences, in float64 (inputs are converted), as PyTorch's gradcheck.
///
/// The scalar differentiated is `sum(function(inputs) * w)` for fixed pseudo-random
/// weights `w`, so every output element's gradient path is exercised with a
/// different weight. Integer inputs (indices) are passed through unchanged.
/// An element passes when |analytic − numeric| ≤ atol + rtol·|numeric|.
public func checkGradients(
    _ inputs: [Tensor], epsilon: Double = 1e-6, atol: Double = 1e-5, rtol: Double = 1e-4,
    _ function: ([Tensor]) -> Tensor
) -> GradientCheckResult {
    let xs = inputs.map { $0.dtype.isFloatingPoint ? $0.detached().to(.float64).requiringGrad() : $0 }
    // Forward once with recording to get the analytic gradients.
    let y = Autograd.withGradients { function(xs) }
    let w = Tensor((0..<y.count).map { 0.5 + sin(Double($0) * 1.618 + 0.3) }, shape: y.shape, dtype: .float64)
    func objective(_ args: [Tensor]) -> Double {
        withoutGradients { (function(args).to(.float64) * w).sum().itemDouble() }
    }
    Autograd.withGradients { (y.to(.float64) * w).sum() }.backward()

    var result = GradientCheckResult(passed: true, maxAbsoluteError: 0, maxRelativeError: 0, worst: nil)
    var worstScore = -Double.infinity
    for (k, x) in xs.enumerated() where x.dtype.isFloatingPoint {
        let analytic = x.grad?.scalars(as: Double.self) ?? [Double](repeating: 0, count: x.count)
        var probe = xs.map { $0.detached() }
        probe[k].makeUnique()
        for e in 0..<x.count {
            let original = probe[k].withUnsafePointer(as: Double.self) { $0[e] }
            probe[k].withUnsafeMutablePointer(as: Double.self) { $0[e] = original + epsilon }
            let plus = objective(probe)
            probe[k].withUnsafeMutablePointer(as: Double.self) { $0[e] = original - epsilon }
            let minus = objective(probe)
            probe[k].withUnsafeMutablePointer(as: Double.self) { $0[e] = original }
            let numeric = (plus - minus) / (2 * epsilon)
            let abs = Swift.abs(analytic[e] - numeric)
            let rel = abs / max(Swift.abs(numeric), 1e-12)
            result.maxAbsoluteError = max(result.maxAbsoluteError, abs)
            result.maxRelativeError = max(result.maxRelativeError, rel)
            let score = abs - (atol + rtol * Swift.abs(numeric))
            if score > 0 { result.passed = false }
            if score > worstScore {
                worstScore = score
                result.worst = (k, e, analytic[e], numeric)
            }
        }
    }
    return result
}
