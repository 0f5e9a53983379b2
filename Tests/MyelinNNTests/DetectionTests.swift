import Foundation
import Myelin
import Testing

/// The reference values of scripts/fixtures_detection.py.
enum DetectionFixtures {
    static let file: (tensors: [String: Tensor], metaJSON: String) = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/detection.safetensors")
        do {
            let (tensors, metadata) = try SafeTensors.read(contentsOf: url)
            return (tensors, metadata["meta"] ?? "{}")
        } catch {
            fatalError("cannot read \(url.path): \(error); run scripts/fixtures_detection.py")
        }
    }()

    /// The metadata "meta" (JSON): parameter counts and case settings.
    static var meta: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(file.metaJSON.utf8))) as? [String: Any] ?? [:]
    }

    static func tensor(_ name: String) -> Tensor {
        guard let t = file.tensors[name] else { fatalError("fixture '\(name)' is missing; rerun scripts/fixtures_detection.py") }
        return t
    }

    static func has(_ name: String) -> Bool { file.tensors[name] != nil }

    static func group(_ prefix: String) -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (k, v) in file.tensors where k.hasPrefix(prefix) { d[String(k.dropFirst(prefix.count))] = v }
        return d
    }

    static func int(_ key: String) -> Int { meta[key] as? Int ?? -1 }
}

/// Boxes and non-maximum suppression against torchvision.ops.
@Suite struct DetectionTests {
    @Test func boxConvertMatchesTorchvision() {
        let a = DetectionFixtures.tensor("box.a")
        expectClose(boxConvert(a, from: .xyxy, to: .cxcywh), DetectionFixtures.tensor("box.cxcywh"), "box_convert cxcywh")
        expectClose(boxConvert(a, from: .xyxy, to: .xywh), DetectionFixtures.tensor("box.xywh"), "box_convert xywh")
        // Round trips through every format.
        for f in BoxFormat.allCases {
            for g in BoxFormat.allCases {
                expectClose(boxConvert(boxConvert(boxConvert(a, from: .xyxy, to: f), from: f, to: g), from: g, to: .xyxy), a,
                            "\(f) → \(g) → xyxy")
            }
        }
        // Leading axes are kept.
        #expect(boxConvert(Tensor.zeros([2, 3, 4]), from: .cxcywh, to: .xyxy).shape == [2, 3, 4])
    }

    @Test func boxIoUMatchesTorchvision() {
        let a = DetectionFixtures.tensor("box.a"), b = DetectionFixtures.tensor("box.b")
        let iou = boxIoU(a, b)
        expectClose(iou, DetectionFixtures.tensor("box.iou"), rtol: 1e-6, atol: 1e-7, "box_iou")
        #expect(abs(iou.scalars(as: Double.self)[3] - 1) < 1e-6)  // a[0] and b[3] are the same box
        expectClose(boxArea(Tensor([0.0, 0, 2, 3, 1, 1, 1, 5], shape: [2, 4])), Tensor([6.0, 0]), "box_area")
        #expect(boxIoU(Tensor.zeros([0, 4]), b).shape == [0, 4])
        // BoundingBox agrees with the tensor version.
        let v = a.scalars(as: Double.self), w = b.scalars(as: Double.self)
        let box = { (x: [Double], i: Int) in BoundingBox(x1: x[4 * i], y1: x[4 * i + 1], x2: x[4 * i + 2], y2: x[4 * i + 3]) }
        #expect(abs(box(v, 1).iou(box(w, 2)) - iou.scalars(as: Double.self)[1 * 4 + 2]) < 1e-5)
    }

    @Test func boxIoUGradients() {
        // Overlapping boxes, away from the kinks of max/min and the clamp.
        let a = Tensor([0.0, 0, 4, 3, 1, 1, 5, 6], shape: [2, 4]).to(.float64)
        let b = Tensor([2.0, 1.5, 6, 4.2, -1, 0.5, 3.1, 2.2, 0.3, 2, 2.5, 7], shape: [3, 4]).to(.float64)
        expectGradients([a, b], "boxIoU") { boxIoU($0[0], $0[1]) * Tensor.arange(6, dtype: .float64).reshaped([2, 3]) }
        expectGradients([b], "boxConvert") { boxConvert($0[0], from: .xywh, to: .cxcywh).square() }
    }

    @Test func nmsMatchesTorchvisionIncludingTies() throws {
        let thresholds = try #require(DetectionFixtures.meta["nms_thresholds"] as? [Double])
        for (k, thr) in thresholds.enumerated() {
            let boxes = DetectionFixtures.tensor("nms\(k).boxes"), scores = DetectionFixtures.tensor("nms\(k).scores")
            let classes = DetectionFixtures.tensor("nms\(k).classes")
            let keep = nms(boxes, scores, iouThreshold: thr)
            #expect(keep.dtype == .int64)
            #expect(keep.integers() == DetectionFixtures.tensor("nms\(k).keep").integers(), "nms case \(k)")
            #expect(batchedNMS(boxes, scores, classes: classes, iouThreshold: thr).integers()
                    == DetectionFixtures.tensor("nms\(k).batched").integers(), "batched_nms case \(k)")
        }
    }

    @Test func nmsByHand() {
        // Equal scores: the lower index wins; IoU exactly at the threshold does not suppress (torchvision: ">").
        let boxes = Tensor([0.0, 0, 2, 2, 0, 0, 2, 2, 1, 0, 3, 2, 10, 10, 11, 11], shape: [4, 4])
        let scores = Tensor([0.5, 0.5, 0.9, 0.1])
        // IoU(box 2, box 0) = 2/6 = 1/3.
        #expect(nms(boxes, scores, iouThreshold: 0.5).integers() == [2, 0, 3])
        #expect(nms(boxes, scores, iouThreshold: 0.3).integers() == [2, 3])
        #expect(nms(boxes, scores, iouThreshold: 1.0).integers() == [2, 0, 1, 3])
        #expect(batchedNMS(boxes, scores, classes: Tensor([0, 1, 0, 0]), iouThreshold: 0.3).integers() == [2, 1, 3])
        #expect(nms(Tensor.zeros([0, 4]), Tensor.zeros([0]), iouThreshold: 0.5).integers() == [])
    }

    @Test func misuseNamesTheBox() async {
        let inverted = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = boxIoU(Tensor([0.0, 0, 2, 2, 5, 5, 3, 8], shape: [2, 4]), Tensor([0.0, 0, 1, 1], shape: [1, 4]))
        }
        #expect(stopMessage(inverted).contains("row 1"))
        #expect(stopMessage(inverted).contains("boxConvert"))
        let shape = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = nms(Tensor.zeros([3, 5]), Tensor.zeros([3]), iouThreshold: 0.5)
        }
        #expect(stopMessage(shape).contains("[N, 4]"))
        let scores = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = nms(Tensor.zeros([3, 4]), Tensor.zeros([2]), iouThreshold: 0.5)
        }
        #expect(stopMessage(scores).contains("scores must be [3]"))
        let classes = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = batchedNMS(Tensor.zeros([2, 4]), Tensor.zeros([2]), classes: Tensor([0.0, 1.0]), iouThreshold: 0.5)
        }
        #expect(stopMessage(classes).contains("classes must be integers"))
    }
}
