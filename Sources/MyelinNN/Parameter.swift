import MyelinCore

/// A trainable tensor owned by a module: `@Parameter var weight: Tensor`.
///
/// The wrapper is a class, so a module and its optimizer share one parameter:
/// the layer reads `weight` as a plain tensor, the optimizer updates `$weight`
/// in place. The value is always a leaf of the autograd graph.
@propertyWrapper
public final class Parameter: @unchecked Sendable {
    /// The current value: a leaf that requires gradients unless frozen.
    public private(set) var value: Tensor
    /// The state-dict name, when it differs from the property name in snake_case.
    public let key: String?

    public init(wrappedValue: Tensor, key: String? = nil) {
        require(wrappedValue.dtype.isFloatingPoint, "Parameter: a parameter must be a float tensor, not \(wrappedValue.dtype)")
        self.value = wrappedValue.requiringGrad()
        self.key = key
    }

    public var wrappedValue: Tensor {
        get { value }
        set { assign(newValue) }
    }

    public var projectedValue: Parameter { self }

    /// Whether the optimizer trains this parameter (false once frozen).
    public var requiresGrad: Bool {
        get { value.requiresGrad }
        set { value = value.requiringGrad(newValue) }
    }

    /// The gradient accumulated by backward().
    public var grad: Tensor? {
        get { value.grad }
        set { value.grad = newValue }
    }

    public var shape: [Int] { value.shape }

    public func zeroGrad() { value.zeroGrad() }

    /// Replaces the value (a new leaf; the trainable flag is kept). Shape changes are allowed
    /// only through this call, never silently through an optimizer.
    public func assign(_ newValue: Tensor) {
        let trainable = value.requiresGrad
        value = newValue.detached().to(value.dtype).requiringGrad(trainable)
    }

    /// Writes the elements in place (optimizer updates): no new tensor, no graph.
    public func updateInPlace<T: TensorScalar>(as type: T.Type, _ body: (UnsafeMutablePointer<T>, Int) -> Void) {
        let n = value.count
        value.withUnsafeMutablePointer(as: T.self) { body($0, n) }
    }
}

/// A tensor a module keeps and saves but does not train, e.g. BatchNorm's
/// running statistics: `@Buffer var runningMean: Tensor`.
@propertyWrapper
public final class Buffer: @unchecked Sendable {
    public var value: Tensor
    public let key: String?
    /// Persistent buffers are part of the state dict (PyTorch's default).
    public let persistent: Bool

    public init(wrappedValue: Tensor, key: String? = nil, persistent: Bool = true) {
        self.value = wrappedValue.detached()
        self.key = key
        self.persistent = persistent
    }

    public var wrappedValue: Tensor {
        get { value }
        set { value = newValue.detached() }
    }

    public var projectedValue: Buffer { self }
}
