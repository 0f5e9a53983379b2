import Foundation
import MyelinCore
import MyelinNN

// Object-detection helpers with torchvision.ops semantics: box formats, IoU, non-maximum
// suppression; and YOLOv1's grid decoding, target encoding and loss.
//
// Boxes are rows of a [N, 4] tensor. "xyxy" is (x1, y1, x2, y2), corners, with x1 ≤ x2 and
// y1 ≤ y2 (torchvision's convention, and what `boxIoU` and `nms` take); widths are x2 − x1,
// as torchvision (no "+1" pixel convention).

/// How a box is written: corners (x1, y1, x2, y2), corner and size (x, y, w, h), or centre
/// and size (cx, cy, w, h), as torchvision's "xyxy", "xywh" and "cxcywh".
public enum BoxFormat: String, Sendable, CaseIterable {
    case xyxy, xywh, cxcywh
}

/// Converts boxes [..., 4] between formats, as `torchvision.ops.box_convert(boxes, in_fmt, out_fmt)`.
/// Differentiable.
public func boxConvert(_ boxes: Tensor, from: BoxFormat, to: BoxFormat) -> Tensor {
    require(boxes.rank >= 1 && boxes.shape.last == 4, "boxConvert: boxes must be [..., 4], got shape \(boxes.shape)")
    require(boxes.dtype.isFloatingPoint, "boxConvert: boxes must be a float tensor, got \(boxes.dtype)")
    if from == to { return boxes }
    let axis = boxes.rank - 1
    let c = (0..<4).map { boxes.slice(axis: axis, start: $0, end: $0 + 1) }
    // Through xyxy.
    var x1 = c[0], y1 = c[1], x2 = c[2], y2 = c[3]
    switch from {
    case .xyxy: break
    case .xywh: (x2, y2) = (c[0] + c[2], c[1] + c[3])
    case .cxcywh: (x1, y1, x2, y2) = (c[0] - c[2] * 0.5, c[1] - c[3] * 0.5, c[0] + c[2] * 0.5, c[1] + c[3] * 0.5)
    }
    switch to {
    case .xyxy: return Tensor.concat([x1, y1, x2, y2], axis: axis)
    case .xywh: return Tensor.concat([x1, y1, x2 - x1, y2 - y1], axis: axis)
    case .cxcywh: return Tensor.concat([(x1 + x2) * 0.5, (y1 + y2) * 0.5, x2 - x1, y2 - y1], axis: axis)
    }
}

/// The areas [N] of xyxy boxes [N, 4], as `torchvision.ops.box_area`.
public func boxArea(_ boxes: Tensor) -> Tensor {
    checkBoxes(boxes, op: "boxArea", which: "boxes")
    let c = (0..<4).map { boxes.slice(axis: 1, start: $0, end: $0 + 1).reshaped([boxes.shape[0]]) }
    return (c[2] - c[0]) * (c[3] - c[1])
}

/// The intersection over union of every pair: [N, M] for xyxy boxes `a` [N, 4] and `b` [M, 4],
/// as `torchvision.ops.box_iou` (the same float operations, so the same float32 values).
/// Two empty boxes give NaN (0/0), as torchvision. Differentiable.
public func boxIoU(_ a: Tensor, _ b: Tensor) -> Tensor {
    checkBoxes(a, op: "boxIoU", which: "first boxes")
    checkBoxes(b, op: "boxIoU", which: "second boxes")
    let n = a.shape[0], m = b.shape[0]
    func col(_ t: Tensor, _ k: Int, _ shape: [Int]) -> Tensor { t.slice(axis: 1, start: k, end: k + 1).reshaped(shape) }
    let (ax1, ay1, ax2, ay2) = (col(a, 0, [n, 1]), col(a, 1, [n, 1]), col(a, 2, [n, 1]), col(a, 3, [n, 1]))
    let (bx1, by1, bx2, by2) = (col(b, 0, [1, m]), col(b, 1, [1, m]), col(b, 2, [1, m]), col(b, 3, [1, m]))
    let w = (minimum(ax2, bx2) - maximum(ax1, bx1)).clamp(min: 0)
    let h = (minimum(ay2, by2) - maximum(ay1, by1)).clamp(min: 0)
    let inter = w * h
    let union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union
}

/// Non-maximum suppression, as `torchvision.ops.nms`: visits the boxes by decreasing score
/// (equal scores in index order) and drops every later box whose IoU with a kept one is
/// greater than `iouThreshold`. Returns the kept indices (int64), by decreasing score.
public func nms(_ boxes: Tensor, _ scores: Tensor, iouThreshold: Double) -> Tensor {
    checkBoxes(boxes, op: "nms", which: "boxes")
    checkScores(scores, count: boxes.shape[0], op: "nms")
    return Tensor(nmsKeep(boxes, scores.scalars(as: Double.self), groups: nil, iouThreshold: iouThreshold))
}

