import MyelinCore
import MyelinNN

/// Parameters that share hyper-parameters: PyTorch's `param_groups` entry.
///
/// Hyper-parameters are numbers under PyTorch's names ("lr", "weight_decay",
/// "momentum", "beta1", ...; flags are 0 or 1), so schedules and checkpoints
/// treat every optimizer alike. Options a group leaves out come from the
/// optimizer's defaults when the group is added.
public final class ParamGroup {
    public let parameters: [Parameter]
    public var options: [String: Double] { didSet { sgdOptions = nil } }
    /// SGD's options read once from `options` (string-keyed) and kept until they change.
    var sgdOptions: SGD.Options?

    public init(_ parameters: [Parameter], learningRate: Double? = nil, weightDecay: Double? = nil,
                options: [String: Double] = [:]) {
        self.parameters = parameters
        var o = options
        if let learningRate { o["lr"] = learningRate }
        if let weightDecay { o["weight_decay"] = weightDecay }
        self.options = o
    }

    public subscript(option: String) -> Double? {
        get { options[option] }
        set { options[option] = newValue }
    }

    public var learningRate: Double {
        get { options["lr"] ?? 0 }
        set { options["lr"] = newValue }
    }

    public var weightDecay: Double {
        get { options["weight_decay"] ?? 0 }
        set { options["weight_decay"] = newValue }
    }

    func value(_ key: String) -> Double { options[key] ?? 0 }
    func flag(_ key: String) -> Bool { (options[key] ?? 0) != 0 }
}

/// The per-parameter state of an optimizer (moment estimates, step count).
/// Created at the first step that sees a gradient for the parameter, as PyTorch does.
public final class ParameterState {
    /// Steps taken for this parameter (Adam, RMSProp and Adagrad count them).
    public internal(set) var step: Double = 0
    /// The buffers in creation order. A short array searched by name (an optimizer keeps
    /// one to three, with names short enough to compare inline) costs less per step than
    /// hashing the name into a dictionary.
    var slots: [(name: String, tensor: Tensor)] = []

    /// Named buffers, PyTorch's names: "exp_avg", "momentum_buffer", "sum", ...
    public internal(set) var tensors: [String: Tensor] {
        get { Dictionary(slots.map { ($0.name, $0.tensor) }, uniquingKeysWith: { _, last in last }) }
        set { slots = newValue.sorted { $0.key < $1.key }.map { (name: $0.key, tensor: $0.value) } }
    }

    init() {}

    /// A pointer to buffer `name`, created with `shape` (filled with `initial`, or left
    /// uninitialised when `initial` is nil) if missing. `fresh` is true when just created.
    /// The pointer stays valid until the buffer is replaced or the state is dropped.
    func buffer<T: FloatElement>(_ name: String, shape: [Int], as type: T.Type, initial: Double?) -> (UnsafeMutablePointer<T>, fresh: Bool) {
        var index = -1
        for i in slots.indices where slots[i].name == name { index = i; break }
        var fresh = false
        if index < 0 {
            let t = initial.map { Tensor.full(shape, $0, dtype: T.dtype) } ?? Tensor(uninitializedShape: shape, dtype: T.dtype)
            slots.append((name: name, tensor: t))
            index = slots.count - 1
            fresh = true
        }
        // Copy-on-write: a state dict handed out earlier keeps its own values.
        slots[index].tensor.makeUnique()
        return (slots[index].tensor.storage.pointer(as: T.self), fresh)
    }
}

/// An optimizer's state as named tensors and numbers, ready for a checkpoint
/// (tensors in safetensors, numbers in its metadata).
///
/// Names follow PyTorch's `state_dict()` flattened: tensors "state.<i>.exp_avg",
/// "state.<i>.momentum_buffer"; numbers "state.<i>.step", "param_groups.<g>.lr",
/// "param_groups.<g>.num_params". `i` counts parameters across groups from 0.
public struct OptimizerState: Sendable {
    public var tensors: [String: Tensor]
    public var scalars: [String: Double]

    public init(tensors: [String: Tensor] = [:], scalars: [String: Double] = [:]) {
        self.tensors = tensors
        self.scalars = scalars
    }

    /// The numbers as strings (safetensors metadata). Swift prints the shortest
    /// form that reads back to the same Double, so the round trip is exact.
    public var metadata: [String: String] { scalars.mapValues { "\($0)" } }

    /// Rebuilds a state from tensors and string metadata; throws on a value that is not a number.
    public init(tensors: [String: Tensor], metadata: [String: String]) throws {
        var scalars: [String: Double] = [:]
        for (k, v) in metadata {
            guard let d = Double(v) else { throw OptimizerStateError.invalidValue(key: k, reason: "'\(v)' is not a number") }
            scalars[k] = d
        }
        self.init(tensors: tensors, scalars: scalars)
    }
}

