import MyelinCore
import MyelinNN

/// Stochastic gradient descent with momentum, dampening, Nesterov momentum and
/// L2 weight decay, exactly as `torch.optim.SGD`:
///
///     g = grad + weight_decay * p
///     buf = g (first step), else momentum * buf + (1 - dampening) * g
///     g = nesterov ? g + momentum * buf : buf
///     p -= lr * g
///
/// Options: "lr", "momentum", "dampening", "weight_decay", "nesterov" (0/1).
/// State: "momentum_buffer" (only when momentum is non-zero).
public final class SGD: Optimizer {
    public init(_ groups: [ParamGroup], learningRate: Double = 1e-3, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false) {
        require(learningRate >= 0, "SGD: learning rate must be non-negative, not \(learningRate)")
        require(momentum >= 0, "SGD: momentum must be non-negative, not \(momentum)")
        require(weightDecay >= 0, "SGD: weight decay must be non-negative, not \(weightDecay)")
        require(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum requires a momentum and zero dampening")
        super.init(groups, defaults: ["lr": learningRate, "momentum": momentum, "dampening": dampening,
                                      "weight_decay": weightDecay, "nesterov": nesterov ? 1 : 0])
    }

    public convenience init(_ parameters: [Parameter], learningRate: Double = 1e-3, momentum: Double = 0,
                            dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
        self.init([ParamGroup(parameters)], learningRate: learningRate, momentum: momentum, dampening: dampening,
                  weightDecay: weightDecay, nesterov: nesterov)
    }

    override public var stateTensorNames: Set<String> { ["momentum_buffer"] }

    override public func update(_ parameter: Parameter, gradient: Tensor, group: ParamGroup, state: ParameterState) {
        switch parameter.value.dtype {
        case .float64: fused(Double.self, parameter, gradient, group, state)
        default: fused(Float.self, parameter, gradient, group, state)
        }
    }

    private func fused<T: FloatElement>(_: T.Type, _ parameter: Parameter, _ gradient: Tensor, _ group: ParamGroup, _ state: ParameterState) {
        // Python floats become T when PyTorch passes them to a tensor op.
        let momentum = group.value("momentum")
        let wd = T(group.weightDecay), hasWD = group.weightDecay != 0
        let mu = T(momentum), oneMinusDampening = T(1 - group.value("dampening"))
        let nesterov = group.flag("nesterov")
        let negLR = T(-group.learningRate)
        var buf: UnsafeMutablePointer<T>?
        var first = false
        if momentum != 0 {
            let (b, fresh) = state.buffer("momentum_buffer", shape: parameter.shape, as: T.self, initial: nil)
            buf = b
            first = fresh
        }
        gradient.withUnsafePointer(as: T.self) { g in
            parameter.updateInPlace(as: T.self) { p, n in
                Self.forEachChunk(n) { range in
                    for i in range {
                        var d = g[i]
                        if hasWD { d = d + wd * p[i] }
                        if let buf {
                            let b = first ? d : buf[i] * mu + oneMinusDampening * d
                            buf[i] = b
                            d = nesterov ? d + mu * b : b
                        }
                        p[i] = p[i] + negLR * d
                    }
                }
            }
        }
    }
}