/// Non-maximum suppression within each class (boxes of different `classes` never suppress
/// each other), as `torchvision.ops.batched_nms`. Returns the kept indices (int64) by
/// decreasing score, equal scores in index order.
public func batchedNMS(_ boxes: Tensor, _ scores: Tensor, classes: Tensor, iouThreshold: Double) -> Tensor {
    checkBoxes(boxes, op: "batchedNMS", which: "boxes")
    checkScores(scores, count: boxes.shape[0], op: "batchedNMS")
    require(classes.shape == [boxes.shape[0]] && !classes.dtype.isFloatingPoint,
            "batchedNMS: classes must be integers [\(boxes.shape[0])], one per box, got \(classes.dtype) \(classes.shape)")
    return Tensor(nmsKeep(boxes, scores.scalars(as: Double.self), groups: classes.integers(), iouThreshold: iouThreshold))
}

/// Descending by score, NaN first (as torch.sort), ties in index order.
func scoreOrder(_ scores: [Double]) -> [Int] {
    scores.indices.sorted { i, j in
        let a = scores[i], b = scores[j]
        if a.isNaN || b.isNaN { return a.isNaN && !b.isNaN ? true : (a.isNaN == b.isNaN && i < j) }
        return a != b ? a > b : i < j
    }
}

/// The NMS loop in the boxes' own float type (so float32 boxes round as torchvision's kernel).
func nmsKeep(_ boxes: Tensor, _ scores: [Double], groups: [Int]?, iouThreshold: Double) -> [Int] {
    func run<T: BinaryFloatingPoint & TensorScalar>(_ b: [T]) -> [Int] {
        let order = scoreOrder(scores)
        var suppressed = [Bool](repeating: false, count: scores.count)
        var keep: [Int] = []
        for (rank, i) in order.enumerated() where !suppressed[i] {
            keep.append(i)
            let (ix1, iy1, ix2, iy2) = (b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3])
            let iarea = (ix2 - ix1) * (iy2 - iy1)
            for j in order[(rank + 1)...] where !suppressed[j] && groups.map({ $0[i] == $0[j] }) ?? true {
                let w = Swift.max(0, Swift.min(ix2, b[4 * j + 2]) - Swift.max(ix1, b[4 * j]))
                let h = Swift.max(0, Swift.min(iy2, b[4 * j + 3]) - Swift.max(iy1, b[4 * j + 1]))
                let inter = w * h
                let iou = inter / (iarea + (b[4 * j + 2] - b[4 * j]) * (b[4 * j + 3] - b[4 * j + 1]) - inter)
                if Double(iou) > iouThreshold { suppressed[j] = true }
            }
        }
        return keep
    }
    return boxes.dtype == .float64 ? run(boxes.scalars(as: Double.self)) : run(boxes.scalars(as: Float.self))
}

/// Stops unless `boxes` is a float [N, 4] tensor of xyxy boxes with x1 ≤ x2 and y1 ≤ y2
/// (torchvision would silently compute nonsense from cxcywh or xywh boxes).
func checkBoxes(_ boxes: Tensor, op: String, which: String) {
    require(boxes.rank == 2 && boxes.shape[1] == 4, "\(op): \(which) must be [N, 4] (x1, y1, x2, y2), got shape \(boxes.shape)")
    require(boxes.dtype.isFloatingPoint, "\(op): \(which) must be a float tensor, got \(boxes.dtype)")
    let v = boxes.scalars(as: Double.self)
    for i in 0..<boxes.shape[0] where v[4 * i + 2] < v[4 * i] || v[4 * i + 3] < v[4 * i + 1] {
        requirementFailure("\(op): \(which) row \(i) is (\(v[4 * i]), \(v[4 * i + 1]), \(v[4 * i + 2]), \(v[4 * i + 3])), "
                           + "which is not an (x1, y1, x2, y2) box with x1 ≤ x2 and y1 ≤ y2; "
                           + "convert (cx, cy, w, h) or (x, y, w, h) boxes with boxConvert(_:from:to: .xyxy)")
    }
}

func checkScores(_ scores: Tensor, count: Int, op: String) {
    require(scores.shape == [count], "\(op): scores must be [\(count)], one per box, got shape \(scores.shape)")
    require(scores.dtype.isFloatingPoint, "\(op): scores must be a float tensor, got \(scores.dtype)")
}

