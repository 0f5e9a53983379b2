import Foundation
import Testing
import Myelin

/// Save/restore, error reporting, frozen parameters, and convergence.
@Suite struct OptimizerStateTests {
    static let makers: [String: @Sendable ([Parameter]) -> Optimizer] = [
        "sgd": { SGD($0, learningRate: 0.1, momentum: 0.9, nesterov: true) },
        "adam": { Adam($0, learningRate: 0.01, amsgrad: true) },
        "adamw": { AdamW($0, learningRate: 0.01) },
        "rmsprop": { RMSProp($0, learningRate: 0.01, momentum: 0.5, centered: true) },
        "adagrad": { Adagrad($0, learningRate: 0.1, learningRateDecay: 0.1) },
    ]

    /// Deterministic pseudo-gradients for step `k`, different every step.
    static func setGradients(_ ps: [Parameter], step k: Int) {
        for (i, p) in ps.enumerated() {
            let n = p.value.count
            let values = (0..<n).map { j in Float(sin(Double(k * 131 + i * 17 + j) * 0.7)) }
            p.grad = Tensor(values, shape: p.shape)
        }
    }

    /// State saved after 3 steps, loaded into a fresh optimizer over fresh parameters
    /// with the same values, continues bit for bit like an uninterrupted run; the
    /// state also survives a safetensors round trip (tensors + metadata).
    @Test(arguments: makers.keys.sorted())
    func resumeIsBitExact(_ name: String) throws {
        let make = try #require(Self.makers[name])
        let reference = Fixtures.parameters()
        let refOpt = make(reference)
        for k in 0..<6 { Self.setGradients(reference, step: k); refOpt.step() }

        let first = Fixtures.parameters()
        let opt1 = make(first)
        for k in 0..<3 { Self.setGradients(first, step: k); opt1.step() }
        let saved = opt1.stateDict()
        #expect(!saved.tensors.isEmpty)
        let data = try SafeTensors.encode(saved.tensors, metadata: saved.metadata)
        let decoded = try SafeTensors.decode(data)
        let restored = try OptimizerState(tensors: decoded.tensors, metadata: decoded.metadata)

        let second = Fixtures.parameters()
        for (p, q) in zip(second, first) { p.assign(q.value) }
        let opt2 = make(second)
        try opt2.loadStateDict(restored)
        for k in 3..<6 { Self.setGradients(second, step: k); opt2.step() }
        for (i, (p, q)) in zip(second, reference).enumerated() {
            #expect(p.value.scalars(as: Float.self) == q.value.scalars(as: Float.self), "\(name) parameter \(i)")
        }
        // The optimizer that was saved is untouched by later steps of the other one, and vice versa.
        #expect(opt1.stateDict().tensors.keys.sorted() == saved.tensors.keys.sorted())
    }

    @Test func stateUsesPyTorchNames() {
        let ps = Fixtures.parameters()
        let opt = Adam(ps, learningRate: 0.01)
        Fixtures.setGradients(ps, step: 0)
        opt.step()
        let s = opt.stateDict()
        #expect(Set(s.tensors.keys) == Set((0..<3).flatMap { ["state.\($0).exp_avg", "state.\($0).exp_avg_sq"] }))
        #expect(s.scalars["state.0.step"] == 1)
        #expect(s.scalars["param_groups.0.lr"] == 0.01)
        #expect(s.scalars["param_groups.0.beta2"] == 0.999)
        #expect(s.scalars["param_groups.0.num_params"] == 3)
        let sgd = SGD(ps, learningRate: 0.1, momentum: 0.9)
        sgd.step()
        #expect(Set(sgd.stateDict().tensors.keys) == ["state.0.momentum_buffer", "state.1.momentum_buffer", "state.2.momentum_buffer"])
    }

    @Test func stateDictIsASnapshot() {
        let ps = Fixtures.parameters()
        let opt = Adam(ps, learningRate: 0.01)
        Fixtures.setGradients(ps, step: 0)
        opt.step()
        let before = opt.stateDict()
        let values = before.tensors["state.0.exp_avg"]?.scalars(as: Float.self)
        Fixtures.setGradients(ps, step: 1)
        opt.step()
        #expect(before.tensors["state.0.exp_avg"]?.scalars(as: Float.self) == values)
        #expect(opt.stateDict().tensors["state.0.exp_avg"]?.scalars(as: Float.self) != values)
    }

