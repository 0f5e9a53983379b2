import MyelinCore
import Foundation

/// An sRGB color.
public struct RGB: Sendable, Equatable, Hashable {
    public var r, g, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { (self.r, self.g, self.b) = (r, g, b) }
    /// From 0xRRGGBB.
    public init(hex: UInt32) { self.init(UInt8(hex >> 16 & 0xFF), UInt8(hex >> 8 & 0xFF), UInt8(hex & 0xFF)) }
    /// "#rrggbb".
    public var hexString: String { String(format: "#%02x%02x%02x", r, g, b) }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    /// The ten colors of matplotlib's "tab10" cycle, which stay distinct for most readers.
    public static let palette: [RGB] = [0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                        0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf].map { RGB(hex: $0) }
}

/// A named curve: y values over x values (NaN or infinite values leave a gap).
public struct Series: Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    /// nil picks the next palette color.
    public var color: RGB?

    /// Values at x = xStart, xStart + 1, ... (epochs count from 1 by default).
    public init(_ name: String, _ values: [Double], xStart: Double = 1, color: RGB? = nil) {
        self.init(name, x: values.indices.map { xStart + Double($0) }, y: values, color: color)
    }

    public init(_ name: String, x: [Double], y: [Double], color: RGB? = nil) {
        require(x.count == y.count, "Series '\(name)': \(x.count) x values but \(y.count) y values")
        (self.name, self.x, self.y, self.color) = (name, x, y, color)
    }
}

/// Why a chart could not be written.
public enum PlotError: Error, CustomStringConvertible, Equatable {
    case unknownFormat(path: String)
    public var description: String {
        switch self {
        case let .unknownFormat(path): "\(path): charts are written as .png or .svg; the extension says neither"
        }
    }
}

/// A line chart of one or more series with axes, ticks, grid, a title, axis labels and a
/// legend, rendered as SVG text or as a PNG picture, e.g. training curves per epoch:
///
///     let chart = LineChart(title: "Loss", xLabel: "epoch", yLabel: "loss",
///                           series: [("train", trainLoss), ("validation", valLoss)])
///     try chart.write(to: URL(fileURLWithPath: "loss.png"))
public struct LineChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// A fixed y range; nil fits the data (with a small margin).
    public var yRange: ClosedRange<Double>?
    /// Dots at the data points; nil shows them when every series has at most 60 points.
    public var showMarkers: Bool?

    /// Series of values at x = 1, 2, ... (epochs).
    public init(title: String = "", xLabel: String = "epoch", yLabel: String = "",
                series: [(name: String, values: [Double])], xStart: Double = 1) {
        self.init(title: title, xLabel: xLabel, yLabel: yLabel, series: series.map { Series($0.name, $0.values, xStart: xStart) })
    }

    public init(title: String = "", xLabel: String = "", yLabel: String = "", series: [Series]) {
        (self.title, self.xLabel, self.yLabel, self.series) = (title, xLabel, yLabel, series)
    }

    /// An SVG document (text).
    public func svg(width: Int = 800, height: Int = 500) -> String {
        Figure(panels: [self], columns: 1).svg(width: width, height: height)
    }

    /// A PNG picture (RGB).
    public func png(width: Int = 800, height: Int = 500) -> Data {
        Figure(panels: [self], columns: 1).png(width: width, height: height)
    }

    /// The RGB pixels (row-major, 3 bytes each) that `png` encodes.
    public func pixels(width: Int = 800, height: Int = 500) -> [UInt8] {
        Figure(panels: [self], columns: 1).pixels(width: width, height: height)
    }

    /// Writes a .png or .svg file (chosen by the extension) atomically.
    public func write(to url: URL, width: Int = 800, height: Int = 500) throws {
        try Figure(panels: [self], columns: 1).write(to: url, width: width, height: height)
    }
}

/// Several charts side by side (or in a grid), with an optional overall title.
public struct Figure: Sendable {
    public var panels: [LineChart]
    public var columns: Int
    public var title: String?

    public init(panels: [LineChart], columns: Int? = nil, title: String? = nil) {
        self.panels = panels
        self.columns = max(1, columns ?? panels.count)
        self.title = title
    }

