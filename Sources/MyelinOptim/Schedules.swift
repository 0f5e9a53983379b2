import Foundation
import MyelinCore
import MyelinNN

/// When a training loop steps a schedule: after every epoch or after every batch.
public enum ScheduleInterval: String, Sendable {
    case epoch, batch
}

/// Anything that sets an optimizer's learning rates as training goes:
/// `LRScheduler` subclasses and `ReduceLROnPlateau`.
public protocol LearningRateSchedule: AnyObject {
    var optimizer: Optimizer { get }
    /// When a training loop should call `step(metric:)`.
    var interval: ScheduleInterval { get set }
    /// Whether `step(metric:)` needs a metric (ReduceLROnPlateau).
    var requiresMetric: Bool { get }
    /// The learning rate of each parameter group after the last step.
    var lastLearningRates: [Double] { get }
    /// Advances the schedule one epoch or batch; `metric` is read only by schedules that watch one.
    func step(metric: Double?)
    /// Counters and values needed to continue exactly (numbers only, for checkpoint metadata).
    func stateDict() -> [String: Double]
    /// Restores `stateDict()` and sets the optimizer's learning rates to the restored
    /// schedule's, so the order in which optimizer and schedule are loaded does not matter.
    func loadStateDict(_ state: [String: Double]) throws
}

/// The base of epoch/batch-driven schedules, as `torch.optim.lr_scheduler.LRScheduler`:
/// creating one performs the initial step (epoch 0 sets the first learning rate), and
/// each `step()` advances `lastEpoch` and sets every group's learning rate. Subclasses
/// use PyTorch's recursive ("chainable") formulas, so learning rates match PyTorch's
/// to the last bit of a Double.
open class LRScheduler: LearningRateSchedule {
    public let optimizer: Optimizer
    public var interval: ScheduleInterval
    public var requiresMetric: Bool { false }
    /// The number of `step()` calls since creation, minus one (PyTorch's `last_epoch`).
    public internal(set) var lastEpoch = -1
    /// Calls to `step()`, the initial one included (PyTorch's `_step_count`).
    public internal(set) var stepCount = 0
    /// Each group's learning rate when the schedule was created (PyTorch's `base_lrs`).
    public internal(set) var baseLearningRates: [Double]
    public internal(set) var lastLearningRates: [Double] = []
    /// True during the initial step.
    var isInitial = false

    /// `baseLearningRates` defaults to the groups' current learning rates.
    public init(optimizer: Optimizer, interval: ScheduleInterval = .epoch, baseLearningRates: [Double]? = nil) {
        self.optimizer = optimizer
        self.interval = interval
        self.baseLearningRates = baseLearningRates ?? optimizer.paramGroups.map(\.learningRate)
        isInitial = true
        step()
        isInitial = false
    }

    /// Advances one epoch (or batch) and sets the optimizer's learning rates.
    public func step() {
        stepCount += 1
        lastEpoch += 1
        let lrs = learningRates()
        require(lrs.count == optimizer.paramGroups.count,
                "\(type(of: self)): the optimizer has \(optimizer.paramGroups.count) parameter groups, but the schedule was made for \(lrs.count)")
        for (g, lr) in zip(optimizer.paramGroups, lrs) { g.learningRate = lr }
        lastLearningRates = lrs
    }

    public func step(metric: Double?) { step() }

    /// The learning rates for `lastEpoch` (PyTorch's `get_lr`). Subclasses override it.
    open func learningRates() -> [Double] {
        requirementFailure("\(type(of: self)) must override learningRates()")
    }

    /// The current learning rate of each group.
    var currentLearningRates: [Double] { optimizer.paramGroups.map(\.learningRate) }

    /// Extra numbers a subclass saves beside the common counters.
    open func extraState() -> [String: Double] { [:] }
    /// Restores `extraState()`; called after the common counters are restored.
    open func loadExtraState(_ state: [String: Double]) throws {}
    /// Key prefixes of `extraState()` entries ("momentum." for "momentum.0").
    open var extraStateKeys: [String] { [] }

    public func stateDict() -> [String: Double] {
        var s = extraState()
        s["last_epoch"] = Double(lastEpoch)
        s["_step_count"] = Double(stepCount)
        for (i, lr) in baseLearningRates.enumerated() { s["base_lrs.\(i)"] = lr }
        for (i, lr) in lastLearningRates.enumerated() { s["_last_lr.\(i)"] = lr }
        return s
    }

