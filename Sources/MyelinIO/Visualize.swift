import Foundation
import MyelinCore

/// Pictures of what a network learned: its first-layer filters and the feature maps
/// of a layer, as image grids (torchvision's `make_grid` for weights and activations).
///
/// Grids are float `[H, W, C]` tensors in [0, 1] (C = 1 gray, 3 RGB), ready for
/// `PNG.encode`; `write(_:to:)` saves one. Tiles are laid out row by row, `padding`
/// pixels of `padValue` around and between them (make_grid's layout: padding 2,
/// value 0, by default), each enlarged `scale` times by nearest neighbour.
public enum Visualize {
    /// How values become gray levels.
    public enum Normalization: String, Sendable, CaseIterable {
        /// Each filter (or feature map) stretched from its own minimum (black) to maximum (white).
        case perTile
        /// One minimum and maximum for the whole grid, so tiles compare with each other.
        case global
    }

    /// How a filter with several input channels is drawn.
    public enum FilterChannels: String, Sendable, CaseIterable {
        /// RGB tiles when the layer takes 3 channels, gray for 1, else `separate`.
        case auto
        /// One colour tile per filter (needs 3 input channels).
        case rgb
        /// One gray tile per filter: the mean over its input channels.
        case mean
        /// One gray tile per (filter, input channel): a row per filter, a column per channel.
        case separate
    }

