import MyelinCore
import MyelinNN

/// RMSProp (Hinton), exactly as `torch.optim.RMSprop`:
///
///     g = grad + weight_decay * p
///     v = alpha * v + (1 - alpha) * g * g
///     avg = centered ? sqrt(v - ḡ²) with ḡ = lerp(ḡ, g, 1 - alpha) : sqrt(v);  avg += eps
///     momentum > 0 ? (buf = momentum * buf + g / avg;  p -= lr * buf) : p -= lr * g / avg
///
/// Options: "lr", "alpha", "eps", "weight_decay", "momentum", "centered" (0/1).
/// State: "step", "square_avg", "momentum_buffer" (momentum > 0), "grad_avg" (centered).
public final class RMSProp: Optimizer {
    public init(_ groups: [ParamGroup], learningRate: Double = 1e-2, alpha: Double = 0.99, eps: Double = 1e-8,
                weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false) {
        require(learningRate >= 0, "RMSProp: learning rate must be non-negative, not \(learningRate)")
        require(alpha >= 0, "RMSProp: alpha must be non-negative, not \(alpha)")
        require(eps >= 0, "RMSProp: eps must be non-negative, not \(eps)")
        require(momentum >= 0, "RMSProp: momentum must be non-negative, not \(momentum)")
        require(weightDecay >= 0, "RMSProp: weight decay must be non-negative, not \(weightDecay)")
        super.init(groups, defaults: ["lr": learningRate, "alpha": alpha, "eps": eps, "weight_decay": weightDecay,
                                      "momentum": momentum, "centered": centered ? 1 : 0])
    }

    public convenience init(_ parameters: [Parameter], learningRate: Double = 1e-2, alpha: Double = 0.99, eps: Double = 1e-8,
                            weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false) {
        self.init([ParamGroup(parameters)], learningRate: learningRate, alpha: alpha, eps: eps,
                  weightDecay: weightDecay, momentum: momentum, centered: centered)
    }

    override public var stateTensorNames: Set<String> { ["square_avg", "momentum_buffer", "grad_avg"] }
    override public var countsSteps: Bool { true }

    override public func update(_ parameter: Parameter, gradient: Tensor, group: ParamGroup, state: ParameterState) {
        switch parameter.value.dtype {
        case .float64: fused(Double.self, parameter, gradient, group, state)
        default: fused(Float.self, parameter, gradient, group, state)
        }
    }

    private func fused<T: FloatElement>(_: T.Type, _ parameter: Parameter, _ gradient: Tensor, _ group: ParamGroup, _ state: ParameterState) {
        state.step += 1
        let alphaD = group.value("alpha"), momentumD = group.value("momentum")
        let alpha = T(alphaD), w = T(1 - alphaD), eps = T(group.value("eps"))
        let wd = T(group.weightDecay), hasWD = group.weightDecay != 0
        let mu = T(momentumD), negLR = T(-group.learningRate)
        let shape = parameter.shape
        let (sq, _) = state.buffer("square_avg", shape: shape, as: T.self, initial: 0)
        let buf: UnsafeMutablePointer<T>? = momentumD > 0 ? state.buffer("momentum_buffer", shape: shape, as: T.self, initial: 0).0 : nil
        let ga: UnsafeMutablePointer<T>? = group.flag("centered") ? state.buffer("grad_avg", shape: shape, as: T.self, initial: 0).0 : nil
        gradient.withUnsafePointer(as: T.self) { g in
            parameter.updateInPlace(as: T.self) { p, n in
                Self.forEachChunk(n) { range in
                    for i in range {
                        var d = g[i]
                        if hasWD { d = d + wd * p[i] }
                        let s = sq[i] * alpha + w * d * d
                        sq[i] = s
                        var avg: T
                        if let ga {
                            let a = lerp(ga[i], d, w)
                            ga[i] = a
                            avg = (s + -1 * a * a).squareRoot()
                        } else {
                            avg = s.squareRoot()
                        }
                        avg = avg + eps
                        if let buf {
                            let b = buf[i] * mu + d / avg
                            buf[i] = b
                            p[i] = p[i] + negLR * b
                        } else {
                            p[i] = p[i] + negLR * d / avg
                        }
                    }
                }
            }
        }
    }
}