    public func svg(width: Int = 1200, height: Int = 450) -> String {
        var canvas = SVGCanvas(width: width, height: height)
        draw(on: &canvas)
        return canvas.document()
    }

    public func pixels(width: Int = 1200, height: Int = 450) -> [UInt8] {
        var canvas = RasterCanvas(width: width, height: height)
        draw(on: &canvas)
        return canvas.rgb()
    }

    public func png(width: Int = 1200, height: Int = 450) -> Data {
        PNG.encode(pixels: pixels(width: width, height: height), width: width, height: height, colorType: .rgb)
    }

    /// Writes a .png or .svg file (chosen by the extension) atomically.
    public func write(to url: URL, width: Int = 1200, height: Int = 450) throws {
        switch url.pathExtension.lowercased() {
        case "png": try AtomicFile.write(png(width: width, height: height), to: url)
        case "svg": try AtomicFile.write(Data(svg(width: width, height: height).utf8), to: url)
        default: throw PlotError.unknownFormat(path: url.path)
        }
    }

    func draw<C: ChartCanvas>(on c: inout C) {
        let frame = Rect(x: 0, y: 0, w: c.width, h: c.height)
        c.fill(frame, .white, opacity: 1)
        var area = frame
        if let title, !title.isEmpty {
            let h = c.textSize(title, .title).height
            c.text(title, at: Point(x: frame.w / 2, y: 12 * c.unit + h / 2), role: .title, anchor: .middle, color: Style.titleColor)
            area.y += h + 12 * c.unit
            area.h -= h + 12 * c.unit
        }
        let rows = max(1, (panels.count + columns - 1) / columns)
        let cw = area.w / Double(columns), ch = area.h / Double(rows)
        for (i, panel) in panels.enumerated() {
            let cell = Rect(x: area.x + Double(i % columns) * cw, y: area.y + Double(i / columns) * ch, w: cw, h: ch)
            panel.draw(on: &c, in: cell)
        }
    }
}

/// The curves a training run reports, as a figure: loss on the left, accuracy (or the
/// other metrics) on the right, train and validation in the same colors in both panels.
public enum TrainingCurves {
    /// From a Keras-style history: "loss", "val_loss", "accuracy", "val_accuracy", ...
    /// (one value per epoch). Keys containing "loss" go to the left panel, the rest to the right.
    public static func figure(history: [String: [Double]], title: String? = nil) -> Figure {
        let losses = history.filter { $0.key.contains("loss") }
        let metrics = history.filter { !$0.key.contains("loss") }
        var panels: [LineChart] = []
        for (group, panelTitle) in [(losses, "Loss"), (metrics, "")] where !group.isEmpty {
            let bases = Set(group.keys.map { $0.hasPrefix("val_") ? String($0.dropFirst(4)) : $0 }).sorted()
            var series: [Series] = []
            for (b, base) in bases.enumerated() {
                for (isValidation, key) in [(false, base), (true, "val_" + base)] {
                    guard let values = group[key] else { continue }
                    let split = isValidation ? "validation" : "train"
                    let name = bases.count == 1 ? split : "\(split) \(base)"
                    series.append(Series(name, values, color: RGB.palette[(2 * b + (isValidation ? 1 : 0)) % RGB.palette.count]))
                }
            }
            let allAccuracy = bases.allSatisfy { $0.contains("acc") }
            let t = panelTitle.isEmpty ? (allAccuracy ? "Accuracy" : "Metrics") : panelTitle
            let yl = bases.count == 1 ? bases[0] : (panelTitle.isEmpty ? (allAccuracy ? "accuracy" : "value") : "loss")
            panels.append(LineChart(title: t, xLabel: "epoch", yLabel: yl, series: series))
        }
        return Figure(panels: panels, columns: max(1, panels.count), title: title)
    }

    /// From separate arrays (validation and accuracy curves are optional).
    public static func figure(trainLoss: [Double], validationLoss: [Double]? = nil, trainAccuracy: [Double]? = nil,
                              validationAccuracy: [Double]? = nil, title: String? = nil) -> Figure {
        var h: [String: [Double]] = ["loss": trainLoss]
        h["val_loss"] = validationLoss
        h["accuracy"] = trainAccuracy
        h["val_accuracy"] = validationAccuracy
        return figure(history: h, title: title)
    }