    public func loadStateDict(_ state: [String: Double]) throws {
        let owner = String(describing: type(of: self))
        let groups = optimizer.paramGroups.count
        var base = [Double?](repeating: nil, count: groups), last = [Double?](repeating: nil, count: groups)
        var extra: [String: Double] = [:]
        for (key, value) in state {
            if key == "last_epoch" || key == "_step_count" { continue }
            if let i = Self.index(key, "base_lrs.") {
                guard i < groups else { throw OptimizerStateError.groupCountMismatch(expected: groups, found: i + 1) }
                base[i] = value
            } else if let i = Self.index(key, "_last_lr.") {
                guard i < groups else { throw OptimizerStateError.groupCountMismatch(expected: groups, found: i + 1) }
                last[i] = value
            } else if extraStateKeys.contains(where: { key.hasPrefix($0) }) {
                extra[key] = value
            } else {
                throw OptimizerStateError.unexpectedKey(key: key, owner: owner)
            }
        }
        guard let epoch = state["last_epoch"] else { throw OptimizerStateError.missingKey(key: "last_epoch", owner: owner) }
        guard let count = state["_step_count"] else { throw OptimizerStateError.missingKey(key: "_step_count", owner: owner) }
        for i in 0..<groups {
            guard base[i] != nil else { throw OptimizerStateError.missingKey(key: "base_lrs.\(i)", owner: owner) }
            guard last[i] != nil else { throw OptimizerStateError.missingKey(key: "_last_lr.\(i)", owner: owner) }
        }
        try loadExtraState(extra)
        lastEpoch = Int(epoch)
        stepCount = Int(count)
        baseLearningRates = base.compactMap { $0 }
        lastLearningRates = last.compactMap { $0 }
        for (g, lr) in zip(optimizer.paramGroups, lastLearningRates) { g.learningRate = lr }
    }

    static func index(_ key: String, _ prefix: String) -> Int? {
        guard key.hasPrefix(prefix), let i = Int(key.dropFirst(prefix.count)), i >= 0 else { return nil }
        return i
    }
}

/// Multiplies the learning rate by `gamma` every `stepSize` epochs (`StepLR`).
public final class StepLR: LRScheduler {
    public let stepSize: Int
    public let gamma: Double

    public init(_ optimizer: Optimizer, stepSize: Int, gamma: Double = 0.1, interval: ScheduleInterval = .epoch) {
        require(stepSize > 0, "StepLR: stepSize must be positive, not \(stepSize)")
        self.stepSize = stepSize
        self.gamma = gamma
        super.init(optimizer: optimizer, interval: interval)
    }

    override public func learningRates() -> [Double] {
        if lastEpoch == 0 || lastEpoch % stepSize != 0 { return currentLearningRates }
        return currentLearningRates.map { $0 * gamma }
    }
}

/// Multiplies the learning rate by `gamma` at each milestone epoch (`MultiStepLR`).
public final class MultiStepLR: LRScheduler {
    /// How many times each milestone was given (PyTorch keeps a Counter).
    public let milestones: [Int: Int]
    public let gamma: Double

    public init(_ optimizer: Optimizer, milestones: [Int], gamma: Double = 0.1, interval: ScheduleInterval = .epoch) {
        self.milestones = milestones.reduce(into: [:]) { $0[$1, default: 0] += 1 }
        self.gamma = gamma
        super.init(optimizer: optimizer, interval: interval)
    }

    override public func learningRates() -> [Double] {
        guard let n = milestones[lastEpoch] else { return currentLearningRates }
        let factor = Foundation.pow(gamma, Double(n))
        return currentLearningRates.map { $0 * factor }
    }
}

/// Multiplies the learning rate by `gamma` every epoch (`ExponentialLR`).
public final class ExponentialLR: LRScheduler {
    public let gamma: Double

    public init(_ optimizer: Optimizer, gamma: Double, interval: ScheduleInterval = .epoch) {
        self.gamma = gamma
        super.init(optimizer: optimizer, interval: interval)
    }

    override public func learningRates() -> [Double] {
        if isInitial { return currentLearningRates }
        return currentLearningRates.map { $0 * gamma }
    }
}

/// Cosine annealing from the base learning rate to `etaMin` over `tMax` epochs
/// (`CosineAnnealingLR`, SGDR without restarts; past `tMax` it rises again, as PyTorch's).
public final class CosineAnnealingLR: LRScheduler {
    public let tMax: Int
    public let etaMin: Double

    public init(_ optimizer: Optimizer, tMax: Int, etaMin: Double = 0, interval: ScheduleInterval = .epoch) {
        require(tMax > 0, "CosineAnnealingLR: tMax must be positive, not \(tMax)")
        self.tMax = tMax
        self.etaMin = etaMin
        super.init(optimizer: optimizer, interval: interval)
    }

