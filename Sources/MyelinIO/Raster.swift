import MyelinCore
import Foundation

/// The PNG back end of charts: draws on an RGB canvas at 3× the output resolution
/// with hard edges, then averages each 3×3 block, which anti-aliases lines and dots.
/// Text uses `BitmapFont` at a whole number of output pixels per font pixel, so it
/// stays crisp.
struct RasterCanvas: ChartCanvas {
    static let ss = 3
    let w: Int, h: Int
    /// Hi-res pixels, RGB.
    var px: [UInt8]
    /// Output pixels per font pixel.
    let fontScale: Int
    let unit: Double
    var width: Double { Double(w) }
    var height: Double { Double(h) }

    init(width: Int, height: Int) {
        require(width > 0 && height > 0 && width * height <= 50_000_000,
                "chart: a \(width)×\(height) picture is invalid (positive sides, at most 50 megapixels)")
        (w, h) = (width, height)
        px = [UInt8](repeating: 255, count: width * height * Self.ss * Self.ss * 3)
        let scale = min(Double(width) / 800, Double(height) / 500)
        unit = max(0.5, scale)
        fontScale = max(1, Int((scale * 2).rounded()))
    }

    func textSize(_ text: String, _ role: TextRole) -> (width: Double, height: Double) {
        let bold = role == .title ? 1 : 0
        return (Double(BitmapFont.width(text) * fontScale + (text.isEmpty ? 0 : bold)), Double(BitmapFont.capHeight * fontScale))
    }

    // MARK: Hi-res primitives

    private var hw: Int { w * Self.ss }
    private var hh: Int { h * Self.ss }

    /// Blends `color` over hi-res pixels [x0, x1) × [y0, y1).
    private mutating func fillHi(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: RGB, opacity: Double = 1) {
        let (xa, xb, ya, yb) = (max(0, x0), min(hw, x1), max(0, y0), min(hh, y1))
        guard xa < xb, ya < yb else { return }
        let a = UInt16((max(0, min(1, opacity)) * 256).rounded())
        let stride = hw * 3
        px.withUnsafeMutableBufferPointer { p in
            for y in ya..<yb {
                var i = y * stride + xa * 3
                for _ in xa..<xb {
                    if a >= 256 {
                        p[i] = color.r; p[i + 1] = color.g; p[i + 2] = color.b
                    } else {
                        p[i] = UInt8((UInt16(p[i]) * (256 - a) + UInt16(color.r) * a) >> 8)
                        p[i + 1] = UInt8((UInt16(p[i + 1]) * (256 - a) + UInt16(color.g) * a) >> 8)
                        p[i + 2] = UInt8((UInt16(p[i + 2]) * (256 - a) + UInt16(color.b) * a) >> 8)
                    }
                    i += 3
                }
            }
        }
    }

    /// Hi-res pixel bounds of a clip rectangle (the whole canvas when nil).
    private func clipBounds(_ clip: Rect?) -> (Int, Int, Int, Int) {
        guard let c = clip else { return (0, 0, hw, hh) }
        let s = Double(Self.ss)
        return (max(0, Int((c.x * s).rounded(.down))), max(0, Int((c.y * s).rounded(.down))),
                min(hw, Int((c.maxX * s).rounded(.up))), min(hh, Int((c.maxY * s).rounded(.up))))
    }

    /// Sets every hi-res pixel whose center lies within `radius` of the segment a–b.
    private mutating func capsule(_ a: Point, _ b: Point, radius: Double, _ color: RGB, clip: (Int, Int, Int, Int)) {
        let s = Double(Self.ss)
        let (ax, ay, bx, by, r) = (a.x * s, a.y * s, b.x * s, b.y * s, radius * s)
        let x0 = max(clip.0, Int((min(ax, bx) - r).rounded(.down))), x1 = min(clip.2, Int((max(ax, bx) + r).rounded(.up)))
        let y0 = max(clip.1, Int((min(ay, by) - r).rounded(.down))), y1 = min(clip.3, Int((max(ay, by) + r).rounded(.up)))
        guard x0 < x1, y0 < y1 else { return }
        let (dx, dy) = (bx - ax, by - ay)
        let len2 = dx * dx + dy * dy
        let r2 = r * r
        let stride = hw * 3
        px.withUnsafeMutableBufferPointer { p in
            for y in y0..<y1 {
                let cy = Double(y) + 0.5
                for x in x0..<x1 {
                    let cx = Double(x) + 0.5
                    let t = len2 > 0 ? max(0, min(1, ((cx - ax) * dx + (cy - ay) * dy) / len2)) : 0
                    let (ex, ey) = (cx - (ax + t * dx), cy - (ay + t * dy))
                    if ex * ex + ey * ey <= r2 {
                        let i = y * stride + x * 3
                        p[i] = color.r; p[i + 1] = color.g; p[i + 2] = color.b
                    }
                }
            }
        }
    }