    /// Writes `<name>.png` and `<name>.svg` into `directory` (created if needed); returns both URLs.
    @discardableResult
    public static func write(history: [String: [Double]], to directory: URL, name: String = "curves",
                             title: String? = nil, width: Int = 1200, height: Int = 450) throws -> (png: URL, svg: URL) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let fig = figure(history: history, title: title)
        let png = directory.appendingPathComponent(name + ".png"), svg = directory.appendingPathComponent(name + ".svg")
        try fig.write(to: png, width: width, height: height)
        try fig.write(to: svg, width: width, height: height)
        return (png, svg)
    }
}

// MARK: - Drawing, shared by the SVG and PNG back ends

struct Point: Equatable { var x, y: Double }

struct Rect: Hashable {
    var x, y, w, h: Double
    var maxX: Double { x + w }
    var maxY: Double { y + h }
    func contains(_ p: Point) -> Bool { p.x >= x && p.x <= maxX && p.y >= y && p.y <= maxY }
    func insetBy(_ d: Double) -> Rect { Rect(x: x + d, y: y + d, w: w - 2 * d, h: h - 2 * d) }
}

enum TextRole { case title, label, tick, legend }
enum TextAnchor { case start, middle, end }

/// What a chart needs from a back end. Coordinates are output pixels; `unit` is the
/// scale of line widths and spacing (1 at 800×500).
protocol ChartCanvas {
    var width: Double { get }
    var height: Double { get }
    var unit: Double { get }
    /// Width and height (capital height) of a string.
    func textSize(_ text: String, _ role: TextRole) -> (width: Double, height: Double)
    mutating func fill(_ r: Rect, _ color: RGB, opacity: Double)
    mutating func stroke(_ r: Rect, _ color: RGB, width: Double)
    mutating func polyline(_ points: [Point], _ color: RGB, width: Double, clip: Rect?)
    mutating func dot(_ p: Point, radius: Double, _ color: RGB, clip: Rect?)
    /// `at` is the anchor on the text's vertical middle; vertical text reads bottom to top, centered on `at`.
    mutating func text(_ s: String, at: Point, role: TextRole, anchor: TextAnchor, color: RGB, vertical: Bool)
    mutating func beginGroup(_ name: String)
    mutating func endGroup()
}

extension ChartCanvas {
    mutating func text(_ s: String, at: Point, role: TextRole, anchor: TextAnchor, color: RGB) {
        text(s, at: at, role: role, anchor: anchor, color: color, vertical: false)
    }
    mutating func beginGroup(_ name: String) {}
    mutating func endGroup() {}
}

enum Style {
    static let titleColor = RGB(hex: 0x1a1a1a)
    static let textColor = RGB(hex: 0x333333)
    static let gridColor = RGB(hex: 0xe3e3e3)
    static let axisColor = RGB(hex: 0x555555)
    static let legendBorder = RGB(hex: 0xc8c8c8)
}

/// Ticks at 1, 2 or 5 × 10^k steps, about `target` of them, inside [lo, hi].
func niceTicks(_ lo: Double, _ hi: Double, target: Int, integer: Bool = false) -> (ticks: [Double], step: Double) {
    let span = hi - lo
    guard span > 0, span.isFinite else { return ([lo], 1) }
    let rough = span / Double(max(1, target))
    let mag = Foundation.pow(10, (Foundation.log10(rough)).rounded(.down))
    let f = rough / mag
    var step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag
    if integer { step = max(1, step.rounded()) }
    var ticks: [Double] = []
    var t = (lo / step).rounded(.up) * step
    while t <= hi + step * 1e-9, ticks.count < 100 {
        ticks.append(abs(t) < step * 1e-9 ? 0 : t)
        t += step
    }
    return (ticks, step)
}

/// Tick labels with as many decimals as the step needs (all labels alike), scientific for extremes.
func tickLabels(_ ticks: [Double], step: Double) -> [String] {
    let biggest = ticks.map(abs).max() ?? 0
    if biggest >= 1e6 || (step < 1e-4 && biggest < 1e-3) {
        return ticks.map { $0 == 0 ? "0" : String(format: "%.1e", $0) }
    }
    let decimals = max(0, Int(-(Foundation.log10(step) + 1e-9).rounded(.down)))
    return ticks.map { String(format: "%.\(decimals)f", $0 == 0 ? 0 : $0) }
}