// MARK: - Boxes and detections as values

/// One box, corners (x1, y1, x2, y2) in image coordinates.
public struct BoundingBox: Sendable, Hashable, CustomStringConvertible {
    public var x1: Double, y1: Double, x2: Double, y2: Double

    public init(x1: Double, y1: Double, x2: Double, y2: Double) {
        (self.x1, self.y1, self.x2, self.y2) = (x1, y1, x2, y2)
    }

    /// A box from its centre and size.
    public init(centerX: Double, centerY: Double, width: Double, height: Double) {
        self.init(x1: centerX - width / 2, y1: centerY - height / 2, x2: centerX + width / 2, y2: centerY + height / 2)
    }

    public var width: Double { x2 - x1 }
    public var height: Double { y2 - y1 }
    public var centerX: Double { (x1 + x2) / 2 }
    public var centerY: Double { (y1 + y2) / 2 }
    /// Width × height; 0 for an inverted box.
    public var area: Double { Swift.max(0, width) * Swift.max(0, height) }

    /// Intersection over union with `other`; 0 when both are empty.
    public func iou(_ other: BoundingBox) -> Double {
        let w = Swift.max(0, Swift.min(x2, other.x2) - Swift.max(x1, other.x1))
        let h = Swift.max(0, Swift.min(y2, other.y2) - Swift.max(y1, other.y1))
        let union = area + other.area - w * h
        return union > 0 ? w * h / union : 0
    }

    public var description: String { "(\(x1), \(y1), \(x2), \(y2))" }
}

/// A detected object: its box in image coordinates, its score and its class.
public struct Detection: Sendable, Hashable {
    public var box: BoundingBox
    public var score: Double
    public var classIndex: Int

    public init(box: BoundingBox, score: Double, classIndex: Int) {
        self.box = box
        self.score = score
        self.classIndex = classIndex
    }
}

/// A ground-truth object for `encodeYOLOv1Targets`.
public struct LabeledBox: Sendable, Hashable {
    public var box: BoundingBox
    public var classIndex: Int
    public init(box: BoundingBox, classIndex: Int) {
        self.box = box
        self.classIndex = classIndex
    }
}

// MARK: - YOLOv1

/// What the network predicts for a box's width and height: their square roots (the paper:
/// "we predict the square root of the bounding box width and height", so the size is the
/// prediction squared), or the sizes themselves (the loss then takes the square roots).
public enum YOLOSizeEncoding: String, Sendable {
    case sqrt, direct
}

/// Turns YOLOv1 output [N, S, S, B·5 + C] into detections per image.
///
/// Each cell (row i, column j) holds B boxes (x, y, w, h, confidence), then C class
/// probabilities. x and y are the centre's offset inside the cell (0…1), w and h are relative
/// to the image; the raw outputs are used as they are (the paper's last layer is linear).
/// Per box: class = argmax of the cell's class probabilities, score = confidence ×
/// that probability (the paper's class-specific confidence); boxes with score >
/// `scoreThreshold` go through NMS, per class unless `classAgnostic`. Boxes are in pixels
/// of an image `imageWidth` × `imageHeight` (1 × 1: relative coordinates), not clipped.
/// Each image's detections come sorted by decreasing score.
public func decodeYOLOv1(
    _ output: Tensor, boxesPerCell: Int = 2, imageWidth: Double = 1, imageHeight: Double = 1,
    sizeEncoding: YOLOSizeEncoding = .sqrt, scoreThreshold: Double = 0.2, iouThreshold: Double = 0.5,
    classAgnostic: Bool = false
) -> [[Detection]] {
    let b = boxesPerCell
    require(b >= 1, "decodeYOLOv1: boxesPerCell must be positive, got \(b)")
    require(output.rank == 4 && output.shape[3] > 5 * b,
            "decodeYOLOv1: output must be [N, S, S, \(b)·5 + classes] with at least one class, got shape \(output.shape)")
    require(output.dtype.isFloatingPoint, "decodeYOLOv1: output must be a float tensor, got \(output.dtype)")
    let (n, sh, sw, d) = (output.shape[0], output.shape[1], output.shape[2], output.shape[3])
    let v = output.scalars(as: Double.self)
    var result: [[Detection]] = []
    for img in 0..<n {
        var candidates: [Detection] = []
        for i in 0..<sh {
            for j in 0..<sw {
                let base = ((img * sh + i) * sw + j) * d
                var cls = 0
                for k in 1..<(d - 5 * b) where v[base + 5 * b + k] > v[base + 5 * b + cls] { cls = k }
                let p = v[base + 5 * b + cls]
                for k in 0..<b {
                    let o = base + 5 * k
                    var (w, h) = (v[o + 2], v[o + 3])
                    if sizeEncoding == .sqrt { (w, h) = (w * w, h * h) }
                    let score = v[o + 4] * p
                    guard score > scoreThreshold else { continue }
                    let box = BoundingBox(centerX: (Double(j) + v[o]) / Double(sw) * imageWidth,
                                          centerY: (Double(i) + v[o + 1]) / Double(sh) * imageHeight,
                                          width: w * imageWidth, height: h * imageHeight)
                    candidates.append(Detection(box: box, score: score, classIndex: cls))
                }
            }
        }
        // A negative direct-size prediction is an inverted box: NMS treats it as empty.
        let boxes = Tensor(candidates.flatMap { c in
            [c.box.x1, c.box.y1, Swift.max(c.box.x1, c.box.x2), Swift.max(c.box.y1, c.box.y2)]
        }, shape: [candidates.count, 4], dtype: .float64)
        let keep = nmsKeep(boxes, candidates.map(\.score), groups: classAgnostic ? nil : candidates.map(\.classIndex),
                           iouThreshold: iouThreshold)
        result.append(keep.map { candidates[$0] })
    }
    return result
}

