import Testing
import Myelin

/// Each optimizer configuration against torch.optim: 3 steps with fixed gradients.
@Suite struct OptimizerParityTests {
    static let configs: [String: @Sendable ([Parameter]) -> Optimizer] = [
        "sgd_plain": { SGD($0, learningRate: 0.1) },
        "sgd_momentum": { SGD($0, learningRate: 0.1, momentum: 0.9, dampening: 0.1) },
        "sgd_nesterov": { SGD($0, learningRate: 0.1, momentum: 0.9, nesterov: true) },
        "sgd_weight_decay": { SGD($0, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01) },
        "adam": { Adam($0, learningRate: 0.01) },
        "adam_weight_decay": { Adam($0, learningRate: 0.01, betas: (0.8, 0.99), eps: 1e-6, weightDecay: 0.1) },
        "adam_amsgrad": { Adam($0, learningRate: 0.01, betas: (0.8, 0.99), amsgrad: true) },
        "adamw": { AdamW($0, learningRate: 0.01, weightDecay: 0.1) },
        "rmsprop": { RMSProp($0, learningRate: 0.01) },
        "rmsprop_centered_momentum": { RMSProp($0, learningRate: 0.01, alpha: 0.9, weightDecay: 0.01, momentum: 0.9, centered: true) },
        "adagrad": { Adagrad($0, learningRate: 0.1, learningRateDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1) },
        "adam_float64": { Adam($0, learningRate: 0.01, weightDecay: 0.1, amsgrad: true) },
        "sgd_float64": { SGD($0, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true) },
    ]

    @Test(arguments: configs.keys.sorted())
    func matchesPyTorch(_ name: String) throws {
        let make = try #require(Self.configs[name])
        let float64 = name.hasSuffix("float64")
        let params = Fixtures.parameters(dtype: float64 ? .float64 : .float32)
        let opt = make(params)
        for k in 0..<Fixtures.steps {
            Fixtures.setGradients(params, step: k)
            opt.step()
            for (i, p) in params.enumerated() {
                let expected = Fixtures.tensor("\(name).step\(k + 1).\(i)")
                #expect(p.value.dtype == expected.dtype)
                expectClose(p.value, expected, rtol: float64 ? 1e-13 : 1e-6, atol: float64 ? 1e-15 : 1e-7,
                            "\(name) step \(k + 1) parameter \(i)")
            }
        }
    }

    @Test func parametersStayLeavesAndGraphFree() {
        let params = Fixtures.parameters()
        let opt = Adam(params, learningRate: 0.01)
        Fixtures.setGradients(params, step: 0)
        opt.step()
        #expect(params.allSatisfy { $0.value.isLeaf && $0.requiresGrad })
        // The gradient is left for the caller to clear, as PyTorch.
        #expect(params.allSatisfy { $0.grad != nil })
        opt.zeroGrad()
        #expect(params.allSatisfy { $0.grad == nil })
    }

    @Test func parameterGroupsHaveTheirOwnOptions() {
        let params = Fixtures.parameters()
        // Group 0 overrides dampening, group 1 learning rate and weight decay.
        let opt = SGD([ParamGroup([params[0]], options: ["dampening": 0.1]),
                       ParamGroup([params[1], params[2]], learningRate: 0.1, weightDecay: 0.01)],
                      learningRate: 0.3, momentum: 0.9)
        #expect(opt.paramGroups[0].learningRate == 0.3)
        opt.paramGroups[0].learningRate = 0.1
        #expect(opt.paramGroups[0].weightDecay == 0)
        #expect(opt.paramGroups[1].weightDecay == 0.01)
        #expect(opt.paramGroups[1]["momentum"] == 0.9)
        for k in 0..<Fixtures.steps {
            Fixtures.setGradients(params, step: k)
            opt.step()
        }
        // Parameter 0 follows the momentum configuration, 1 and 2 the weight-decay one.
        expectClose(params[0].value, Fixtures.tensor("sgd_momentum.step3.0"), "group 0, parameter 0")
        expectClose(params[1].value, Fixtures.tensor("sgd_weight_decay.step3.1"), "group 1, parameter 1")
        expectClose(params[2].value, Fixtures.tensor("sgd_weight_decay.step3.2"), "group 1, parameter 2")
        opt.learningRate = 0.5
        #expect(opt.paramGroups.allSatisfy { $0.learningRate == 0.5 })
    }
}
