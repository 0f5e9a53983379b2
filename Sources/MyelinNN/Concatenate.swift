import MyelinCore

/// Runs every branch on the same input and joins their outputs along `axis` (channels,
/// axis 1, by default): the parallel paths of Inception, or a skip path beside a stack.
/// Branches are named "0", "1", ... as in `Sequential`; PyTorch has no such layer (a
/// module calls `torch.cat([b(x) for b in branches], 1)` in its forward), so this is
/// that forward as a layer.
///
///     let block = Concatenate {
///         Conv2D(16, 8, 1)
///         Sequential { Conv2D(16, 8, 1); ReLU(); Conv2D(8, 12, 3, padding: 1) }
///         MaxPool2D(3, stride: 1, padding: 1)
///     }
///     block(x)   // [N, 16, H, W] → [N, 8 + 12 + 16, H, W]
///
/// The outputs must agree on every axis but `axis` (a negative axis counts from the end).
public final class Concatenate: Module, UnaryLayer {
    public let branches: [any UnaryLayer]
    public let axis: Int

    public init(axis: Int = 1, _ branches: [any UnaryLayer]) {
        require(!branches.isEmpty, "Concatenate: needs at least one branch")
        self.branches = branches
        self.axis = axis
        super.init()
    }

    public convenience init(axis: Int = 1, @LayerBuilder _ build: () -> [any UnaryLayer]) {
        self.init(axis: axis, build())
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let outputs = branches.map { $0(input) }
        _ = Self.joinedShape(outputs.map(\.shape), axis: axis)
        return Tensor.concat(outputs, axis: Self.resolvedAxis(axis, rank: outputs[0].rank))
    }

    override public func namedChildren() -> [(String, Module)] {
        branches.enumerated().map { (String($0.offset), $0.element) }
    }

    public subscript(index: Int) -> any UnaryLayer { branches[index] }
    public var count: Int { branches.count }

    static func resolvedAxis(_ axis: Int, rank: Int) -> Int { axis < 0 ? axis + rank : axis }

    /// The shape of the joined output, or a stop naming the branches that disagree
    /// (also used by the model summary, which never runs the branches).
    public static func joinedShape(_ shapes: [[Int]], axis: Int) -> [Int] {
        require(!shapes.isEmpty, "Concatenate: needs at least one branch")
        let first = shapes[0]
        let ax = resolvedAxis(axis, rank: first.count)
        require(ax >= 0 && ax < first.count,
                "Concatenate: axis \(axis) is out of range for branch outputs of rank \(first.count) (branch 0 gives \(first))")
        var out = first
        for (i, s) in shapes.enumerated().dropFirst() {
            let matches = s.count == first.count && s.indices.allSatisfy { $0 == ax || s[$0] == first[$0] }
            require(matches, "Concatenate(axis: \(axis)): branch \(i) gives shape \(s) but branch 0 gives \(first); "
                    + "they must agree on every axis but \(ax) (all branch shapes: \(shapes.map { "\($0)" }.joined(separator: ", ")))")
            out[ax] += s[ax]
        }
        return out
    }
}