extension LineChart {
    func draw<C: ChartCanvas>(on c: inout C, in frame: Rect) {
        let u = c.unit
        let pad = 14 * u, gap = 7 * u, tickLen = 5 * u
        // Data ranges over finite points only.
        let colored = series.enumerated().map { i, s in (s, s.color ?? RGB.palette[i % RGB.palette.count]) }
        let finite = series.flatMap { s in zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite } }
        var (xlo, xhi) = (finite.map(\.0).min() ?? 0, finite.map(\.0).max() ?? 1)
        var (ylo, yhi) = (finite.map(\.1).min() ?? 0, finite.map(\.1).max() ?? 1)
        let integerX = finite.allSatisfy { $0.0 == $0.0.rounded() }
        if xlo == xhi { (xlo, xhi) = (xlo - 1, xhi + 1) }
        if let r = yRange, r.upperBound > r.lowerBound {
            (ylo, yhi) = (r.lowerBound, r.upperBound)
        } else {
            if ylo == yhi { let d = max(abs(ylo) * 0.1, 0.5); (ylo, yhi) = (ylo - d, yhi + d) }
            let m = (yhi - ylo) * 0.06
            (ylo, yhi) = (ylo - m, yhi + m)
        }
        let xm = (xhi - xlo) * 0.03
        (xlo, xhi) = (xlo - xm, xhi + xm)

        // Layout, from the outside in.
        let tickH = c.textSize("0", .tick).height
        var top = frame.y + pad
        if !title.isEmpty {
            let h = c.textSize(title, .title).height
            top += h + 1.4 * gap
        }
        var bottom = frame.maxY - pad - tickH - gap - tickLen
        if !xLabel.isEmpty { bottom -= c.textSize(xLabel, .label).height + 1.4 * gap }
        let yt = niceTicks(ylo, yhi, target: min(8, max(3, Int((bottom - top) / (tickH * 4.5)))))
        let yLabels = tickLabels(yt.ticks, step: yt.step)
        let yLabelWidth = yLabels.map { c.textSize($0, .tick).width }.max() ?? 0
        var left = frame.x + pad + yLabelWidth + gap + tickLen
        if !yLabel.isEmpty { left += c.textSize(yLabel, .label).height + 1.6 * gap }
        let sampleWidth = c.textSize(integerX ? "000" : "0.00", .tick).width
        var right = frame.maxX - pad - sampleWidth / 2
        let xt = niceTicks(xlo, xhi, target: min(10, max(2, Int((right - left) / (sampleWidth * 3.5)))), integer: integerX)
        let xLabels = tickLabels(xt.ticks, step: xt.step)
        if let last = xLabels.last { right = min(right, frame.maxX - pad - c.textSize(last, .tick).width / 2) + 0 }
        let plot = Rect(x: left, y: top, w: max(1, right - left), h: max(1, bottom - top))
        func px(_ x: Double) -> Double { plot.x + (x - xlo) / (xhi - xlo) * plot.w }
        func py(_ y: Double) -> Double { plot.maxY - (y - ylo) / (yhi - ylo) * plot.h }

        // Grid, frame, ticks.
        for t in yt.ticks { c.polyline([Point(x: plot.x, y: py(t)), Point(x: plot.maxX, y: py(t))], Style.gridColor, width: u, clip: nil) }
        for t in xt.ticks { c.polyline([Point(x: px(t), y: plot.y), Point(x: px(t), y: plot.maxY)], Style.gridColor, width: u, clip: nil) }
        c.stroke(plot, Style.axisColor, width: u)
        for (t, label) in zip(yt.ticks, yLabels) {
            c.polyline([Point(x: plot.x - tickLen, y: py(t)), Point(x: plot.x, y: py(t))], Style.axisColor, width: u, clip: nil)
            c.text(label, at: Point(x: plot.x - tickLen - gap, y: py(t)), role: .tick, anchor: .end, color: Style.textColor)
        }
        for (t, label) in zip(xt.ticks, xLabels) {
            c.polyline([Point(x: px(t), y: plot.maxY), Point(x: px(t), y: plot.maxY + tickLen)], Style.axisColor, width: u, clip: nil)
            c.text(label, at: Point(x: px(t), y: plot.maxY + tickLen + gap + tickH / 2), role: .tick, anchor: .middle, color: Style.textColor)
        }