    @Test func mismatchedStatesThrowNamingTheProblem() throws {
        let ps = Fixtures.parameters()
        let opt = Adam(ps, learningRate: 0.01)
        Fixtures.setGradients(ps, step: 0)
        opt.step()
        let state = opt.stateDict()

        // Fewer parameters.
        let two = Adam(Array(Fixtures.parameters().prefix(2)))
        #expect(throws: OptimizerStateError.groupSizeMismatch(group: 0, expected: 2, found: 3)) { try two.loadStateDict(state) }

        // A parameter of another shape.
        var shapes = Fixtures.parameters()
        shapes[1] = Parameter(wrappedValue: Tensor.zeros([6]))
        let reshaped = Adam(shapes)
        do {
            try reshaped.loadStateDict(state)
            Issue.record("loading a mismatched shape did not throw")
        } catch let e as OptimizerStateError {
            guard case let .shapeMismatch(key, expected, found) = e else { Issue.record("wrong error \(e)"); return }
            #expect(key.hasPrefix("state.1."))
            #expect(expected == [6] && found == [5])
            #expect(e.description.contains("[6]") && e.description.contains("[5]"))
        }

        // Another optimizer's state.
        let sgd = SGD(Fixtures.parameters(), learningRate: 0.1)
        #expect(throws: OptimizerStateError.self) { try sgd.loadStateDict(state) }
        do { try sgd.loadStateDict(state) } catch { #expect("\(error)".contains("SGD")) }

        // Another number of groups.
        let grouped = Adam([ParamGroup([ps[0]]), ParamGroup([ps[1], ps[2]])])
        #expect(throws: OptimizerStateError.groupCountMismatch(expected: 2, found: 1)) { try grouped.loadStateDict(state) }

        // A failed load changes nothing.
        let fresh = Adam(Fixtures.parameters(), learningRate: 0.5)
        var bad = state
        bad.tensors["state.2.exp_avg"] = Tensor.zeros([2])
        #expect(throws: OptimizerStateError.self) { try fresh.loadStateDict(bad) }
        #expect(fresh.learningRate == 0.5)
        #expect(fresh.stateDict().tensors.isEmpty)

        // Metadata that is not a number.
        #expect(throws: OptimizerStateError.self) { try OptimizerState(tensors: [:], metadata: ["param_groups.0.lr": "fast"]) }
    }

    @Test(arguments: makers.keys.sorted())
    func frozenParametersAreNotUpdated(_ name: String) throws {
        let make = try #require(Self.makers[name])
        let ps = Fixtures.parameters()
        ps[1].requiresGrad = false
        let frozen = ps[1].value.scalars(as: Float.self)
        let trained = ps[0].value.scalars(as: Float.self)
        let opt = make(ps)
        for k in 0..<3 {
            Self.setGradients(ps, step: k)
            ps[1].grad = nil
            opt.step()
        }
        #expect(ps[1].value.scalars(as: Float.self) == frozen)
        #expect(ps[0].value.scalars(as: Float.self) != trained)
        #expect(opt.stateDict().tensors.keys.allSatisfy { !$0.hasPrefix("state.1.") })
    }

    @Test func parametersWithoutGradientsAreSkipped() {
        let ps = Fixtures.parameters()
        let opt = SGD(ps, learningRate: 0.1, weightDecay: 0.1)
        let before = ps.map { $0.value.scalars(as: Float.self) }
        opt.step()
        #expect(ps.map { $0.value.scalars(as: Float.self) } == before)
    }

    /// Adam on f(x) = sum((x - c)^2 * w), gradients from autograd, reaches the minimum c.
    @Test func adamMinimisesAQuadratic() {
        let target = Tensor([1.5, -2.0, 0.25, 3.0])
        let weights = Tensor([1.0, 10.0, 0.5, 2.0])
        let x = Parameter(wrappedValue: Tensor.zeros([4]))
        let opt = Adam([x], learningRate: 0.05)
        var loss: Float = .infinity
        for _ in 0..<1500 {
            opt.zeroGrad()
            let d = x.value - target
            let f = (d * d * weights).sum()
            f.backward()
            opt.step()
            loss = f.item()
        }
        #expect(loss < 1e-6)
        let got = x.value.scalars(as: Float.self), want = target.scalars(as: Float.self)
        for i in 0..<4 { #expect(abs(got[i] - want[i]) < 1e-3) }
    }

    @Test func sgdAndRMSPropAndAdagradDescend() {
        for make in [{ SGD($0, learningRate: 0.1, momentum: 0.9) }, { RMSProp($0, learningRate: 0.01) },
                     { Adagrad($0, learningRate: 0.5) }, { AdamW($0, learningRate: 0.05, weightDecay: 0) }] as [([Parameter]) -> Optimizer] {
            let x = Parameter(wrappedValue: Tensor([2.0, -3.0]))
            let opt = make([x])
            for _ in 0..<1000 {
                opt.zeroGrad()
                (x.value * x.value).sum().backward()
                opt.step()
            }
            #expect(x.value.scalars(as: Float.self).allSatisfy { abs($0) < 0.05 }, "\(type(of: opt))")
        }
    }

    /// A large parameter is updated by several threads; the result equals a one-thread run.
    @Test func largeParametersAreThreadCountIndependent() {
        let n = 300_000
        func run() -> [Float] {
            let p = Parameter(wrappedValue: Tensor((0..<n).map { Float(sin(Double($0))) }, shape: [n]))
            let opt = Adam([p], learningRate: 0.01, weightDecay: 0.1)
            for k in 0..<2 {
                p.grad = Tensor((0..<n).map { Float(cos(Double($0 + k))) }, shape: [n])
                opt.step()
            }
            return p.value.scalars(as: Float.self)
        }
        let parallel = run()
        let saved = Threading.threadCount
        Threading.threadCount = 1
        let serial = run()
        Threading.threadCount = saved
        #expect(parallel == serial)
    }
}
