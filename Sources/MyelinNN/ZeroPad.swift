import MyelinCore

/// Pads the last two axes (height, width) of [N, C, H, W] or [C, H, W] input with
/// zeros, as PyTorch's `nn.ZeroPad2d`: `ZeroPad2D(1)` on every side,
/// `ZeroPad2D(left: 1, right: 2, top: 0, bottom: 1)` as `ZeroPad2d((1, 2, 0, 1))`.
public final class ZeroPad2D: Module, UnaryLayer {
    public let left: Int, right: Int, top: Int, bottom: Int

    public init(left: Int, right: Int, top: Int, bottom: Int) {
        require(left >= 0 && right >= 0 && top >= 0 && bottom >= 0,
                "ZeroPad2D(left \(left), right \(right), top \(top), bottom \(bottom)): padding must not be negative")
        (self.left, self.right, self.top, self.bottom) = (left, right, top, bottom)
        super.init()
    }

    /// `padding` rows/columns on every side.
    public convenience init(_ padding: Int) { self.init(left: padding, right: padding, top: padding, bottom: padding) }

    /// `padding.height` rows above and below, `padding.width` columns left and right.
    public convenience init(_ padding: IntPair) {
        self.init(left: padding.width, right: padding.width, top: padding.height, bottom: padding.height)
    }

    /// "ZeroPad2D(1)" or "ZeroPad2D(left 1, right 2, top 0, bottom 1)".
    public var layerDescription: String {
        left == right && right == top && top == bottom ? "ZeroPad2D(\(left))"
            : "ZeroPad2D(left \(left), right \(right), top \(top), bottom \(bottom))"
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        require(x.rank == 4 || x.rank == 3, "\(layerDescription): input must be [N, C, H, W] or [C, H, W], got shape \(x.shape)")
        return x.padded(last: [(left, right), (top, bottom)])
    }
}