/// Builds YOLOv1's training target [N, S, S, 5 + C] from each image's objects (boxes in
/// pixels of `imageWidth` × `imageHeight`): the cell holding an object's centre gets
/// (x, y offsets in the cell, w, h relative to the image, 1, one-hot class). A cell predicts
/// one object, as in the paper: a second object whose centre falls in the same cell is dropped.
public func encodeYOLOv1Targets(
    _ objects: [[LabeledBox]], gridSize s: Int = 7, classes: Int = 20, imageWidth: Double = 1, imageHeight: Double = 1
) -> Tensor {
    require(s >= 1 && classes >= 1, "encodeYOLOv1Targets: gridSize and classes must be positive")
    let d = 5 + classes
    var t = [Double](repeating: 0, count: objects.count * s * s * d)
    for (n, list) in objects.enumerated() {
        for (k, o) in list.enumerated() {
            let b = o.box
            require(o.classIndex >= 0 && o.classIndex < classes,
                    "encodeYOLOv1Targets: image \(n) object \(k) has class \(o.classIndex), outside 0..<\(classes)")
            require(b.x2 >= b.x1 && b.y2 >= b.y1 && b.x1 >= 0 && b.y1 >= 0 && b.x2 <= imageWidth && b.y2 <= imageHeight,
                    "encodeYOLOv1Targets: image \(n) object \(k) has box \(b), which is not an (x1, y1, x2, y2) box "
                    + "inside the \(imageWidth) × \(imageHeight) image")
            let cx = b.centerX / imageWidth * Double(s), cy = b.centerY / imageHeight * Double(s)
            let j = Swift.min(Int(cx), s - 1), i = Swift.min(Int(cy), s - 1)
            let base = ((n * s + i) * s + j) * d
            guard t[base + 4] == 0 else { continue }
            t[base] = cx - Double(j)
            t[base + 1] = cy - Double(i)
            t[base + 2] = b.width / imageWidth
            t[base + 3] = b.height / imageHeight
            t[base + 4] = 1
            t[base + 5 + o.classIndex] = 1
        }
    }
    return Tensor(t, shape: [objects.count, s, s, d], dtype: .float64)
}