        // Curves: split at non-finite values.
        let markers = showMarkers ?? series.allSatisfy { $0.y.count <= 60 }
        for (s, color) in colored {
            c.beginGroup(s.name)
            var run: [Point] = []
            func flush() { if run.count > 1 { c.polyline(run, color, width: 2.2 * u, clip: plot) }; run = [] }
            for (x, y) in zip(s.x, s.y) {
                if x.isFinite && y.isFinite { run.append(Point(x: px(x), y: py(y))) } else { flush() }
            }
            flush()
            if markers {
                for (x, y) in zip(s.x, s.y) where x.isFinite && y.isFinite { c.dot(Point(x: px(x), y: py(y)), radius: 3.2 * u, color, clip: plot) }
            }
            c.endGroup()
        }

        // Title and axis labels.
        if !title.isEmpty {
            let h = c.textSize(title, .title).height
            c.text(title, at: Point(x: plot.x + plot.w / 2, y: frame.y + pad + h / 2), role: .title, anchor: .middle, color: Style.titleColor)
        }
        if !xLabel.isEmpty {
            let h = c.textSize(xLabel, .label).height
            c.text(xLabel, at: Point(x: plot.x + plot.w / 2, y: frame.maxY - pad - h / 2), role: .label, anchor: .middle, color: Style.textColor)
        }
        if !yLabel.isEmpty {
            let h = c.textSize(yLabel, .label).height
            c.text(yLabel, at: Point(x: frame.x + pad + h / 2, y: plot.y + plot.h / 2), role: .label, anchor: .middle,
                   color: Style.textColor, vertical: true)
        }

        // Legend in the corner that hides the fewest points.
        let named = colored.filter { !$0.0.name.isEmpty }
        guard !named.isEmpty else { return }
        let textH = c.textSize("Ag", .legend).height
        let row = textH * 1.9, inner = 9 * u, sample = 24 * u
        let textW = named.map { c.textSize($0.0.name, .legend).width }.max() ?? 0
        let box = (w: inner + sample + gap + textW + inner, h: inner * 0.6 * 2 + row * Double(named.count))
        let inset = 10 * u
        let corners = [Point(x: plot.maxX - inset - box.w, y: plot.y + inset), Point(x: plot.x + inset, y: plot.y + inset),
                       Point(x: plot.x + inset, y: plot.maxY - inset - box.h), Point(x: plot.maxX - inset - box.w, y: plot.maxY - inset - box.h)]
        var samples: [Point] = []
        for s in series {
            let pts = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }.map { Point(x: px($0.0), y: py($0.1)) }
            for (a, b) in zip(pts, pts.dropFirst()) {
                for k in 0..<8 { let t = Double(k) / 8; samples.append(Point(x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t)) }
            }
            if let last = pts.last { samples.append(last) }
        }
        let best = corners.min { a, b in
            let ra = Rect(x: a.x, y: a.y, w: box.w, h: box.h).insetBy(-4 * u), rb = Rect(x: b.x, y: b.y, w: box.w, h: box.h).insetBy(-4 * u)
            return samples.filter(ra.contains).count < samples.filter(rb.contains).count
        } ?? corners[0]
        let legend = Rect(x: best.x, y: best.y, w: box.w, h: box.h)
        c.beginGroup("legend")
        c.fill(legend, .white, opacity: 0.88)
        c.stroke(legend, Style.legendBorder, width: u)
        for (i, (s, color)) in named.enumerated() {
            let y = legend.y + inner * 0.6 + row * (Double(i) + 0.5)
            let x0 = legend.x + inner
            c.polyline([Point(x: x0, y: y), Point(x: x0 + sample, y: y)], color, width: 2.2 * u, clip: nil)
            if markers { c.dot(Point(x: x0 + sample / 2, y: y), radius: 3.2 * u, color, clip: nil) }
            c.text(s.name, at: Point(x: x0 + sample + gap, y: y), role: .legend, anchor: .start, color: Style.textColor)
        }
        c.endGroup()
    }
}
