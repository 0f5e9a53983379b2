import Foundation
import Testing
import Myelin

@Suite struct PlotTests {
    static let history: [String: [Double]] = [
        "loss": [2.1, 1.2, 0.8, 0.6, 0.48, 0.4, 0.35, 0.31, 0.28, 0.26, 0.24, 0.22],
        "val_loss": [1.6, 1.0, 0.75, 0.62, 0.55, 0.52, 0.5, 0.5, 0.51, 0.53, 0.55, 0.58],
        "accuracy": [0.42, 0.63, 0.74, 0.8, 0.84, 0.865, 0.88, 0.893, 0.902, 0.91, 0.918, 0.925],
        "val_accuracy": [0.55, 0.68, 0.76, 0.8, 0.82, 0.83, 0.836, 0.84, 0.838, 0.835, 0.833, 0.83],
    ]

    @Test func svgHoldsEverySeriesAsAPath() {
        let chart = LineChart(title: "Loss <train & val>", xLabel: "epoch", yLabel: "loss",
                              series: [("train", Self.history["loss"]!), ("validation", Self.history["val_loss"]!)])
        let svg = chart.svg()
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.contains("<g class=\"series\" data-name=\"train\">"))
        #expect(svg.contains("<g class=\"series\" data-name=\"validation\">"))
        #expect(svg.contains(">Loss &lt;train &amp; val&gt;</text>"))
        #expect(svg.contains(">epoch</text>") && svg.contains(">loss</text>"))
        // One path per series with one point per epoch, plus the legend.
        let trainGroup = svg.components(separatedBy: "data-name=\"train\">")[1].components(separatedBy: "</g>")[0]
        let path = trainGroup.components(separatedBy: " d=\"")[1].components(separatedBy: "\"")[0]
        #expect(path.filter { $0 == "L" }.count == 11)
        #expect(svg.contains("<g class=\"legend\">"))
        #expect(svg.hasSuffix("</svg>\n"))
    }

    @Test func gapsSplitTheLine() {
        let chart = LineChart(series: [("a", [1, 2, .nan, 4, 5])])
        let group = chart.svg().components(separatedBy: "data-name=\"a\">")[1].components(separatedBy: "</g>")[0]
        #expect(group.components(separatedBy: "<path").count - 1 == 2)
    }

    @Test func ticksAreNiceNumbers() {
        let svg = LineChart(series: [("a", [0.1, 0.35, 0.9])]).svg()
        for label in ["0.2", "0.4", "0.6", "0.8"] { #expect(svg.contains(">\(label)</text>")) }
        for label in ["1", "2", "3"] { #expect(svg.contains(">\(label)</text>")) }
    }

    @Test func pngOfAChartDecodes() throws {
        let png = LineChart(title: "Accuracy", series: [("train", Self.history["accuracy"]!)]).png(width: 400, height: 250)
        let d = try DecodedPNG(png)
        #expect(d.width == 400 && d.height == 250 && d.colorType == 2)
        // Mostly white background, and the first palette color appears.
        let blue = RGB.palette[0]
        var white = 0, blueish = 0
        for i in stride(from: 0, to: d.pixels.count, by: 3) {
            let (r, g, b) = (d.pixels[i], d.pixels[i + 1], d.pixels[i + 2])
            if r == 255 && g == 255 && b == 255 { white += 1 }
            if r == blue.r && g == blue.g && b == blue.b { blueish += 1 }
        }
        #expect(white > 400 * 250 / 2)
        #expect(blueish > 100)
    }

    @Test func trainingCurvesFigureWritesPNGAndSVG() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("myelin-plot-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (png, svg) = try TrainingCurves.write(history: Self.history, to: dir)
        let d = try DecodedPNG(Data(contentsOf: png))
        #expect(d.width == 1200 && d.height == 450)
        let text = try String(contentsOf: svg, encoding: .utf8)
        for s in [">Loss</text>", ">Accuracy</text>", "data-name=\"train\"", "data-name=\"validation\""] { #expect(text.contains(s)) }
        #expect(text.components(separatedBy: "class=\"series\"").count - 1 == 4)
        #expect(throws: PlotError.self) { try LineChart(series: []).write(to: dir.appendingPathComponent("x.jpg")) }
    }

    @Test func degenerateDataStillDraws() throws {
        for values in [[], [3.0], [1, 1, 1], [.nan, .infinity]] as [[Double]] {
            let chart = LineChart(title: "t", series: [("s", values)])
            #expect(chart.svg().contains("</svg>"))
            #expect(try DecodedPNG(chart.png(width: 200, height: 120)).width == 200)
        }
    }

    /// Renders the example pictures into the temporary directory (for a person to look at).
    @Test func exampleCharts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("myelin-charts")
        try TrainingCurves.write(history: Self.history, to: dir, name: "curves")
        let chart = LineChart(title: "Schedules ()*+,-./:;<=>?@[\\]^_`{|}~",
                              xLabel: "step", yLabel: "learning rate (log10)",
                              series: [("cosine", (0..<200).map { 0.5 * (1 + cos(Double($0) / 199 * .pi)) }),
                                       ("linear warmup", (0..<200).map { min(1, Double($0) / 40) })])
        try chart.write(to: dir.appendingPathComponent("chart.png"))
        try chart.write(to: dir.appendingPathComponent("chart.svg"))
        try TrainingCurves.figure(history: Self.history, title: "MLP on MNIST").write(to: dir.appendingPathComponent("small.png"), width: 640, height: 260)
    }
}
