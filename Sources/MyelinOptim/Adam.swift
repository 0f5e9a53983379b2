import Foundation
import MyelinCore
import MyelinNN

/// Adam (Kingma & Ba), exactly as `torch.optim.Adam`; AdamW is the same with
/// decoupled weight decay. Per step t, with bias corrections in Double:
///
///     g = grad (+ weight_decay * p for Adam;  p *= 1 - lr * weight_decay for AdamW)
///     m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
///     v̂ = amsgrad ? max(v̂, v) : v
///     p += -lr / (1 - beta1^t) * m / (sqrt(v̂) / sqrt(1 - beta2^t) + eps)
///
/// Options: "lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad" (0/1).
/// State: "step", "exp_avg", "exp_avg_sq", and "max_exp_avg_sq" with amsgrad.
public class Adam: Optimizer {
    /// True for AdamW: weight decay shrinks the parameter instead of joining the gradient.
    public let decoupledWeightDecay: Bool

    public init(_ groups: [ParamGroup], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false, decoupledWeightDecay: Bool = false) {
        let name = decoupledWeightDecay ? "AdamW" : "Adam"
        require(learningRate >= 0, "\(name): learning rate must be non-negative, not \(learningRate)")
        require(eps >= 0, "\(name): eps must be non-negative, not \(eps)")
        require((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "\(name): betas must lie in [0, 1), not \(betas)")
        require(weightDecay >= 0, "\(name): weight decay must be non-negative, not \(weightDecay)")
        self.decoupledWeightDecay = decoupledWeightDecay
        super.init(groups, defaults: ["lr": learningRate, "beta1": betas.0, "beta2": betas.1, "eps": eps,
                                      "weight_decay": weightDecay, "amsgrad": amsgrad ? 1 : 0])
    }

    public convenience init(_ parameters: [Parameter], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            eps: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false) {
        self.init([ParamGroup(parameters)], learningRate: learningRate, betas: betas, eps: eps,
                  weightDecay: weightDecay, amsgrad: amsgrad, decoupledWeightDecay: false)
    }

    override public var stateTensorNames: Set<String> { ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] }
    override public var countsSteps: Bool { true }

    override public func update(_ parameter: Parameter, gradient: Tensor, group: ParamGroup, state: ParameterState) {
        switch parameter.value.dtype {
        case .float64: fused(Double.self, parameter, gradient, group, state)
        default: fused(Float.self, parameter, gradient, group, state)
        }
    }

    private func fused<T: FloatElement>(_: T.Type, _ parameter: Parameter, _ gradient: Tensor, _ group: ParamGroup, _ state: ParameterState) {
        // PyTorch keeps the step in a float32 tensor; counts stay exact far beyond any run.
        state.step += 1
        let step = state.step
        let lr = group.learningRate, beta1 = group.value("beta1"), beta2 = group.value("beta2")
        let weightDecay = group.weightDecay
        let amsgrad = group.flag("amsgrad")
        let biasCorrection1 = 1 - Foundation.pow(beta1, step)
        let biasCorrection2 = 1 - Foundation.pow(beta2, step)
        let stepSize = lr / biasCorrection1
        let bc2Sqrt = T(biasCorrection2.squareRoot())
        let negStepSize = T(-stepSize), eps = T(group.value("eps"))
        let decay = weightDecay != 0 && decoupledWeightDecay, l2 = weightDecay != 0 && !decoupledWeightDecay
        let shrink = T(1 - lr * weightDecay), wd = T(weightDecay)
        let w1 = T(1 - beta1), b2 = T(beta2), w2 = T(1 - beta2)
        let shape = parameter.shape
        let (m, _) = state.buffer("exp_avg", shape: shape, as: T.self, initial: 0)
        let (v, _) = state.buffer("exp_avg_sq", shape: shape, as: T.self, initial: 0)
        let vmax: UnsafeMutablePointer<T>? = amsgrad ? state.buffer("max_exp_avg_sq", shape: shape, as: T.self, initial: 0).0 : nil
        gradient.withUnsafePointer(as: T.self) { g in
            parameter.updateInPlace(as: T.self) { p, n in
                Self.forEachChunk(n) { range in
                    for i in range {
                        var d = g[i]
                        if decay { p[i] = p[i] * shrink }
                        if l2 { d = d + wd * p[i] }
                        let mi = lerp(m[i], d, w1)
                        m[i] = mi
                        var vi = v[i] * b2
                        vi = vi + w2 * d * d
                        v[i] = vi
                        if let vmax {
                            vi = Swift.max(vmax[i], vi)
                            vmax[i] = vi
                        }
                        let denom = vi.squareRoot() / bc2Sqrt + eps
                        p[i] = p[i] + negStepSize * mi / denom
                    }
                }
            }
        }
    }
}

/// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, default 0.01 as `torch.optim.AdamW`.
public final class AdamW: Adam {
    public init(_ groups: [ParamGroup], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false) {
        super.init(groups, learningRate: learningRate, betas: betas, eps: eps, weightDecay: weightDecay,
                   amsgrad: amsgrad, decoupledWeightDecay: true)
    }

    public convenience init(_ parameters: [Parameter], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            eps: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false) {
        self.init([ParamGroup(parameters)], learningRate: learningRate, betas: betas, eps: eps,
                  weightDecay: weightDecay, amsgrad: amsgrad)
    }
}

/// PyTorch's lerp: `start + w * (end - start)` for small weights, else
/// `end - (end - start) * (1 - w)`, for accuracy at both ends.
@inline(__always)
func lerp<T: FloatElement>(_ start: T, _ end: T, _ weight: T) -> T {
    weight.magnitude < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight)
}