    override public func learningRates() -> [Double] {
        if isInitial { return currentLearningRates }
        let t = Double(tMax), e = Double(lastEpoch)
        if (lastEpoch - 1 - tMax) % (2 * tMax) == 0 {
            return zip(baseLearningRates, currentLearningRates).map { base, lr in
                lr + (base - etaMin) * (1 - Foundation.cos(Double.pi / t)) / 2
            }
        }
        let ratio = (1 + Foundation.cos(Double.pi * e / t)) / (1 + Foundation.cos(Double.pi * (e - 1) / t))
        return currentLearningRates.map { ratio * ($0 - etaMin) + etaMin }
    }
}

/// Linear warm-up then cosine decay, stepped per batch: the schedule of most
/// transformer recipes (Hugging Face's `get_cosine_schedule_with_warmup`, with a floor):
///
///     step < warmup:  lr = base * (startFactor + (1 - startFactor) * step / warmup)
///     after:          lr = minLR + (base - minLR) * (1 + cos(pi * progress)) / 2,
///                     progress = min(1, (step - warmup) / (total - warmup))
public final class WarmupCosine: LRScheduler {
    public let warmupSteps: Int
    public let totalSteps: Int
    public let minLearningRate: Double
    public let warmupStartFactor: Double

    public init(_ optimizer: Optimizer, warmupSteps: Int, totalSteps: Int, minLearningRate: Double = 0,
                warmupStartFactor: Double = 0, interval: ScheduleInterval = .batch) {
        require(warmupSteps >= 0 && totalSteps > warmupSteps,
                "WarmupCosine: need 0 <= warmupSteps < totalSteps, not warmupSteps \(warmupSteps), totalSteps \(totalSteps)")
        require((0...1).contains(warmupStartFactor), "WarmupCosine: warmupStartFactor must lie in [0, 1], not \(warmupStartFactor)")
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minLearningRate = minLearningRate
        self.warmupStartFactor = warmupStartFactor
        super.init(optimizer: optimizer, interval: interval)
    }

    override public func learningRates() -> [Double] {
        let e = Double(lastEpoch)
        if lastEpoch < warmupSteps {
            let f = warmupStartFactor + (1 - warmupStartFactor) * e / Double(warmupSteps)
            return baseLearningRates.map { $0 * f }
        }
        let progress = Swift.min(1, (e - Double(warmupSteps)) / Double(totalSteps - warmupSteps))
        let c = (1 + Foundation.cos(Double.pi * progress)) / 2
        return baseLearningRates.map { minLearningRate + ($0 - minLearningRate) * c }
    }
}

/// Sets the learning rate to `base * lambda(epoch)` (`LambdaLR`). The function is not
/// part of the saved state; a resumed run must pass the same one.
public final class LambdaLR: LRScheduler {
    public let lambda: (Int) -> Double

    public init(_ optimizer: Optimizer, interval: ScheduleInterval = .epoch, lambda: @escaping (Int) -> Double) {
        self.lambda = lambda
        super.init(optimizer: optimizer, interval: interval)
    }

    override public func learningRates() -> [Double] {
        let f = lambda(lastEpoch)
        return baseLearningRates.map { $0 * f }
    }
}

/// The 1cycle policy (Smith & Topin), stepped per batch, as `torch.optim.lr_scheduler.OneCycleLR`:
/// the learning rate rises from `maxLR / divFactor` to `maxLR` over `pctStart` of the steps,
/// then falls to `maxLR / divFactor / finalDivFactor`; with `cycleMomentum` the momentum
/// (SGD, RMSProp) or beta1 (Adam) moves inversely between `maxMomentum` and `baseMomentum`.
public final class OneCycleLR: LRScheduler {
    public enum Annealing: String, Sendable { case cos, linear }

    /// A phase's end step and where lr and momentum start and end, as indices into `Limits`.
    struct Phase { let endStep: Double; let startLR, endLR, startMomentum, endMomentum: Int }
    /// Per group: [initial lr, max lr, min lr, max momentum, base momentum].
    typealias Limits = [Double]
    static let initialLR = 0, maxLR = 1, minLR = 2, maxMom = 3, baseMom = 4

    public let totalSteps: Int
    public let annealing: Annealing
    /// The optimizer option cycled: "momentum" or "beta1"; nil without momentum cycling.
    public let momentumOption: String?
    let phases: [Phase]
    let limits: [Limits]

