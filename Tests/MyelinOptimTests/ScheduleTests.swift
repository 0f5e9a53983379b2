import Testing
import Myelin

/// Learning-rate schedules against torch.optim.lr_scheduler over 30 steps, two parameter groups.
@Suite struct ScheduleTests {
    /// An SGD optimizer with two groups at lr 0.1 and 0.05, as the fixture script.
    static func twoGroups(momentum: Double = 0) -> SGD {
        let a = Parameter(wrappedValue: Tensor.zeros([2])), b = Parameter(wrappedValue: Tensor.zeros([2]))
        return SGD([ParamGroup([a]), ParamGroup([b], learningRate: 0.05)], learningRate: 0.1, momentum: momentum)
    }

    static func twoGroupsAdam() -> Adam {
        let a = Parameter(wrappedValue: Tensor.zeros([2])), b = Parameter(wrappedValue: Tensor.zeros([2]))
        return Adam([ParamGroup([a]), ParamGroup([b], learningRate: 0.05)], learningRate: 0.1)
    }

    /// Rows of a [steps + 1, groups] fixture.
    static func rows(_ name: String) -> [[Double]] {
        let t = Fixtures.tensor(name)
        let v = t.scalars(as: Double.self), g = t.shape[1]
        return stride(from: 0, to: v.count, by: g).map { Array(v[$0..<$0 + g]) }
    }

    /// Steps `schedule` and compares every group's lr (and optionally momentum) after each step.
    static func check(_ name: String, _ schedule: LearningRateSchedule, metrics: [Double]? = nil,
                      momentum: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let lrs = rows("sched.\(name).lr")
        let moms = momentum.map { _ in rows("sched.\(name).momentum") }
        let opt = schedule.optimizer
        for (e, expected) in lrs.enumerated() {
            if e > 0 { schedule.step(metric: metrics?[e - 1]) }
            expectClose(opt.paramGroups.map(\.learningRate), expected, "\(name) epoch \(e)", sourceLocation: sourceLocation)
            expectClose(schedule.lastLearningRates, expected, "\(name) lastLearningRates epoch \(e)", sourceLocation: sourceLocation)
            if let momentum, let moms {
                expectClose(opt.paramGroups.map { $0[momentum] ?? .nan }, moms[e], "\(name) momentum epoch \(e)",
                            sourceLocation: sourceLocation)
            }
        }
    }

    @Test func stepLR() { Self.check("step", StepLR(Self.twoGroups(), stepSize: 7, gamma: 0.5)) }
    @Test func multiStepLR() { Self.check("multistep", MultiStepLR(Self.twoGroups(), milestones: [5, 12, 12, 20], gamma: 0.3)) }
    @Test func exponentialLR() { Self.check("exponential", ExponentialLR(Self.twoGroups(), gamma: 0.9)) }
    @Test func cosineAnnealingLR() { Self.check("cosine", CosineAnnealingLR(Self.twoGroups(), tMax: 10, etaMin: 0.001)) }

    @Test func warmupCosine() {
        // The fixture's LambdaLR uses the same formula with a floor of 0.001.
        let s = WarmupCosine(Self.twoGroups(), warmupSteps: 5, totalSteps: 25, minLearningRate: 0.001)
        #expect(s.interval == .batch)
        Self.check("warmup_cosine", s)
    }

    @Test func oneCycleCyclesLearningRateAndMomentum() {
        let s = OneCycleLR(Self.twoGroups(momentum: 0.9), maxLearningRate: 1, totalSteps: 30, maxLearningRates: [1.0, 0.5])
        #expect(s.momentumOption == "momentum")
        Self.check("onecycle", s, momentum: "momentum")
    }

    @Test func oneCycleLinearThreePhaseCyclesAdamBeta1() {
        let s = OneCycleLR(Self.twoGroupsAdam(), maxLearningRate: 0.5, totalSteps: 20, pctStart: 0.25, annealing: .linear,
                           divFactor: 10, finalDivFactor: 100, threePhase: true)
        Self.check("onecycle_linear_three_phase", s, momentum: "beta1")
    }

