import Foundation
import Myelin
import Testing

/// YOLOv1: the paper's network, the head's layout against PyTorch, grid decoding and the loss.
/// Serialized: the paper's network holds 1.1 GB of weights.
@Suite(.serialized) struct YOLOTests {
    @Test func papersNetworkCountsAndShapes() {
        let model = YOLOv1()
        // Computed by scripts/fixtures_detection.py from the paper's figure 3, as built here.
        #expect(model.parameterCount == 271_703_550)
        #expect(DetectionFixtures.int("yolo_params") == 271_703_550)
        #expect(model.backbone.parameterCount == 60_155_968)
        #expect(model.backboneChannels == 1024)
        let convs = (model.backbone as? Sequential)?.layers.filter { $0 is Conv2D }.count
        #expect(convs == 24)
        let s = ModelSummary(model, inputShape: [3, 448, 448])
        #expect(s.outputShape == [1, 7, 7, 30])
        #expect(!s.macsIncomplete)
        #expect(s.totalParameters == 271_703_550)
        // The backbone ends at 7×7×1024, so the pooling is the identity.
        #expect(s.layers.first { $0.name == "pool" }?.inputShape == [1, 1024, 7, 7])
        // 20.29 G multiply-adds (PyTorch forward hooks on the same network give the same count).
        #expect(s.totalMACs == 20_285_153_280, "\(s.totalMACs)")
        let state = model.stateDict()
        #expect(state["backbone.0.weight"]?.shape == [64, 3, 7, 7])
        #expect(state["head.1.weight"]?.shape == [4096, 7 * 7 * 1024])
        #expect(state["head.4.weight"]?.shape == [1470, 4096])
    }

    @Test func headMatchesPyTorch() throws {
        let tiny = Sequential {
            Conv2D(3, 4, 3, stride: 2, padding: 1); LeakyReLU(negativeSlope: 0.1); MaxPool2D(2)
            Conv2D(4, 6, 3, padding: 1); LeakyReLU(negativeSlope: 0.1)
        }
        let model = YOLOv1(classes: 3, gridSize: 2, boxesPerCell: 2, backbone: tiny, inputSize: 16, hiddenFeatures: 16)
        try model.loadStateDict(DetectionFixtures.group("yolo.state."))
        model.eval()
        let y = withoutGradients { model(DetectionFixtures.tensor("yolo.x")) }
        expectClose(y, DetectionFixtures.tensor("yolo.out"), rtol: 1e-5, atol: 1e-6, "YOLOv1 output")
        #expect(y.shape == [2, 2, 2, 13])
    }

    @Test func anyBackboneWorks() {
        let model = YOLOv1(classes: 5, backbone: ResNet(depth: 18, includeTop: false), inputSize: 64, hiddenFeatures: 32,
                           generator: RandomGenerator(seed: 1))
        #expect(model.backboneChannels == 512)
        model.eval()
        let y = withoutGradients { model(Tensor.randn([2, 3, 64, 64], generator: RandomGenerator(seed: 2))) }
        #expect(y.shape == [2, 7, 7, 15])
        #expect(ModelSummary(model, inputShape: [3, 64, 64]).outputShape == [1, 7, 7, 15])
        #expect(model.stateDict()["backbone.layer4.1.bn2.running_var"] != nil)
        let features = YOLOv1(includeTop: false)
        #expect(features.head == nil && features.parameterCount == 60_155_968)
        #expect(ModelSummary(features, inputShape: [3, 448, 448]).outputShape == [1, 1024, 7, 7])
        // The registry's smallest size goes through.
        let entry = VisionModels.entry("yolov1")
        #expect(entry?.minimumSize == 31)
        #expect(entry?.defaultInputShape == [3, 448, 448] && entry?.defaultClasses == 20)
        #expect(ModelSummary(features, inputShape: [3, 31, 31]).outputShape == [1, 1024, 1, 1])
    }

    @Test func decodingMatchesTheReference() {
        let pred = DetectionFixtures.tensor("decode.pred")
        for (name, encoding, agnostic, threshold) in [("sqrt", YOLOSizeEncoding.sqrt, false, 0.2), ("direct", .direct, true, 0.1)] {
            let dets = decodeYOLOv1(pred, boxesPerCell: 2, imageWidth: 64, imageHeight: 48, sizeEncoding: encoding,
                                    scoreThreshold: threshold, iouThreshold: 0.4, classAgnostic: agnostic)
            #expect(dets.count == 2)
            for (n, list) in dets.enumerated() {
                let expected = DetectionFixtures.tensor("decode.\(name).\(n)")
                #expect(list.count == expected.shape[0], "\(name) image \(n): \(list.count) detections, reference \(expected.shape[0])")
                #expect(list.count > 1, "the case should keep several boxes")
                let mine = Tensor(list.flatMap { [$0.box.x1, $0.box.y1, $0.box.x2, $0.box.y2, $0.score, Double($0.classIndex)] },
                                  shape: [list.count, 6], dtype: .float64)
                expectClose(mine, expected, rtol: 1e-9, atol: 1e-9, "\(name) image \(n) detections")
            }
        }
    }

