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

    /// The options of one group, read once from its string-keyed dictionary.
    struct Options {
        let lr: Double, momentum: Double, dampening: Double, weightDecay: Double, nesterov: Bool
    }

    override public func update(_ parameter: Parameter, gradient: Tensor, group: ParamGroup, state: ParameterState) {
        let o: Options
        if let cached = group.sgdOptions {
            o = cached
        } else {
            o = Options(lr: group.learningRate, momentum: group.value("momentum"), dampening: group.value("dampening"),
                        weightDecay: group.weightDecay, nesterov: group.flag("nesterov"))
            group.sgdOptions = o
        }
        switch parameter.value.dtype {
        case .float64: fused(Double.self, parameter, gradient, o, state)
        default: fused(Float.self, parameter, gradient, o, state)
        }
    }

    private func fused<T: FloatElement>(_: T.Type, _ parameter: Parameter, _ gradient: Tensor, _ o: Options, _ state: ParameterState) {
        // Python floats become T when PyTorch passes them to a tensor op.
        let wd = T(o.weightDecay), hasWD = o.weightDecay != 0
        let mu = T(o.momentum), oneMinusDampening = T(1 - o.dampening)
        let nesterov = o.nesterov
        let negLR = T(-o.lr)
        var buffer: UnsafeMutablePointer<T>?
        var first = false
        if o.momentum != 0 {
            let (b, fresh) = state.buffer("momentum_buffer", shape: parameter.shape, as: T.self, initial: nil)
            buffer = b
            first = fresh
        }
        gradient.withUnsafePointer(as: T.self) { g in
            parameter.updateInPlace(as: T.self) { p, n in
                Self.forEachChunk(n) { range in
                    // One branch-free loop per case (the flags are loop-invariant), so each vectorises.
                    let lo = range.lowerBound, hi = range.upperBound
                    guard let buf = buffer else {
                        if hasWD {
                            for i in lo..<hi { p[i] = p[i] + negLR * (g[i] + wd * p[i]) }
                        } else {
                            for i in lo..<hi { p[i] = p[i] + negLR * g[i] }
                        }
                        return
                    }
                    if first {
                        for i in lo..<hi {
                            let d = hasWD ? g[i] + wd * p[i] : g[i]
                            buf[i] = d
                            p[i] = p[i] + negLR * (nesterov ? d + mu * d : d)
                        }
                    } else if !hasWD && !nesterov {
                        for i in lo..<hi {
                            let b = buf[i] * mu + oneMinusDampening * g[i]
                            buf[i] = b
                            p[i] = p[i] + negLR * b
                        }
                    } else {
                        for i in lo..<hi {
                            let d = hasWD ? g[i] + wd * p[i] : g[i]
                            let b = buf[i] * mu + oneMinusDampening * d
                            buf[i] = b
                            p[i] = p[i] + negLR * (nesterov ? d + mu * b : b)
                        }
                    }
                }
            }
        }
    }
}