    // MARK: ChartCanvas

    mutating func fill(_ r: Rect, _ color: RGB, opacity: Double) {
        let s = Double(Self.ss)
        fillHi(Int((r.x * s).rounded()), Int((r.y * s).rounded()), Int((r.maxX * s).rounded()), Int((r.maxY * s).rounded()), color, opacity: opacity)
    }

    mutating func stroke(_ r: Rect, _ color: RGB, width: Double) {
        let d = width / 2
        fill(Rect(x: r.x - d, y: r.y - d, w: r.w + width, h: width), color, opacity: 1)
        fill(Rect(x: r.x - d, y: r.maxY - d, w: r.w + width, h: width), color, opacity: 1)
        fill(Rect(x: r.x - d, y: r.y - d, w: width, h: r.h + width), color, opacity: 1)
        fill(Rect(x: r.maxX - d, y: r.y - d, w: width, h: r.h + width), color, opacity: 1)
    }

    mutating func polyline(_ points: [Point], _ color: RGB, width: Double, clip: Rect?) {
        let c = clipBounds(clip)
        if points.count == 1 { capsule(points[0], points[0], radius: width / 2, color, clip: c) }
        for (a, b) in zip(points, points.dropFirst()) { capsule(a, b, radius: width / 2, color, clip: c) }
    }

    mutating func dot(_ p: Point, radius: Double, _ color: RGB, clip: Rect?) {
        capsule(p, p, radius: radius, color, clip: clipBounds(clip))
    }

    mutating func text(_ s: String, at: Point, role: TextRole, anchor: TextAnchor, color: RGB, vertical: Bool) {
        let k = fontScale, ss = Self.ss
        let bold = role == .title
        let size = textSize(s, role)
        let along = Int(size.width)
        let shift = anchor == .start ? 0 : anchor == .middle ? along / 2 : along
        // Font pixels are k output pixels, placed on whole output pixels.
        let origin: (x: Int, y: Int) = vertical
            ? (Int((at.x - size.height / 2).rounded()), Int((at.y + Double(along) / 2).rounded()))
            : (Int(at.x.rounded()) - shift, Int((at.y - size.height / 2).rounded()))
        for (i, ch) in s.enumerated() where ch != " " {
            for col in 0..<BitmapFont.glyphWidth {
                for row in 0..<BitmapFont.glyphHeight where BitmapFont.pixel(ch, col, row) {
                    let u = (i * BitmapFont.advance + col) * k  // along the text, output px
                    let v = row * k                             // across the text, output px
                    let extra = bold ? 1 : 0
                    if vertical {
                        let x = origin.x + v, y = origin.y - u - k - extra
                        fillHi(x * ss, y * ss, (x + k) * ss, (y + k + extra) * ss, color)
                    } else {
                        let x = origin.x + u, y = origin.y + v
                        fillHi(x * ss, y * ss, (x + k + extra) * ss, (y + k) * ss, color)
                    }
                }
            }
        }
    }

    /// The output image: each 3×3 block of hi-res pixels averaged.
    func rgb() -> [UInt8] {
        let ss = Self.ss, stride = hw * 3, n = ss * ss
        var out = [UInt8](repeating: 0, count: w * h * 3)
        px.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<h {
                    for x in 0..<w {
                        for ch in 0..<3 {
                            var sum = 0
                            for dy in 0..<ss {
                                let base = (y * ss + dy) * stride + x * ss * 3 + ch
                                for dx in 0..<ss { sum += Int(p[base + dx * 3]) }
                            }
                            o[(y * w + x) * 3 + ch] = UInt8((sum + n / 2) / n)
                        }
                    }
                }
            }
        }
        return out
    }
}