    /// The filters of a convolution weight `[out, in, kh, kw]` as a grid. Per-tile
    /// normalisation stretches each filter over all its input channels together, so
    /// the channel tiles of one filter stay comparable.
    /// - Parameters:
    ///   - columns: tiles per row; default ⌈√out⌉ (for `separate`, the input channels).
    ///   - scale: each weight becomes `scale`×`scale` pixels.
    public static func filterGrid(
        _ weight: Tensor, channels: FilterChannels = .auto, normalization: Normalization = .perTile,
        columns: Int? = nil, scale: Int = 8, padding: Int = 2, padValue: Double = 0
    ) -> Tensor {
        require(weight.rank == 4 && weight.dtype.isFloatingPoint,
                "filterGrid: needs a float convolution weight [out, in, kh, kw], got \(weight.dtype) \(weight.shape)")
        let (o, i, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        require(o > 0 && i > 0 && kh > 0 && kw > 0, "filterGrid: empty weight \(weight.shape)")
        var mode = channels
        if mode == .auto { mode = i == 3 ? .rgb : i == 1 ? .mean : .separate }
        require(mode != .rgb || i == 3, "filterGrid: RGB tiles need 3 input channels, the weight has \(i) (\(weight.shape))")
        let v = weight.scalars(as: Double.self)
        let per = i * kh * kw
        // Per-filter ranges, over all input channels.
        var ranges = (0..<o).map { f -> (Double, Double) in
            let s = v[(f * per)..<((f + 1) * per)]
            return (s.min() ?? 0, s.max() ?? 0)
        }
        var tiles: [[Double]] = []  // each tile HWC (kh, kw, c)
        var tileChannels = 1
        switch mode {
        case .rgb:
            tileChannels = 3
            for f in 0..<o {
                var t = [Double](repeating: 0, count: kh * kw * 3)
                for c in 0..<3 { for y in 0..<kh { for x in 0..<kw { t[(y * kw + x) * 3 + c] = v[f * per + (c * kh + y) * kw + x] } } }
                tiles.append(t)
            }
        case .mean:
            ranges = []  // the mean tile is what is shown: normalise it, not the raw channels
            for f in 0..<o {
                var t = [Double](repeating: 0, count: kh * kw)
                for c in 0..<i { for k in 0..<(kh * kw) { t[k] += v[f * per + c * kh * kw + k] / Double(i) } }
                tiles.append(t)
                ranges.append((t.min() ?? 0, t.max() ?? 0))
            }
        default:
            for f in 0..<o { for c in 0..<i { tiles.append(Array(v[(f * per + c * kh * kw)..<(f * per + (c + 1) * kh * kw)])) } }
            ranges = ranges.flatMap { Array(repeating: $0, count: i) }
        }
        let normalised = normalise(tiles, ranges: ranges, normalization: normalization)
        let cols = columns ?? (mode == .separate ? i : Int(Double(o).squareRoot().rounded(.up)))
        return grid(normalised, height: kh, width: kw, channels: tileChannels, columns: cols, scale: scale, padding: padding, padValue: padValue)
    }

    /// The feature maps of one sample, `[C, H, W]` or `[1, C, H, W]`, as a grid of gray
    /// tiles (the first `maxMaps` channels when given).
    public static func featureGrid(
        _ maps: Tensor, normalization: Normalization = .perTile, maxMaps: Int? = nil,
        columns: Int? = nil, scale: Int = 1, padding: Int = 2, padValue: Double = 0
    ) -> Tensor {
        require(maps.dtype.isFloatingPoint && (maps.rank == 3 || (maps.rank == 4 && maps.shape[0] == 1)),
                "featureGrid: needs float feature maps [C, H, W] or [1, C, H, W] (one sample), got \(maps.dtype) \(maps.shape)")
        let s = Array(maps.shape.suffix(3))
        let (c, h, w) = (s[0], s[1], s[2])
        let n = Swift.min(c, maxMaps ?? c)
        require(n > 0 && h > 0 && w > 0, "featureGrid: no maps to draw in \(maps.shape)")
        let v = maps.scalars(as: Double.self)
        let tiles = (0..<n).map { Array(v[($0 * h * w)..<(($0 + 1) * h * w)]) }
        let ranges = tiles.map { ($0.min() ?? 0, $0.max() ?? 0) }
        let cols = columns ?? Int(Double(n).squareRoot().rounded(.up))
        return grid(normalise(tiles, ranges: ranges, normalization: normalization), height: h, width: w, channels: 1,
                    columns: cols, scale: scale, padding: padding, padValue: padValue)
    }

    /// Writes a grid (or any `[H, W]`/`[H, W, C]` image in [0, 1]) as a PNG file.
    public static func write(_ image: Tensor, to url: URL) throws {
        try AtomicFile.write(PNG.encode(image), to: url)
    }

    /// Min-max scaling into [0, 1]; a constant tile (or grid) becomes 0.5.
    static func normalise(_ tiles: [[Double]], ranges: [(Double, Double)], normalization: Normalization) -> [[Double]] {
        let global = (ranges.map(\.0).min() ?? 0, ranges.map(\.1).max() ?? 0)
        return tiles.enumerated().map { k, t in
            let (lo, hi) = normalization == .global ? global : ranges[k]
            return hi > lo ? t.map { ($0 - lo) / (hi - lo) } : t.map { _ in 0.5 }
        }
    }

    /// Lays out HWC tiles of `height`×`width`×`channels` row by row.
    static func grid(_ tiles: [[Double]], height: Int, width: Int, channels: Int, columns: Int,
                     scale: Int, padding: Int, padValue: Double) -> Tensor {
        require(columns > 0 && scale > 0 && padding >= 0, "Visualize: columns and scale must be positive and padding non-negative (got \(columns), \(scale), \(padding))")
        let cols = Swift.min(columns, tiles.count), rows = (tiles.count + cols - 1) / cols
        let th = height * scale, tw = width * scale
        let gh = rows * th + (rows + 1) * padding, gw = cols * tw + (cols + 1) * padding
        var out = [Double](repeating: padValue, count: gh * gw * channels)
        for (k, t) in tiles.enumerated() {
            let top = padding + (k / cols) * (th + padding), left = padding + (k % cols) * (tw + padding)
            for y in 0..<th { for x in 0..<tw { for c in 0..<channels {
                out[((top + y) * gw + left + x) * channels + c] = t[((y / scale) * width + x / scale) * channels + c]
            } } }
        }
        return Tensor(out, shape: [gh, gw, channels], dtype: .float32)
    }
}
