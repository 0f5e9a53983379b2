import Foundation
import MyelinCore
import MyelinNN

/// Scales all gradients together so that their joint p-norm is at most `maxNorm`,
/// as `torch.nn.utils.clip_grad_norm_`: the norm is that of all gradients seen as
/// one vector; every gradient is multiplied by `min(1, maxNorm / (norm + 1e-6))`.
/// `normType` may be `.infinity` (the largest magnitude). Parameters without a
/// gradient are skipped. Returns the total norm before clipping (NaN or infinity
/// when a gradient is not finite, as PyTorch; the gradients are then scaled by NaN or 0).
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Double, normType: Double = 2) -> Double {
    require(normType > 0, "clipGradNorm: normType must be positive or .infinity, not \(normType)")
    require(maxNorm >= 0, "clipGradNorm: maxNorm must be non-negative, not \(maxNorm)")
    let grads = parameters.compactMap(\.grad)
    if grads.isEmpty { return 0 }
    // The norm of the per-tensor norms, as PyTorch; Double throughout, one thread so
    // the result never depends on the thread count.
    var total = 0.0
    for g in grads {
        let n: Double
        switch g.dtype {
        case .float64: n = g.withUnsafePointer(as: Double.self) { vectorNorm($0, g.count, normType) }
        case .float32: n = g.withUnsafePointer(as: Float.self) { vectorNorm($0, g.count, normType) }
        default: requirementFailure("clipGradNorm: gradient has dtype \(g.dtype), not a float type")
        }
        if n.isNaN { total = .nan } else if normType.isInfinite { total = Swift.max(total, n) } else { total += powAbs(n, normType) }
    }
    if !normType.isInfinite { total = Foundation.pow(total, 1 / normType) }
    for p in parameters {
        modifyGradient(p) { g in
            switch g.dtype {
            case .float64: scale(&g, as: Double.self, total: total, maxNorm: maxNorm)
            default: scale(&g, as: Float.self, total: total, maxNorm: maxNorm)
            }
        }
    }
    return total
}

/// Clamps every gradient element to `[-clipValue, clipValue]`, as `torch.nn.utils.clip_grad_value_`.
public func clipGradValue(_ parameters: [Parameter], clipValue: Double) {
    require(clipValue >= 0, "clipGradValue: clipValue must be non-negative, not \(clipValue)")
    for p in parameters {
        modifyGradient(p) { g in
            switch g.dtype {
            case .float64: clamp(&g, as: Double.self, clipValue)
            default: clamp(&g, as: Float.self, clipValue)
            }
        }
    }
}

/// Rewrites a parameter's gradient in place; the parameter lets go of it first,
/// so the write copies nothing unless someone else also holds the gradient.
func modifyGradient(_ p: Parameter, _ body: (inout Tensor) -> Void) {
    guard var g = p.grad else { return }
    p.grad = nil
    body(&g)
    p.grad = g
}

@inline(__always) private func powAbs(_ x: Double, _ p: Double) -> Double {
    p == 2 ? x * x : p == 1 ? Swift.abs(x) : Foundation.pow(Swift.abs(x), p)
}

private func vectorNorm<T: FloatElement>(_ x: UnsafePointer<T>, _ n: Int, _ p: Double) -> Double {
    var acc = 0.0
    if p.isInfinite {
        for i in 0..<n {
            let a = Double(x[i].magnitude)
            if a.isNaN { return .nan }
            acc = Swift.max(acc, a)
        }
        return acc
    }
    if p == 2 {
        for i in 0..<n { let a = Double(x[i]); acc += a * a }
        return acc.squareRoot()
    }
    for i in 0..<n { acc += powAbs(Double(x[i]), p) }
    return Foundation.pow(acc, 1 / p)
}

private func scale<T: FloatElement>(_ g: inout Tensor, as: T.Type, total: Double, maxNorm: Double) {
    // PyTorch computes the coefficient as a tensor of the gradients' type.
    let coef = Swift.min(T(maxNorm) / (T(total) + T(1e-6)), 1)
    if coef == 1 { return }
    let n = g.count
    g.withUnsafeMutablePointer(as: T.self) { ptr in
        for i in 0..<n { ptr[i] = ptr[i] * coef }
    }
}

private func clamp<T: FloatElement>(_ g: inout Tensor, as: T.Type, _ c: Double) {
    let hi = T(c), lo = -T(c), n = g.count
    g.withUnsafeMutablePointer(as: T.self) { ptr in
        for i in 0..<n { ptr[i] = Swift.min(Swift.max(ptr[i], lo), hi) }
    }
}