/// A saved optimizer or schedule state that does not fit the object it is loaded into.
public enum OptimizerStateError: Error, CustomStringConvertible, Equatable {
    case groupCountMismatch(expected: Int, found: Int)
    case groupSizeMismatch(group: Int, expected: Int, found: Int)
    case shapeMismatch(key: String, expected: [Int], found: [Int])
    case parameterIndexOutOfRange(key: String, parameterCount: Int)
    case unexpectedKey(key: String, owner: String)
    case missingKey(key: String, owner: String)
    case invalidValue(key: String, reason: String)

    public var description: String {
        switch self {
        case let .groupCountMismatch(expected, found):
            "optimizer state has \(found) parameter groups, but the optimizer has \(expected); build the optimizer with the same groups as the saved run"
        case let .groupSizeMismatch(group, expected, found):
            "optimizer state's parameter group \(group) has \(found) parameters, but the optimizer's has \(expected); the model differs from the saved one"
        case let .shapeMismatch(key, expected, found):
            "optimizer state '\(key)' has shape \(found), but the parameter has shape \(expected); the model differs from the saved one"
        case let .parameterIndexOutOfRange(key, count):
            "optimizer state '\(key)' names a parameter beyond the optimizer's \(count) parameters"
        case let .unexpectedKey(key, owner):
            "state entry '\(key)' is not known to \(owner); was it saved by a different optimizer or schedule?"
        case let .missingKey(key, owner):
            "state for \(owner) lacks '\(key)'"
        case let .invalidValue(key, reason):
            "state entry '\(key)' is invalid: \(reason)"
        }
    }
}

/// The base of every optimizer: parameter groups, per-parameter state, a
/// fused in-place update per parameter, and an exact state save/restore.
///
/// A step skips parameters that are frozen (`requiresGrad == false`) or have
/// no gradient, as PyTorch skips `grad is None`. Updates write the parameters'
/// storage in place through raw pointers: no temporaries, no graph.
open class Optimizer {
    public private(set) var paramGroups: [ParamGroup] = []
    /// Hyper-parameters every group starts from, under PyTorch's names.
    public let defaults: [String: Double]
    /// Per-parameter state, indexed across groups; nil until the first update.
    public private(set) var states: [ParameterState?] = []

    /// `defaults` must hold every option the optimizer reads (including "lr").
    public init(_ groups: [ParamGroup], defaults: [String: Double]) {
        self.defaults = defaults
        for g in groups { addParamGroup(g) }
    }

    /// Adds parameters with their own options (PyTorch's `add_param_group`).
    public func addParamGroup(_ group: ParamGroup) {
        let name = String(describing: type(of: self))
        for key in group.options.keys {
            require(defaults[key] != nil, "\(name): unknown option '\(key)' in a parameter group (known: \(defaults.keys.sorted()))")
        }
        for (k, v) in defaults where group.options[k] == nil { group.options[k] = v }
        let existing = Set(parameters.map { ObjectIdentifier($0) })
        require(group.parameters.allSatisfy { !existing.contains(ObjectIdentifier($0)) },
                "\(name): a parameter appears in more than one parameter group")
        paramGroups.append(group)
        states += Array(repeating: nil, count: group.parameters.count)
    }

    /// Every parameter, in state-index order.
    public var parameters: [Parameter] { paramGroups.flatMap(\.parameters) }

    /// The first group's learning rate; setting it sets every group's.
    public var learningRate: Double {
        get { paramGroups.first?.learningRate ?? defaults["lr"] ?? 0 }
        set { paramGroups.forEach { $0.learningRate = newValue } }
    }

