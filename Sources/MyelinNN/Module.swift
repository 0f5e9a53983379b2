import Foundation
import MyelinCore

/// The base of every layer and model, as PyTorch's `nn.Module`.
///
/// Parameters, buffers and submodules are found by reflection over stored
/// properties, and named after them in PyTorch's style: a property `conv1`
/// holding a layer with `@Parameter var weight` yields "conv1.weight"; arrays
/// of modules are numbered ("layers.0.weight"); camelCase becomes snake_case
/// ("runningMean" → "running_mean"), so a PyTorch state_dict loads by name.
open class Module {
    /// Training mode (dropout active, batch statistics) or evaluation mode.
    public private(set) var training = true
    /// Observers of this module's output (see `registerForwardHook`, Hooks.swift).
    var forwardHooks: [ForwardHookEntry] = []

    public init() {}

    // MARK: Structure

    /// Direct submodules with their names, in declaration order. Containers override this.
    open func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = []
        for (label, value) in Self.storedProperties(of: self) {
            switch value {
            case let m as Module: out.append((label, m))
            case let ms as [Module]: out += ms.enumerated().map { ("\(label).\($0.offset)", $0.element) }
            case let md as [String: Module]: out += md.sorted { $0.key < $1.key }.map { ("\(label).\($0.key)", $0.value) }
            default: break
            }
        }
        return out
    }

    /// This module's own parameters (not its submodules'), with their names.
    open func ownParameters() -> [(String, Parameter)] {
        Self.storedProperties(of: self).compactMap { label, value in
            (value as? Parameter).map { ($0.key ?? label, $0) }
        }
    }

    /// This module's own buffers, with their names.
    open func ownBuffers() -> [(String, Buffer)] {
        Self.storedProperties(of: self).compactMap { label, value in
            (value as? Buffer).map { ($0.key ?? label, $0) }
        }
    }

    /// Every module in the tree, depth first, with its dotted path ("" for self).
    public func namedModules() -> [(String, Module)] {
        var out: [(String, Module)] = [("", self)]
        for (name, child) in namedChildren() {
            out += child.namedModules().map { ($0.0.isEmpty ? name : "\(name).\($0.0)", $0.1) }
        }
        return out
    }

    /// Every parameter in the tree by its full name ("layer1.0.conv1.weight"). Shared parameters appear once.
    public func namedParameters() -> [(String, Parameter)] {
        var seen = Set<ObjectIdentifier>()
        var out: [(String, Parameter)] = []
        for (path, m) in namedModules() {
            for (name, p) in m.ownParameters() where seen.insert(ObjectIdentifier(p)).inserted {
                out.append((path.isEmpty ? name : "\(path).\(name)", p))
            }
        }
        return out
    }

    public func parameters() -> [Parameter] { namedParameters().map(\.1) }

    /// Parameters that the optimizer should update (not frozen).
    public func trainableParameters() -> [Parameter] { parameters().filter(\.requiresGrad) }

    public func namedBuffers() -> [(String, Buffer)] {
        namedModules().flatMap { path, m in m.ownBuffers().map { (path.isEmpty ? $0.0 : "\(path).\($0.0)", $0.1) } }
    }

    /// Number of scalars in all parameters (trainable or not), as Keras' summary reports.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.value.count } }
    public var trainableParameterCount: Int { trainableParameters().reduce(0) { $0 + $1.value.count } }

    // MARK: Modes

    /// Switches this module and all submodules to training (true) or evaluation mode.
    /// Frozen submodules stay in evaluation mode (see `freeze()`).
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.training = on && !m.isFrozen }
    }

    /// Evaluation mode: dropout off, batch norm uses running statistics.
    public func eval() { train(false) }

    // MARK: Freezing (transfer learning)

    /// True after `freeze()`: the module's parameters get no gradients, and `train()`
    /// leaves it in evaluation mode.
    public private(set) var isFrozen = false

    /// Stops training this module and everything in it, for transfer learning: its
    /// parameters stop requiring gradients (optimizers skip them) and it stays in
    /// evaluation mode, so batch norm keeps its running statistics and dropout is off
    /// (Keras' `trainable = False`; in PyTorch, `requires_grad_(False)` plus `.eval()`).
    /// Without the second half, a "frozen" batch norm would still drift with the new data.
    public func freeze() { freeze(except: []) }

    /// Freezes everything except the submodules at the given paths ("fc", "classifier.6")
    /// and what is inside them: `model.freeze(except: ["fc"])` trains only the head.
    /// An unknown path is an error (a typo would otherwise freeze the whole model).
    public func freeze(except paths: [String]) {
        let modules = namedModules()
        let known = Set(modules.map(\.0))
        for p in paths {
            require(known.contains(p), "freeze(except:): \(type(of: self)) has no submodule \"\(p)\" "
                    + "(submodules: \(modules.map(\.0).filter { !$0.isEmpty && !$0.contains(".") }.joined(separator: ", ")))")
        }
        func kept(_ path: String) -> Bool { paths.contains { path == $0 || path.hasPrefix($0 + ".") } }
        func ancestorOfKept(_ path: String) -> Bool { paths.contains { path.isEmpty || $0.hasPrefix(path + ".") } }
        for (path, m) in modules {
            let trainable = kept(path)
            m.ownParameters().forEach { $0.1.requiresGrad = trainable }
            // A parent of a kept module must still switch modes, so it is not marked frozen.
            m.isFrozen = !trainable && !ancestorOfKept(path)
            if m.isFrozen { m.training = false }
        }
    }

    /// Makes every parameter trainable again and lets `train()` reach every submodule
    /// (fine-tuning after training a new head; use a smaller learning rate).
    public func unfreeze() {
        for (_, m) in namedModules() {
            m.isFrozen = false
            m.ownParameters().forEach { $0.1.requiresGrad = true }
        }
    }

    /// Clears the gradients of every parameter.
    public func zeroGrad() { parameters().forEach { $0.zeroGrad() } }

    // MARK: State

    /// Parameters and persistent buffers by name, as PyTorch's `state_dict()`.
    public func stateDict() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (n, p) in namedParameters() { d[n] = p.value.detached() }
        for (n, b) in namedBuffers() where b.persistent { d[n] = b.value }
        return d
    }

    /// Loads tensors by name. In strict mode any missing, unexpected or mis-shaped key
    /// throws (and nothing is changed); in lenient mode what matches is loaded and the
    /// report lists the rest.
    @discardableResult
    public func loadStateDict(_ state: [String: Tensor], strict: Bool = true) throws -> StateDictReport {
        try loadStateDict(state, strict: strict, dryRun: false)
    }

    func loadStateDict(_ state: [String: Tensor], strict: Bool, dryRun: Bool) throws -> StateDictReport {
        var targets: [String: (shape: [Int], assign: (Tensor) -> Void)] = [:]
        for (n, p) in namedParameters() { targets[n] = (p.shape, { p.assign($0) }) }
        for (n, b) in namedBuffers() where b.persistent { targets[n] = (b.value.shape, { b.value = $0.to(b.value.dtype) }) }
        var report = StateDictReport()
        report.missing = targets.keys.filter { state[$0] == nil }.sorted()
        report.unexpected = state.keys.filter { targets[$0] == nil }.sorted()
        for (name, t) in state.sorted(by: { $0.key < $1.key }) {
            guard let target = targets[name] else { continue }
            if t.shape != target.shape { report.mismatched.append(.init(name: name, expected: target.shape, found: t.shape)) }
        }
        if strict && !report.isClean { throw report }
        if dryRun { return report }
        for (name, t) in state {
            guard let target = targets[name], t.shape == target.shape else { continue }
            target.assign(t)
            report.loaded.append(name)
        }
        report.loaded.sort()
        return report
    }

    /// The classifier head by convention: the last direct child that has parameters
    /// ("fc" in ResNet, "classifier" in VGG, "fc3" in LeNet-5); nil when none has any.
    public var headName: String? {
        namedChildren().last { $0.1.parameterCount > 0 }?.0
    }

    /// Loads a pretrained model's tensors for transfer learning: everything except what
    /// lies under `skipping` (the old head, typically `[headName]`) must be found in
    /// `state` with the same shape, while extra tensors in `state` (its head, its
    /// classifier when this model has `includeTop: false`) are ignored. Throws the report,
    /// changing nothing, when a backbone tensor is missing or mis-shaped.
    @discardableResult
    public func loadPretrained(_ state: [String: Tensor], skipping prefixes: [String] = []) throws -> StateDictReport {
        func skipped(_ name: String) -> Bool { prefixes.contains { name == $0 || name.hasPrefix($0 + ".") } }
        var report = try loadStateDict(state.filter { !skipped($0.key) }, strict: false, dryRun: true)
        report.missing.removeAll(where: skipped)
        report.unexpected = []
        guard report.missing.isEmpty && report.mismatched.isEmpty else { throw report }
        return try loadStateDict(state.filter { !skipped($0.key) }, strict: false)
    }

    // MARK: Reflection

    /// Stored properties of `object` and its superclasses, names in snake_case with
    /// property-wrapper underscores removed, skipping Module's own bookkeeping.
    static func storedProperties(of object: Module) -> [(String, Any)] {
        var mirrors: [Mirror] = []
        var m: Mirror? = Mirror(reflecting: object)
        while let cur = m { mirrors.append(cur); m = cur.superclassMirror }
        var out: [(String, Any)] = []
        for mirror in mirrors.reversed() {
            for child in mirror.children {
                guard var label = child.label, label != "training", label != "isFrozen", label != "forwardHooks" else { continue }
                if label.hasPrefix("_") { label.removeFirst() }
                // Optional properties (a layer's bias, a block's downsample) count when present.
                if let opt = child.value as? AnyOptional {
                    if let wrapped = opt.unwrapped { out.append((snakeCase(label), wrapped)) }
                    continue
                }
                out.append((snakeCase(label), child.value))
            }
        }
        return out
    }

    /// "runningMean" → "running_mean", "weightIhL0" → "weight_ih_l0"; digits join the word before.
    public static func snakeCase(_ name: String) -> String {
        var out = ""
        for ch in name {
            if ch.isUppercase {
                if !out.isEmpty && out.last != "_" { out.append("_") }
                out += ch.lowercased()
            } else {
                out.append(ch)
            }
        }
        return out
    }
}

/// Lets reflection see through optional properties (`Parameter?`, `Module?`).
protocol AnyOptional { var unwrapped: Any? { get } }
extension Optional: AnyOptional {
    var unwrapped: Any? {
        switch self {
        case .some(let v): v
        case .none: nil
        }
    }
}

/// What `loadStateDict` found: keys it loaded, keys the model has but the file lacks,
/// keys the file has but the model lacks, and keys whose shapes differ.
public struct StateDictReport: Error, CustomStringConvertible, Sendable {
    public struct Mismatch: Sendable { public let name: String; public let expected: [Int]; public let found: [Int] }
    public var loaded: [String] = []
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var mismatched: [Mismatch] = []

    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

    public var description: String {
        var lines: [String] = []
        if !missing.isEmpty { lines.append("missing keys (in the model, not in the file): \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { lines.append("unexpected keys (in the file, not in the model): \(unexpected.joined(separator: ", "))") }
        for m in mismatched { lines.append("shape mismatch for \(m.name): the model has \(m.expected), the file has \(m.found)") }
        if lines.isEmpty { return "all \(loaded.count) keys loaded" }
        return "state dict does not match the model:\n  " + lines.joined(separator: "\n  ")
    }
}
