import MyelinCore
import MyelinNN

/// Adagrad (Duchi et al.), exactly as `torch.optim.Adagrad`:
///
///     g = grad + weight_decay * p
///     clr = lr / (1 + (t - 1) * lr_decay)
///     sum += g * g;  p -= clr * g / (sqrt(sum) + eps)
///
/// Options: "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps".
/// State: "step", "sum" (starting at initial_accumulator_value).
public final class Adagrad: Optimizer {
    public init(_ groups: [ParamGroup], learningRate: Double = 1e-2, learningRateDecay: Double = 0, weightDecay: Double = 0,
                initialAccumulatorValue: Double = 0, eps: Double = 1e-10) {
        require(learningRate >= 0, "Adagrad: learning rate must be non-negative, not \(learningRate)")
        require(learningRateDecay >= 0, "Adagrad: learning-rate decay must be non-negative, not \(learningRateDecay)")
        require(weightDecay >= 0, "Adagrad: weight decay must be non-negative, not \(weightDecay)")
        require(initialAccumulatorValue >= 0, "Adagrad: initial accumulator value must be non-negative, not \(initialAccumulatorValue)")
        require(eps >= 0, "Adagrad: eps must be non-negative, not \(eps)")
        super.init(groups, defaults: ["lr": learningRate, "lr_decay": learningRateDecay, "weight_decay": weightDecay,
                                      "initial_accumulator_value": initialAccumulatorValue, "eps": eps])
    }

    public convenience init(_ parameters: [Parameter], learningRate: Double = 1e-2, learningRateDecay: Double = 0,
                            weightDecay: Double = 0, initialAccumulatorValue: Double = 0, eps: Double = 1e-10) {
        self.init([ParamGroup(parameters)], learningRate: learningRate, learningRateDecay: learningRateDecay,
                  weightDecay: weightDecay, initialAccumulatorValue: initialAccumulatorValue, eps: eps)
    }

    override public var stateTensorNames: Set<String> { ["sum"] }
    override public var countsSteps: Bool { true }

    override public func update(_ parameter: Parameter, gradient: Tensor, group: ParamGroup, state: ParameterState) {
        switch parameter.value.dtype {
        case .float64: fused(Double.self, parameter, gradient, group, state)
        default: fused(Float.self, parameter, gradient, group, state)
        }
    }

    private func fused<T: FloatElement>(_: T.Type, _ parameter: Parameter, _ gradient: Tensor, _ group: ParamGroup, _ state: ParameterState) {
        state.step += 1
        let clr = group.learningRate / (1 + (state.step - 1) * group.value("lr_decay"))
        let negCLR = T(-clr), eps = T(group.value("eps"))
        let wd = T(group.weightDecay), hasWD = group.weightDecay != 0
        let (sum, _) = state.buffer("sum", shape: parameter.shape, as: T.self, initial: group.value("initial_accumulator_value"))
        gradient.withUnsafePointer(as: T.self) { g in
            parameter.updateInPlace(as: T.self) { p, n in
                Self.forEachChunk(n) { range in
                    for i in range {
                        var d = g[i]
                        if hasWD { d = d + wd * p[i] }
                        let s = sum[i] + d * d
                        sum[i] = s
                        p[i] = p[i] + negCLR * d / (s.squareRoot() + eps)
                    }
                }
            }
        }
    }
}
