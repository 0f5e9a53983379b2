import Foundation
import Myelin
import Testing

@Suite("Visualize")
struct VisualizeTests {
    @Test func grayFilterLayout() {
        // Two 1×2×2 filters; scale 2, padding 1, two columns.
        let w = Tensor([0.0, 1, 2, 3, 10, 10, 10, 10], shape: [2, 1, 2, 2])
        let g = Visualize.filterGrid(w, scale: 2, padding: 1, padValue: 0.25)
        // Width: 1 + 4 + 1 + 4 + 1 = 11; height 1 + 4 + 1 = 6.
        #expect(g.shape == [6, 11, 1])
        let v = g.scalars(as: Double.self)
        func at(_ y: Int, _ x: Int) -> Double { v[y * 11 + x] }
        #expect(at(0, 0) == 0.25 && at(5, 10) == 0.25 && at(3, 5) == 0.25)
        // Filter 0 normalised from 0...3: pixel (0,0) → 0, (1,1) → 1; each weight is 2×2 pixels.
        #expect(at(1, 1) == 0 && at(2, 2) == 0 && abs(at(1, 3) - 1.0 / 3) < 1e-6 && at(4, 4) == 1)
        // Filter 1 is constant: mid gray.
        #expect(at(1, 6) == 0.5 && at(4, 9) == 0.5)
        // Global normalisation: one range 0...10 for both.
        let gl = Visualize.filterGrid(w, normalization: .global, scale: 1, padding: 0)
        #expect(gl.shape == [2, 4, 1] && gl.scalars(as: Double.self).map { ($0 * 1000).rounded() / 1000 } == [0, 0.1, 1, 1, 0.2, 0.3, 1, 1])
    }

    @Test func rgbAndSeparateModes() {
        // One RGB filter 3×1×1: R=1, G=0, B=-1 → (1, 0.5, 0).
        let rgb = Visualize.filterGrid(Tensor([1.0, 0, -1], shape: [1, 3, 1, 1]), scale: 1, padding: 0)
        #expect(rgb.shape == [1, 1, 3] && rgb.scalars() == [1, 0.5, 0])
        // 2 filters × 2 channels, separate: a row per filter, a column per channel.
        let w = Tensor([0.0, 1, 2, 4], shape: [2, 2, 1, 1])
        let sep = Visualize.filterGrid(w, scale: 1, padding: 0)
        #expect(sep.shape == [2, 2, 1] && sep.scalars() == [0, 1, 0, 1])
        let mean = Visualize.filterGrid(w, channels: .mean, normalization: .global, scale: 1, padding: 0)
        #expect(mean.shape == [1, 2, 1] && mean.scalars() == [0, 1])
    }

    @Test func featureGridAndPNG() throws {
        let maps = Tensor((0..<(5 * 3 * 3)).map { Double($0) }, shape: [1, 5, 3, 3])
        let g = Visualize.featureGrid(maps, scale: 2, padding: 1)
        // 5 maps → 3 columns, 2 rows of 6×6 tiles.
        #expect(g.shape == [2 * 6 + 3, 3 * 6 + 4, 1])
        let v = g.scalars()
        #expect(v[1 * g.shape[1] + 1] == 0 && v[6 * g.shape[1] + 6] == 1)
        #expect(Visualize.featureGrid(maps, maxMaps: 2, scale: 1, padding: 0).shape == [3, 6, 1])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("myelin-vis-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try Visualize.write(g, to: url)
        let back = try ImageFile.read(contentsOf: url)
        #expect(back.shape == [1, g.shape[0], g.shape[1]])
    }
}