/// The YOLOv1 loss (Redmon et al. 2016, equation 3) of `prediction` [N, S, S, B·5 + C] against
/// `target` [N, S, S, 5 + C] (as `encodeYOLOv1Targets` writes it), summed over each image
/// and averaged over the batch:
///
///     λcoord Σ 1obj_ij [(x − x̂)² + (y − ŷ)²] + λcoord Σ 1obj_ij [(√w − √ŵ)² + (√h − √ĥ)²]
///     + Σ 1obj_ij (C − Ĉ)² + λnoobj Σ 1noobj_ij C² + Σ 1obj_i Σ_c (p(c) − p̂(c))²
///
/// In a cell with an object, the predictor "responsible" for it (1obj_ij) is the one whose box
/// has the highest IoU with the object (the first on ties); every other predictor counts as
/// having no object. The confidence target Ĉ is that IoU (the paper, and darknet's
/// `rescore`), held constant, or 1 with `iouConfidenceTarget: false`. With
/// `sizeEncoding: .sqrt` the network predicts √w and √h directly; with `.direct` it predicts
/// w and h and the loss takes sign(w)·√(|w| + 10⁻⁶) (so negative predictions stay differentiable).
public func yoloV1Loss(
    _ prediction: Tensor, _ target: Tensor, boxesPerCell b: Int = 2, lambdaCoord: Double = 5, lambdaNoObject: Double = 0.5,
    sizeEncoding: YOLOSizeEncoding = .sqrt, iouConfidenceTarget: Bool = true
) -> Tensor {
    require(prediction.rank == 4 && prediction.shape[3] > 5 * b,
            "yoloV1Loss: prediction must be [N, S, S, \(b)·5 + classes], got shape \(prediction.shape)")
    let (n, sh, sw, d) = (prediction.shape[0], prediction.shape[1], prediction.shape[2], prediction.shape[3])
    let c = d - 5 * b
    require(target.shape == [n, sh, sw, 5 + c],
            "yoloV1Loss: target must be [N, S, S, 5 + classes] = \([n, sh, sw, 5 + c]) for prediction \(prediction.shape), got \(target.shape)")
    require(prediction.dtype.isFloatingPoint, "yoloV1Loss: prediction must be a float tensor, got \(prediction.dtype)")
    let p = prediction.detached().scalars(as: Double.self), t = target.scalars(as: Double.self)
    let cells = n * sh * sw
    // Per predictor [N, S, S, B]: responsible, no-object, and the coordinate/confidence targets.
    var resp = [Double](repeating: 0, count: cells * b), noobj = [Double](repeating: 1, count: cells * b)
    var tx = resp, ty = resp, tw = resp, th = resp, tconf = resp
    var objCell = [Double](repeating: 0, count: cells)
    for cell in 0..<cells where t[cell * (5 + c) + 4] > 0 {
        let i = (cell / sw) % sh, j = cell % sw
        let to = cell * (5 + c)
        let truth = BoundingBox(centerX: (Double(j) + t[to]) / Double(sw), centerY: (Double(i) + t[to + 1]) / Double(sh),
                                width: t[to + 2], height: t[to + 3])
        var best = 0, bestIoU = -1.0
        for k in 0..<b {
            let o = cell * d + 5 * k
            var (w, h) = (p[o + 2], p[o + 3])
            if sizeEncoding == .sqrt { (w, h) = (w * w, h * h) }
            let box = BoundingBox(centerX: (Double(j) + p[o]) / Double(sw), centerY: (Double(i) + p[o + 1]) / Double(sh),
                                  width: Swift.max(w, 0), height: Swift.max(h, 0))
            let iou = box.iou(truth)
            if iou > bestIoU { (best, bestIoU) = (k, iou) }
        }
        let r = cell * b + best
        objCell[cell] = 1
        resp[r] = 1
        noobj[r] = 0
        (tx[r], ty[r]) = (t[to], t[to + 1])
        (tw[r], th[r]) = (t[to + 2].squareRoot(), t[to + 3].squareRoot())
        tconf[r] = iouConfidenceTarget ? bestIoU : 1
    }
    let dt = prediction.dtype
    func k(_ a: [Double]) -> Tensor { Tensor(a, shape: [n, sh, sw, b, 1], dtype: dt) }
    let boxes = prediction.slice(axis: 3, start: 0, end: 5 * b).reshaped([n, sh, sw, b, 5])
    func field(_ f: Int) -> Tensor { boxes.slice(axis: 4, start: f, end: f + 1) }
    var pw = field(2), ph = field(3)
    if sizeEncoding == .direct {
        func signedRoot(_ x: Tensor) -> Tensor {
            let r = (x.abs() + 1e-6).sqrt()
            return select(x .>= 0, r, -r)
        }
        (pw, ph) = (signedRoot(pw), signedRoot(ph))
    }
    let respMask = k(resp)
    let coord = (respMask * ((field(0) - k(tx)).square() + (field(1) - k(ty)).square())).sum()
    let size = (respMask * ((pw - k(tw)).square() + (ph - k(th)).square())).sum()
    let conf = field(4)
    let object = (respMask * (conf - k(tconf)).square()).sum()
    let noObject = (k(noobj) * conf.square()).sum()
    let probs = prediction.slice(axis: 3, start: 5 * b, end: d)
    let classTarget = target.slice(axis: 3, start: 5, end: 5 + c).detached().to(dt)
    let classLoss = (Tensor(objCell, shape: [n, sh, sw, 1], dtype: dt) * (probs - classTarget).square()).sum()
    let total = coord * lambdaCoord + size * lambdaCoord + object + noObject * lambdaNoObject + classLoss
    return total / Double(Swift.max(n, 1))
}
