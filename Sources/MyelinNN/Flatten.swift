import MyelinCore

/// Merges axes `startAxis...endAxis` into one, as PyTorch's `nn.Flatten` (by default
/// everything but the batch axis: [N, C, H, W] → [N, C·H·W]). Shares storage.
public final class Flatten: Module, UnaryLayer {
    public let startAxis: Int, endAxis: Int

    public init(startAxis: Int = 1, endAxis: Int = -1) {
        self.startAxis = startAxis
        self.endAxis = endAxis
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let r = Swift.max(x.rank, 1)
        let s = startAxis < 0 ? startAxis + r : startAxis, e = endAxis < 0 ? endAxis + r : endAxis
        require(s >= 0 && s < r && e >= 0 && e < r && s <= e,
                "Flatten(startAxis: \(startAxis), endAxis: \(endAxis)): does not fit input shape \(x.shape) of rank \(x.rank)")
        return x.flattened(startAxis: startAxis, endAxis: endAxis)
    }
}