    /// `maxLearningRates` (one per group) overrides `maxLearningRate` when given.
    public init(_ optimizer: Optimizer, maxLearningRate: Double, totalSteps: Int, maxLearningRates: [Double]? = nil,
                pctStart: Double = 0.3, annealing: Annealing = .cos, cycleMomentum: Bool = true,
                baseMomentum: Double = 0.85, maxMomentum: Double = 0.95, divFactor: Double = 25,
                finalDivFactor: Double = 1e4, threePhase: Bool = false, interval: ScheduleInterval = .batch) {
        let groups = optimizer.paramGroups.count
        require(totalSteps > 0, "OneCycleLR: totalSteps must be positive, not \(totalSteps)")
        require((0...1).contains(pctStart), "OneCycleLR: pctStart must lie in [0, 1], not \(pctStart)")
        require(maxLearningRates == nil || maxLearningRates?.count == groups,
                "OneCycleLR: \(maxLearningRates?.count ?? 0) maxLearningRates for \(groups) parameter groups")
        let maxLRs = maxLearningRates ?? Array(repeating: maxLearningRate, count: groups)
        let total = Double(totalSteps)
        let (i, m, lo, mm, bm) = (Self.initialLR, Self.maxLR, Self.minLR, Self.maxMom, Self.baseMom)
        if threePhase {
            phases = [
                Phase(endStep: pctStart * total - 1, startLR: i, endLR: m, startMomentum: mm, endMomentum: bm),
                Phase(endStep: 2 * pctStart * total - 2, startLR: m, endLR: i, startMomentum: bm, endMomentum: mm),
                Phase(endStep: total - 1, startLR: i, endLR: lo, startMomentum: mm, endMomentum: mm),
            ]
        } else {
            phases = [
                Phase(endStep: pctStart * total - 1, startLR: i, endLR: m, startMomentum: mm, endMomentum: bm),
                Phase(endStep: total - 1, startLR: m, endLR: lo, startMomentum: bm, endMomentum: mm),
            ]
        }
        var limits: [Limits] = []
        var initialLRs: [Double] = []
        for maxLR in maxLRs {
            let initial = maxLR / divFactor
            limits.append([initial, maxLR, initial / finalDivFactor, maxMomentum, baseMomentum])
            initialLRs.append(initial)
        }
        self.limits = limits
        var key: String? = nil
        if cycleMomentum {
            key = optimizer.defaults["momentum"] != nil ? "momentum" : optimizer.defaults["beta1"] != nil ? "beta1" : nil
            require(key != nil, "OneCycleLR: \(type(of: optimizer)) has no momentum or beta1 to cycle; pass cycleMomentum: false")
            for g in optimizer.paramGroups { g.options[key ?? "momentum"] = maxMomentum }
        }
        self.momentumOption = key
        self.totalSteps = totalSteps
        self.annealing = annealing
        super.init(optimizer: optimizer, interval: interval, baseLearningRates: initialLRs)
    }

    private func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        switch annealing {
        case .cos: end + (start - end) / 2 * (Foundation.cos(Double.pi * pct) + 1)
        case .linear: (end - start) * pct + start
        }
    }

    override public func learningRates() -> [Double] {
        require(lastEpoch <= totalSteps, "OneCycleLR: tried to step \(lastEpoch) times; the specified number of total steps is \(totalSteps)")
        let stepNum = Double(lastEpoch)
        var lrs: [Double] = []
        for (g, lim) in zip(optimizer.paramGroups, limits) {
            var start = 0.0
            for (i, phase) in phases.enumerated() {
                if stepNum <= phase.endStep || i == phases.count - 1 {
                    let pct = (stepNum - start) / (phase.endStep - start)
                    lrs.append(anneal(lim[phase.startLR], lim[phase.endLR], pct))
                    if let key = momentumOption {
                        g[key] = anneal(lim[phase.startMomentum], lim[phase.endMomentum], pct)
                    }
                    break
                }
                start = phase.endStep
            }
        }
        return lrs
    }

    override public var extraStateKeys: [String] { ["momentum."] }

    override public func extraState() -> [String: Double] {
        guard let key = momentumOption else { return [:] }
        var s: [String: Double] = [:]
        for (i, g) in optimizer.paramGroups.enumerated() { s["momentum.\(i)"] = g[key] }
        return s
    }

    override public func loadExtraState(_ state: [String: Double]) throws {
        guard let key = momentumOption else { return }
        for (i, g) in optimizer.paramGroups.enumerated() {
            if let m = state["momentum.\(i)"] { g[key] = m }
        }
    }
}

/// Cuts the learning rate by `factor` when a metric has stopped improving for
/// `patience` epochs, as `torch.optim.lr_scheduler.ReduceLROnPlateau`. Step it with
/// `step(metric:)` after each validation.
public final class ReduceLROnPlateau: LearningRateSchedule {
    public enum Mode: String, Sendable { case min, max }
    public enum ThresholdMode: String, Sendable { case rel, abs }