    @Test func decodingByHand() {
        // One 2×2 grid, B = 1, C = 2: only cell (row 1, column 0) is confident.
        var v = [Double](repeating: 0, count: 2 * 2 * 7)
        let cell = (1 * 2 + 0) * 7
        v[cell..<(cell + 7)] = [0.5, 0.25, 0.5, 0.4, 0.9, 0.2, 0.8][...]
        let dets = decodeYOLOv1(Tensor(v, shape: [1, 2, 2, 7], dtype: .float32), boxesPerCell: 1, imageWidth: 100,
                                imageHeight: 200, sizeEncoding: .direct)
        #expect(dets.count == 1 && dets[0].count == 1)
        let d = dets[0][0]
        #expect(d.classIndex == 1)
        #expect(abs(d.score - 0.72) < 1e-6)
        // Centre ((0 + 0.5)/2·100, (1 + 0.25)/2·200) = (25, 125), size 50 × 80.
        #expect(abs(d.box.centerX - 25) < 1e-5 && abs(d.box.centerY - 125) < 1e-5)
        #expect(abs(d.box.width - 50) < 1e-5 && abs(d.box.height - 80) < 1e-5)
        // With the paper's √ encoding, the size is the prediction squared.
        let sq = decodeYOLOv1(Tensor(v, shape: [1, 2, 2, 7], dtype: .float32), boxesPerCell: 1, imageWidth: 100, imageHeight: 200)
        #expect(abs(sq[0][0].box.width - 25) < 1e-5)
    }

    @Test func targetsRoundTripThroughDecoding() {
        let objects = [[LabeledBox(box: BoundingBox(x1: 10, y1: 20, x2: 50, y2: 60), classIndex: 2),
                        LabeledBox(box: BoundingBox(x1: 300, y1: 100, x2: 440, y2: 400), classIndex: 0)]]
        let t = encodeYOLOv1Targets(objects, gridSize: 7, classes: 3, imageWidth: 448, imageHeight: 448)
        #expect(t.shape == [1, 7, 7, 8])
        // A perfect prediction: the target's boxes with confidence 1 (B = 1, direct sizes).
        let dets = decodeYOLOv1(t, boxesPerCell: 1, imageWidth: 448, imageHeight: 448, sizeEncoding: .direct, scoreThreshold: 0.5)
        #expect(dets[0].count == 2)
        for (d, o) in zip(dets[0].sorted { $0.classIndex > $1.classIndex }, objects[0]) {
            #expect(d.classIndex == o.classIndex)
            #expect(d.box.iou(o.box) > 0.999999)
        }
        // The loss of the matching prediction is zero.
        let pred = t.slice(axis: 3, start: 0, end: 5).to(.float64)
        let sqrtPred = Tensor.concat([pred.slice(axis: 3, start: 0, end: 2), pred.slice(axis: 3, start: 2, end: 4).sqrt(),
                                      pred.slice(axis: 3, start: 4, end: 5), t.slice(axis: 3, start: 5, end: 8)], axis: 3)
        #expect(abs(yoloV1Loss(sqrtPred, t, boxesPerCell: 1).itemDouble()) < 1e-12)
    }

    @Test func lossMatchesTheReference() throws {
        let cases = try #require(DetectionFixtures.meta["yololoss"] as? [[String: Bool]])
        for (k, c) in cases.enumerated() {
            let encoding: YOLOSizeEncoding = c["sqrt"] == true ? .sqrt : .direct
            let pred = DetectionFixtures.tensor("yololoss\(k).pred").requiringGrad()
            let target = DetectionFixtures.tensor("yololoss\(k).target")
            let loss = yoloV1Loss(pred, target, boxesPerCell: 2, sizeEncoding: encoding, iouConfidenceTarget: c["iou"] == true)
            loss.backward()
            expectClose(loss, DetectionFixtures.tensor("yololoss\(k).value"), rtol: 1e-10, atol: 1e-12, "YOLO loss case \(k)")
            expectClose(pred.grad, DetectionFixtures.tensor("yololoss\(k).grad"), rtol: 1e-9, atol: 1e-12, "YOLO loss gradient case \(k)")
        }
    }

    @Test func lossGradientCheck() {
        // With a constant confidence target the loss is smooth in the prediction (the
        // responsible-box assignment is fixed away from ties); the IoU target is held constant.
        let target = DetectionFixtures.tensor("yololoss1.target")
        let pred = DetectionFixtures.tensor("yololoss1.pred")
        for encoding in [YOLOSizeEncoding.sqrt, .direct] {
            expectGradients([pred], "yoloV1Loss \(encoding)") {
                yoloV1Loss($0[0], target, boxesPerCell: 2, sizeEncoding: encoding, iouConfidenceTarget: false)
            }
        }
        expectGradients([pred], "yoloV1Loss, λ changed") {
            yoloV1Loss($0[0], target, lambdaCoord: 2, lambdaNoObject: 0.1, iouConfidenceTarget: false)
        }
    }

    @Test func misuseStops() async {
        let shape = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = yoloV1Loss(Tensor.zeros([1, 7, 7, 30]), Tensor.zeros([1, 7, 7, 20]))
        }
        #expect(stopMessage(shape).contains("[1, 7, 7, 25]"))
        let decode = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = decodeYOLOv1(Tensor.zeros([1, 7, 7, 10]))
        }
        #expect(stopMessage(decode).contains("at least one class"))
        let outside = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = encodeYOLOv1Targets([[LabeledBox(box: BoundingBox(x1: 0, y1: 0, x2: 500, y2: 10), classIndex: 0)]],
                                    imageWidth: 448, imageHeight: 448)
        }
        #expect(stopMessage(outside).contains("image 0 object 0"))
        let backbone = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = YOLOv1(backbone: ResNet(depth: 18, classes: 10), inputSize: 64)
        }
        #expect(stopMessage(backbone).contains("includeTop: false"))
    }
}