    @Test func reduceOnPlateauMinRelative() {
        let metrics = Fixtures.tensor("sched.plateau.metrics").scalars(as: Double.self)
        let s = ReduceLROnPlateau(Self.twoGroups(), mode: .min, factor: 0.5, patience: 2, threshold: 0.01, cooldown: 1,
                                  minLearningRates: [0.01, 0.02])
        #expect(s.requiresMetric)
        Self.check("plateau_min_rel", s, metrics: metrics)
    }

    @Test func reduceOnPlateauMaxAbsolute() {
        let metrics = Fixtures.tensor("sched.plateau.metrics").scalars(as: Double.self).map { -$0 }
        let s = ReduceLROnPlateau(Self.twoGroups(), mode: .max, factor: 0.3, patience: 1, threshold: 0.05,
                                  thresholdMode: .abs, minLearningRate: 0.001)
        Self.check("plateau_max_abs", s, metrics: metrics)
    }

    @Test func lambdaLR() {
        let s = LambdaLR(Self.twoGroups()) { 1 / Double($0 + 1) }
        s.step(); s.step()
        expectClose(s.lastLearningRates, [0.1 / 3, 0.05 / 3], "lambda")
    }

    /// Saving at step 12 and restoring into fresh objects continues the exact sequence,
    /// whichever of optimizer and schedule is loaded first.
    @Test(arguments: ["cosine", "onecycle", "plateau", "step"])
    func stateRoundTripContinuesExactly(_ kind: String) throws {
        let metrics = Fixtures.tensor("sched.plateau.metrics").scalars(as: Double.self)
        func make() -> LearningRateSchedule {
            let opt = Self.twoGroups(momentum: 0.9)
            switch kind {
            case "cosine": return CosineAnnealingLR(opt, tMax: 10, etaMin: 0.001)
            case "onecycle": return OneCycleLR(opt, maxLearningRate: 1, totalSteps: 30)
            case "plateau": return ReduceLROnPlateau(opt, factor: 0.5, patience: 2, threshold: 0.01, cooldown: 1, minLearningRate: 0.01)
            default: return StepLR(opt, stepSize: 4, gamma: 0.5)
            }
        }
        let reference = make()
        var expected: [[Double]] = []
        for e in 0..<30 {
            reference.step(metric: metrics[e])
            expected.append(reference.optimizer.paramGroups.map(\.learningRate) + reference.optimizer.paramGroups.map { $0["momentum"] ?? 0 })
        }
        let first = make()
        for e in 0..<12 { first.step(metric: metrics[e]) }
        let optState = first.optimizer.stateDict(), schedState = first.stateDict()
        let resumed = make()
        try resumed.optimizer.loadStateDict(optState)
        try resumed.loadStateDict(schedState)
        for e in 12..<30 {
            resumed.step(metric: metrics[e])
            let got = resumed.optimizer.paramGroups.map(\.learningRate) + resumed.optimizer.paramGroups.map { $0["momentum"] ?? 0 }
            #expect(got == expected[e], "\(kind) epoch \(e + 1)")
        }
        // Loading the schedule before the optimizer gives the same.
        let other = make()
        try other.loadStateDict(schedState)
        try other.optimizer.loadStateDict(optState)
        other.step(metric: metrics[12])
        #expect(other.optimizer.paramGroups.map(\.learningRate) == Array(expected[12].prefix(2)))
    }

    @Test func mismatchedScheduleStateThrows() {
        let s = StepLR(Self.twoGroups(), stepSize: 3)
        var state = s.stateDict()
        state["base_lrs.2"] = 0.1
        #expect(throws: OptimizerStateError.groupCountMismatch(expected: 2, found: 3)) { try s.loadStateDict(state) }
        state = s.stateDict()
        state["best"] = 1
        #expect(throws: OptimizerStateError.unexpectedKey(key: "best", owner: "StepLR")) { try s.loadStateDict(state) }
        state = s.stateDict()
        state["last_epoch"] = nil
        #expect(throws: OptimizerStateError.missingKey(key: "last_epoch", owner: "StepLR")) { try s.loadStateDict(state) }
        let p = ReduceLROnPlateau(Self.twoGroups())
        #expect(throws: OptimizerStateError.self) { try p.loadStateDict(s.stateDict()) }
    }
}