    /// Clears every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for g in paramGroups { for p in g.parameters { p.zeroGrad() } }
    }

    /// Applies one update to every trainable parameter that has a gradient.
    public func step() {
        var index = 0
        for group in paramGroups {
            for p in group.parameters {
                defer { index += 1 }
                let value = p.value
                guard value.requiresGrad, var g = value.grad else { continue }
                require(g.shape == value.shape,
                        "\(type(of: self)).step: gradient of parameter \(index) has shape \(g.shape), but the parameter has shape \(value.shape)")
                if g.dtype != value.dtype { g = g.detached().to(value.dtype) }
                let state: ParameterState
                if let s = states[index] { state = s } else { state = ParameterState(); states[index] = state }
                update(p, gradient: g, group: group, state: state)
            }
        }
    }

    /// The fused update of one parameter. Subclasses override it.
    open func update(_ parameter: Parameter, gradient: Tensor, group: ParamGroup, state: ParameterState) {
        requirementFailure("\(type(of: self)) must override update(_:gradient:group:state:)")
    }

    /// The buffer names this optimizer keeps per parameter (for checking loaded states).
    open var stateTensorNames: Set<String> { [] }
    /// Whether the optimizer counts steps per parameter ("state.<i>.step").
    open var countsSteps: Bool { false }

    // MARK: State

    /// Everything needed to continue exactly: buffers, step counts, group options.
    public func stateDict() -> OptimizerState {
        var out = OptimizerState()
        for (gi, g) in paramGroups.enumerated() {
            for (k, v) in g.options { out.scalars["param_groups.\(gi).\(k)"] = v }
            out.scalars["param_groups.\(gi).num_params"] = Double(g.parameters.count)
        }
        for (i, s) in states.enumerated() {
            guard let s else { continue }
            if countsSteps { out.scalars["state.\(i).step"] = s.step }
            for (name, t) in s.tensors { out.tensors["state.\(i).\(name)"] = t }
        }
        return out
    }

    /// Restores a state saved by `stateDict()` of the same optimizer type over the same
    /// parameters. Checks everything before changing anything; throws naming the mismatch.
    public func loadStateDict(_ state: OptimizerState) throws {
        let owner = String(describing: type(of: self))
        let params = parameters
        // Parameter groups: count, sizes, options.
        var groupOptions: [Int: [String: Double]] = [:]
        var groupSizes: [Int: Int] = [:]
        var stepCounts: [Int: Double] = [:]
        for (key, value) in state.scalars {
            let parts = key.split(separator: ".", maxSplits: 2).map(String.init)
            if parts.count == 3, parts[0] == "param_groups", let g = Int(parts[1]), g >= 0 {
                if parts[2] == "num_params" {
                    groupSizes[g] = Int(value)
                } else {
                    guard defaults[parts[2]] != nil else { throw OptimizerStateError.unexpectedKey(key: key, owner: owner) }
                    groupOptions[g, default: [:]][parts[2]] = value
                }
            } else if parts.count == 3, parts[0] == "state", let i = Int(parts[1]), parts[2] == "step", countsSteps {
                stepCounts[i] = value
            } else {
                throw OptimizerStateError.unexpectedKey(key: key, owner: owner)
            }
        }
        let savedGroups = Set(groupSizes.keys).union(groupOptions.keys)
        guard savedGroups.count == paramGroups.count, savedGroups.allSatisfy({ $0 < paramGroups.count }) else {
            throw OptimizerStateError.groupCountMismatch(expected: paramGroups.count, found: savedGroups.count)
        }
        for (gi, g) in paramGroups.enumerated() {
            guard let n = groupSizes[gi] else { throw OptimizerStateError.missingKey(key: "param_groups.\(gi).num_params", owner: owner) }
            guard n == g.parameters.count else {
                throw OptimizerStateError.groupSizeMismatch(group: gi, expected: g.parameters.count, found: n)
            }
        }
        for i in stepCounts.keys where i < 0 || i >= params.count {
            throw OptimizerStateError.parameterIndexOutOfRange(key: "state.\(i).step", parameterCount: params.count)
        }
        // Buffers: known names, valid indices, matching shapes.
        var buffers: [Int: [String: Tensor]] = [:]
        for (key, t) in state.tensors {
            let parts = key.split(separator: ".", maxSplits: 2).map(String.init)
            guard parts.count == 3, parts[0] == "state", let i = Int(parts[1]), stateTensorNames.contains(parts[2]) else {
                throw OptimizerStateError.unexpectedKey(key: key, owner: owner)
            }
            guard i >= 0, i < params.count else { throw OptimizerStateError.parameterIndexOutOfRange(key: key, parameterCount: params.count) }
            guard t.shape == params[i].shape else {
                throw OptimizerStateError.shapeMismatch(key: key, expected: params[i].shape, found: t.shape)
            }
            guard t.dtype.isFloatingPoint else {
                throw OptimizerStateError.invalidValue(key: key, reason: "dtype \(t.dtype) is not a float type")
            }
            buffers[i, default: [:]][parts[2]] = t.detached().to(params[i].value.dtype)
        }
        // All checked: apply.
        for (gi, g) in paramGroups.enumerated() {
            for (k, v) in groupOptions[gi] ?? [:] { g.options[k] = v }
        }
        for i in states.indices {
            if buffers[i] == nil && stepCounts[i] == nil { states[i] = nil; continue }
            let s = ParameterState()
            s.step = stepCounts[i] ?? 0
            s.tensors = buffers[i] ?? [:]
            states[i] = s
        }
    }
}

extension Optimizer {
    /// Runs `body` over `0..<n` in contiguous chunks, in parallel for large parameters.
    /// Each element's update is independent, so the result does not depend on the thread count.
    @inline(__always)
    static func forEachChunk(_ n: Int, _ body: (Range<Int>) -> Void) {
        Threading.parallelFor(n, grain: 1 << 16, body)
    }
}
