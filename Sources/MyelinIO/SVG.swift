import MyelinCore
import Foundation

/// The SVG back end of charts: plain SVG 1.1 elements (rect, path, circle, text), each
/// series in a `<g class="series" data-name="...">` group, clipped to the plot area.
/// Text widths are estimated (0.58 em per character) for the layout.
struct SVGCanvas: ChartCanvas {
    let width: Double
    let height: Double
    let unit: Double
    private var body: [String] = []
    private var defs: [String] = []
    private var clips: [Rect: String] = [:]

    init(width: Int, height: Int) {
        require(width > 0 && height > 0, "chart: a \(width)×\(height) picture is invalid (positive sides)")
        (self.width, self.height) = (Double(width), Double(height))
        unit = max(0.5, min(Double(width) / 800, Double(height) / 500))
    }

    func fontSize(_ role: TextRole) -> Double {
        switch role {
        case .title: 17 * unit
        case .label: 14 * unit
        case .tick, .legend: 13 * unit
        }
    }

    func textSize(_ text: String, _ role: TextRole) -> (width: Double, height: Double) {
        let size = fontSize(role)
        return (Double(text.count) * size * (role == .title ? 0.62 : 0.58), size * 0.72)
    }

    static func number(_ v: Double) -> String {
        let s = String(format: "%.2f", v)
        var t = Substring(s)
        while t.hasSuffix("0") { t = t.dropLast() }
        if t.hasSuffix(".") { t = t.dropLast() }
        return t == "-0" ? "0" : String(t)
    }

    /// Text with &, <, >, " escaped for XML.
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    private mutating func clipAttribute(_ clip: Rect?) -> String {
        guard let clip else { return "" }
        if let id = clips[clip] { return " clip-path=\"url(#\(id))\"" }
        let id = "clip\(clips.count)"
        clips[clip] = id
        let n = Self.number
        defs.append("<clipPath id=\"\(id)\"><rect x=\"\(n(clip.x))\" y=\"\(n(clip.y))\" width=\"\(n(clip.w))\" height=\"\(n(clip.h))\"/></clipPath>")
        return " clip-path=\"url(#\(id))\""
    }

    mutating func fill(_ r: Rect, _ color: RGB, opacity: Double) {
        let n = Self.number
        body.append("<rect x=\"\(n(r.x))\" y=\"\(n(r.y))\" width=\"\(n(r.w))\" height=\"\(n(r.h))\" fill=\"\(color.hexString)\"" +
                    (opacity < 1 ? " fill-opacity=\"\(n(opacity))\"" : "") + "/>")
    }

    mutating func stroke(_ r: Rect, _ color: RGB, width: Double) {
        let n = Self.number
        body.append("<rect x=\"\(n(r.x))\" y=\"\(n(r.y))\" width=\"\(n(r.w))\" height=\"\(n(r.h))\" fill=\"none\" stroke=\"\(color.hexString)\" stroke-width=\"\(n(width))\"/>")
    }

    mutating func polyline(_ points: [Point], _ color: RGB, width: Double, clip: Rect?) {
        guard let first = points.first else { return }
        let n = Self.number
        let d = "M\(n(first.x)) \(n(first.y))" + points.dropFirst().map { "L\(n($0.x)) \(n($0.y))" }.joined()
        let clipAttr = clipAttribute(clip)
        body.append("<path d=\"\(d)\" fill=\"none\" stroke=\"\(color.hexString)\" stroke-width=\"\(n(width))\" stroke-linejoin=\"round\" stroke-linecap=\"round\"\(clipAttr)/>")
    }

    mutating func dot(_ p: Point, radius: Double, _ color: RGB, clip: Rect?) {
        let n = Self.number
        let clipAttr = clipAttribute(clip)
        body.append("<circle cx=\"\(n(p.x))\" cy=\"\(n(p.y))\" r=\"\(n(radius))\" fill=\"\(color.hexString)\"\(clipAttr)/>")
    }

    mutating func text(_ s: String, at: Point, role: TextRole, anchor: TextAnchor, color: RGB, vertical: Bool) {
        let n = Self.number
        let size = fontSize(role)
        let a = switch anchor { case .start: "start"; case .middle: "middle"; case .end: "end" }
        // Baseline = middle + 0.36 em (roughly half the capital height below the middle).
        var attrs = "font-size=\"\(n(size))\" text-anchor=\"\(a)\" fill=\"\(color.hexString)\""
        if role == .title { attrs += " font-weight=\"bold\"" }
        if vertical {
            let (x, y) = (at.x + size * 0.36, at.y)
            body.append("<text x=\"\(n(x))\" y=\"\(n(y))\" \(attrs) transform=\"rotate(-90 \(n(x)) \(n(y)))\">\(Self.escape(s))</text>")
        } else {
            body.append("<text x=\"\(n(at.x))\" y=\"\(n(at.y + size * 0.36))\" \(attrs)>\(Self.escape(s))</text>")
        }
    }

    mutating func beginGroup(_ name: String) {
        body.append(name == "legend" ? "<g class=\"legend\">" : "<g class=\"series\" data-name=\"\(Self.escape(name))\">")
    }

    mutating func endGroup() { body.append("</g>") }

    func document() -> String {
        let (w, h) = (Self.number(width), Self.number(height))
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)" \
        font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
        <defs>\(defs.joined())</defs>
        \(body.joined(separator: "\n"))
        </svg>

        """
    }
}