    public let optimizer: Optimizer
    public var interval: ScheduleInterval = .epoch
    public var requiresMetric: Bool { true }
    public let mode: Mode
    public let factor: Double
    public let patience: Int
    public let threshold: Double
    public let thresholdMode: ThresholdMode
    public let cooldown: Int
    public let minLearningRates: [Double]
    /// Reductions smaller than this are skipped.
    public let eps: Double

    public private(set) var best: Double
    public private(set) var numBadEpochs = 0
    public private(set) var cooldownCounter = 0
    public private(set) var lastEpoch = 0
    public private(set) var lastLearningRates: [Double]

    public init(_ optimizer: Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .rel, cooldown: Int = 0,
                minLearningRate: Double = 0, minLearningRates: [Double]? = nil, eps: Double = 1e-8) {
        require(factor < 1, "ReduceLROnPlateau: factor must be < 1, not \(factor)")
        let groups = optimizer.paramGroups.count
        require(minLearningRates == nil || minLearningRates?.count == groups,
                "ReduceLROnPlateau: expected \(groups) minLearningRates, got \(minLearningRates?.count ?? 0)")
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minLearningRates = minLearningRates ?? Array(repeating: minLearningRate, count: groups)
        self.eps = eps
        self.best = mode == .min ? .infinity : -.infinity
        self.lastLearningRates = optimizer.paramGroups.map(\.learningRate)
    }

    public var inCooldown: Bool { cooldownCounter > 0 }

    func isBetter(_ a: Double, than best: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .rel): a < best * (1 - threshold)
        case (.min, .abs): a < best - threshold
        case (.max, .rel): a > best * (threshold + 1)
        case (.max, .abs): a > best + threshold
        }
    }

    /// Records one epoch's metric and reduces the learning rates if it has plateaued.
    public func step(metric: Double) {
        lastEpoch += 1
        if isBetter(metric, than: best) {
            best = metric
            numBadEpochs = 0
        } else {
            numBadEpochs += 1
        }
        if inCooldown {
            cooldownCounter -= 1
            numBadEpochs = 0
        }
        if numBadEpochs > patience {
            for (i, g) in optimizer.paramGroups.enumerated() where i < minLearningRates.count {
                let old = g.learningRate
                let new = Swift.max(old * factor, minLearningRates[i])
                if old - new > eps { g.learningRate = new }
            }
            cooldownCounter = cooldown
            numBadEpochs = 0
        }
        lastLearningRates = optimizer.paramGroups.map(\.learningRate)
    }

    public func step(metric: Double?) {
        guard let metric else { requirementFailure("ReduceLROnPlateau.step: a metric is required (e.g. the validation loss)") }
        step(metric: metric)
    }

    public func stateDict() -> [String: Double] {
        var s: [String: Double] = ["best": best, "num_bad_epochs": Double(numBadEpochs),
                                   "cooldown_counter": Double(cooldownCounter), "last_epoch": Double(lastEpoch)]
        for (i, lr) in lastLearningRates.enumerated() { s["_last_lr.\(i)"] = lr }
        return s
    }

    public func loadStateDict(_ state: [String: Double]) throws {
        let owner = "ReduceLROnPlateau"
        let groups = optimizer.paramGroups.count
        var last = [Double?](repeating: nil, count: groups)
        for (key, value) in state {
            if ["best", "num_bad_epochs", "cooldown_counter", "last_epoch"].contains(key) { continue }
            guard let i = LRScheduler.index(key, "_last_lr.") else { throw OptimizerStateError.unexpectedKey(key: key, owner: owner) }
            guard i < groups else { throw OptimizerStateError.groupCountMismatch(expected: groups, found: i + 1) }
            last[i] = value
        }
        for key in ["best", "num_bad_epochs", "cooldown_counter", "last_epoch"] where state[key] == nil {
            throw OptimizerStateError.missingKey(key: key, owner: owner)
        }
        for i in 0..<groups where last[i] == nil { throw OptimizerStateError.missingKey(key: "_last_lr.\(i)", owner: owner) }
        best = state["best"] ?? best
        numBadEpochs = Int(state["num_bad_epochs"] ?? 0)
        cooldownCounter = Int(state["cooldown_counter"] ?? 0)
        lastEpoch = Int(state["last_epoch"] ?? 0)
        lastLearningRates = last.compactMap { $0 }
        for (g, lr) in zip(optimizer.paramGroups, lastLearningRates) { g.learningRate = lr }
    }
}
