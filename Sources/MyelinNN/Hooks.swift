import MyelinCore

// Forward hooks: observing what a layer outputs inside a model, for visualising
// feature maps and extracting features.
//
// Design. PyTorch runs hooks in `Module.__call__`, around every `forward`. Swift has
// no such interception point: a model calls `conv1(x)`, a method of the concrete
// layer, and nothing in between sees the call. So hooks run where a module is called
// *through* `callWithHooks(_:)`:
//   - `Sequential` calls every child that way, so every layer inside a Sequential (at
//     any depth: "features.3", "layer1.0") is observable;
//   - a composite model makes a directly-called child observable by writing
//     `conv1.callWithHooks(x)` instead of `conv1(x)` (LeNet5 does).
// The alternatives were worse: a hook check in every layer's `callAsFunction` touches
// every layer file and is easy to forget in new ones; wrapping children in proxy
// modules would change parameter names. The cost when no hook is registered is one
// empty-array check per call.

/// Called after a module computes its output: the module, its input, its output.
public typealias ForwardHook = (_ module: Module, _ input: Tensor, _ output: Tensor) -> Void

struct ForwardHookEntry {
    let id: ObjectIdentifier
    let body: ForwardHook
}

/// Returned by `registerForwardHook`; `remove()` unregisters the hook (as PyTorch's
/// `RemovableHandle`). Dropping the handle does not remove the hook.
public final class ForwardHookHandle {
    weak var module: Module?

    init(module: Module) { self.module = module }

    public func remove() {
        let id = ObjectIdentifier(self)
        module?.forwardHooks.removeAll { $0.id == id }
    }
}

extension Module {
    /// Calls `hook` with this module, its input and its output each time the module is
    /// run through `callWithHooks` (by a `Sequential`, or a model that calls its children
    /// that way; see Hooks.swift). Hooks run in registration order.
    @discardableResult
    public func registerForwardHook(_ hook: @escaping ForwardHook) -> ForwardHookHandle {
        let handle = ForwardHookHandle(module: self)
        forwardHooks.append(ForwardHookEntry(id: ObjectIdentifier(handle), body: hook))
        return handle
    }

    /// Whether any forward hook is registered on this module.
    public var hasForwardHooks: Bool { !forwardHooks.isEmpty }

    /// Runs this module's forward hooks on an input and output it computed.
    public func runForwardHooks(input: Tensor, output: Tensor) {
        for h in forwardHooks { h.body(self, input, output) }
    }
}

extension UnaryLayer {
    /// Runs the layer, then its forward hooks: what `Sequential` does for each child.
    /// Composite models call their children this way to make them observable.
    @inlinable
    public func callWithHooks(_ input: Tensor) -> Tensor {
        let output = self(input)
        if hasForwardHooks { runForwardHooks(input: input, output: output) }
        return output
    }
}

/// The outputs of named inner layers, captured in one forward pass (as torchvision's
/// `create_feature_extractor`, by forward hooks):
///
///     let fx = FeatureExtractor(vgg, layers: ["features.3", "features.8"])
///     let (logits, features) = fx(images)      // features["features.3"]: [N, 64, 224, 224]
///
/// Names are the dotted paths of `namedModules()` (as in the state dict, without the
/// parameter). A layer is captured when it is run through `callWithHooks` (every layer
/// inside a `Sequential`; see Hooks.swift). A `Sequential` itself ("layer4", "features")
/// is captured through its last layer, whose output is its own, so a model's stages are
/// observable even when the model calls them directly. A layer the pass never reaches
/// is absent from the result; `observableLayers` lists those that are reached. A layer
/// called twice (a shared pooling layer) reports its last call. Hooks are removed after
/// the pass.
public struct FeatureExtractor {
    public let model: any UnaryLayer
    public let layers: [String]

    public init(_ model: any UnaryLayer, layers: [String]) {
        let modules = Dictionary(model.namedModules().map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        for name in layers where modules[name] == nil {
            requirementFailure(
                "FeatureExtractor: \(type(of: model)) has no layer \"\(name)\"; its layers are: \(model.namedModules().map(\.0).filter { !$0.isEmpty }.joined(separator: ", "))")
        }
        self.model = model
        self.layers = layers
    }

    /// Runs the model on `input`; returns its output and the captured layer outputs.
    public func callAsFunction(_ input: Tensor) -> (output: Tensor, features: [String: Tensor]) {
        var captured: [String: Tensor] = [:]
        let modules = Dictionary(model.namedModules().map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        var handles: [ForwardHookHandle] = []
        for name in layers {
            guard let m = modules[name] else { continue }
            handles.append(Self.outputModule(m).registerForwardHook { _, _, out in captured[name] = out })
        }
        defer { handles.forEach { $0.remove() } }
        let output = model(input)
        return (output, captured)
    }

    /// The named layers whose outputs a forward pass on `input` can capture, in the order
    /// their outputs appear (a `Sequential` just before its last layer).
    public static func observableLayers(_ model: any UnaryLayer, input: Tensor) -> [String] {
        var seen: [String] = []
        var handles: [ForwardHookHandle] = []
        for (name, m) in model.namedModules() where !name.isEmpty {
            handles.append(outputModule(m).registerForwardHook { _, _, _ in if !seen.contains(name) { seen.append(name) } })
        }
        defer { handles.forEach { $0.remove() } }
        _ = withoutGradients { model(input) }
        return seen
    }

    /// The module whose hooked output is `m`'s output: a Sequential's last layer (recursively).
    static func outputModule(_ m: Module) -> Module {
        if let seq = m as? Sequential, let last = seq.layers.last { return outputModule(last) }
        return m
    }
}
