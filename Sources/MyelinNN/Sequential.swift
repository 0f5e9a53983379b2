import MyelinCore

/// A module that maps one tensor to one tensor: what `Sequential` chains.
public protocol UnaryLayer: Module {
    func callAsFunction(_ input: Tensor) -> Tensor
}

/// Layers applied in order, named "0", "1", ... as PyTorch's `nn.Sequential`:
///
///     let model = Sequential {
///         Linear(784, 256); ReLU()
///         Linear(256, 10)
///     }
public final class Sequential: Module, UnaryLayer {
    public let layers: [any UnaryLayer]

    public init(_ layers: [any UnaryLayer]) {
        self.layers = layers
        super.init()
    }

    public convenience init(@LayerBuilder _ build: () -> [any UnaryLayer]) {
        self.init(build())
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        layers.reduce(input) { x, layer in layer.callWithHooks(x) }
    }

    override public func namedChildren() -> [(String, Module)] {
        layers.enumerated().map { (String($0.offset), $0.element) }
    }

    public subscript(index: Int) -> any UnaryLayer { layers[index] }
    public var count: Int { layers.count }
}

/// Builds the layer list of a `Sequential` from a block, with `if` and `for` allowed.
@resultBuilder
public enum LayerBuilder {
    public static func buildExpression(_ layer: any UnaryLayer) -> [any UnaryLayer] { [layer] }
    public static func buildExpression(_ layers: [any UnaryLayer]) -> [any UnaryLayer] { layers }
    public static func buildBlock(_ parts: [any UnaryLayer]...) -> [any UnaryLayer] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any UnaryLayer]?) -> [any UnaryLayer] { part ?? [] }
    public static func buildEither(first: [any UnaryLayer]) -> [any UnaryLayer] { first }
    public static func buildEither(second: [any UnaryLayer]) -> [any UnaryLayer] { second }
    public static func buildArray(_ parts: [[any UnaryLayer]]) -> [any UnaryLayer] { parts.flatMap { $0 } }
}
