import Foundation
import MyelinCore

/// How a loss combines its per-element values: their mean, their sum, or none
/// (the per-element losses are returned).
public enum LossReduction: Sendable, Equatable {
    case mean, sum, none
}

// MARK: - Regression losses

/// Mean squared error (x − y)², as PyTorch's `F.mse_loss`.
public func mseLoss(_ input: Tensor, _ target: Tensor, reduction: LossReduction = .mean) -> Tensor {
    LossSupport.pointwise(SquaredError(), input, target, op: "mseLoss", reduction: reduction)
}

/// Mean absolute error |x − y|, as PyTorch's `F.l1_loss` (gradient 0 where x = y).
public func l1Loss(_ input: Tensor, _ target: Tensor, reduction: LossReduction = .mean) -> Tensor {
    LossSupport.pointwise(AbsoluteError(), input, target, op: "l1Loss", reduction: reduction)
}

/// Huber loss: ½d² where |d| < delta, delta·(|d| − ½delta) beyond (d = x − y), as `F.huber_loss`.
public func huberLoss(_ input: Tensor, _ target: Tensor, delta: Double = 1, reduction: LossReduction = .mean) -> Tensor {
    require(delta > 0, "huberLoss: delta must be positive, got \(delta)")
    return LossSupport.pointwise(Huber(delta: delta), input, target, op: "huberLoss", reduction: reduction)
}

/// Smooth L1 loss: ½d²/beta where |d| < beta, |d| − ½beta beyond, as `F.smooth_l1_loss`
/// (Huber divided by beta; beta = 0 is the L1 loss).
public func smoothL1Loss(_ input: Tensor, _ target: Tensor, beta: Double = 1, reduction: LossReduction = .mean) -> Tensor {
    require(beta >= 0, "smoothL1Loss: beta must be non-negative, got \(beta)")
    if beta == 0 { return LossSupport.pointwise(AbsoluteError(), input, target, op: "smoothL1Loss", reduction: reduction) }
    return LossSupport.pointwise(SmoothL1(beta: beta), input, target, op: "smoothL1Loss", reduction: reduction)
}

// MARK: - Binary classification

/// Binary cross-entropy on probabilities in [0, 1]: −w·(y·log p + (1 − y)·log(1 − p)),
/// each log clamped at −100 as PyTorch's `F.binary_cross_entropy`, so p = 0 or 1 gives
/// a finite loss. `weight` broadcasts to the input's shape.
public func binaryCrossEntropy(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil,
                               reduction: LossReduction = .mean) -> Tensor {
    LossSupport.checkProbabilities(input, op: "binaryCrossEntropy")
    if weight == nil { return LossSupport.pointwise(BinaryCrossEntropy(), input, target, op: "binaryCrossEntropy", reduction: reduction) }
    let l = LossSupport.pointwise(BinaryCrossEntropy(), input, target, op: "binaryCrossEntropy", reduction: .none)
    return LossSupport.reduce(LossSupport.weighted(l, weight, op: "binaryCrossEntropy"), reduction)
}

/// Binary cross-entropy on logits, sigmoid folded in and computed stably as
/// (1 − y)·x + (1 + (pw − 1)·y)·(log(1 + e^−|x|) + max(−x, 0)), as PyTorch's
/// `F.binary_cross_entropy_with_logits`. `posWeight` (weights of the positive class,
/// broadcast over the input, typically one per class) trades recall for precision.
public func binaryCrossEntropyWithLogits(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil, posWeight: Tensor? = nil,
                                         reduction: LossReduction = .mean) -> Tensor {
    let op = "binaryCrossEntropyWithLogits"
    let l: Tensor
    if let posWeight {
        l = LossSupport.pointwise(BinaryCrossEntropyLogits(), input, target, extra: posWeight, extraName: "posWeight", op: op, reduction: .none)
    } else {
        if weight == nil { return LossSupport.pointwise(BinaryCrossEntropyLogitsPlain(), input, target, op: op, reduction: reduction) }
        l = LossSupport.pointwise(BinaryCrossEntropyLogitsPlain(), input, target, op: op, reduction: .none)
    }
    return LossSupport.reduce(LossSupport.weighted(l, weight, op: op), reduction)
}

// MARK: - Multi-class classification

/// Cross-entropy between `logits` [N, C] (or [N, C, d₁, …], or [C]) and integer class
/// `labels` [N] (or [N, d₁, …], or a scalar), as PyTorch's `F.cross_entropy`, computed
/// by one fused log-softmax + NLL kernel (no one-hot, no log-probability tensor kept).
///
/// - `weight`: one weight per class; with `.mean` the sum is divided by the total
///   weight of the counted labels (PyTorch's weighted mean).
/// - `ignoreIndex`: labels equal to it contribute nothing and are not counted.
/// - `labelSmoothing` ε: the target becomes (1 − ε)·one-hot + ε/C.
public func crossEntropy(_ logits: Tensor, _ labels: Tensor, weight: Tensor? = nil, ignoreIndex: Int = -100,
                         labelSmoothing: Double = 0, reduction: LossReduction = .mean) -> Tensor {
    require(labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy: label smoothing must be in [0, 1], got \(labelSmoothing)")
    return ClassificationLoss.run(logits, labels, weight: weight, ignoreIndex: ignoreIndex, smoothing: labelSmoothing,
                                  fromLogits: true, reduction: reduction, op: "crossEntropy")
}

/// Negative log-likelihood of integer `labels` under `logProbabilities` [N, C] (or
/// [N, C, d₁, …], or [C]), as PyTorch's `F.nll_loss`: −w[y]·logp[y], with the same
/// class weights, ignoreIndex and weighted mean as `crossEntropy`.
public func nllLoss(_ logProbabilities: Tensor, _ labels: Tensor, weight: Tensor? = nil, ignoreIndex: Int = -100,
                    reduction: LossReduction = .mean) -> Tensor {
    ClassificationLoss.run(logProbabilities, labels, weight: weight, ignoreIndex: ignoreIndex, smoothing: 0,
                           fromLogits: false, reduction: reduction, op: "nllLoss")
}

// MARK: - Element-wise loss kernels

/// A loss of one prediction x, one target y and an optional per-element constant c
/// (1 when absent), with its derivatives in x and y.
protocol PointwiseLoss {
    func value<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> T
    func derivatives<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> (dx: T, dy: T)
}

struct SquaredError: PointwiseLoss {
    @inline(__always) func value<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> T { (x - y) * (x - y) }
    @inline(__always) func derivatives<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> (dx: T, dy: T) {
        let d = 2 * (x - y)
        return (d, -d)
    }
}

struct AbsoluteError: PointwiseLoss {
    @inline(__always) func value<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> T { Swift.abs(x - y) }
    @inline(__always) func derivatives<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> (dx: T, dy: T) {
        let d = x - y
        let s: T = d > 0 ? 1 : (d < 0 ? -1 : 0)
        return (s, -s)
    }
}

struct Huber: PointwiseLoss {
    let delta: Double
    @inline(__always) func value<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> T {
        let d = Swift.abs(x - y), dl = T(delta)
        return d < dl ? d * d / 2 : dl * (d - dl / 2)
    }
    @inline(__always) func derivatives<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> (dx: T, dy: T) {
        let d = x - y, dl = T(delta)
        let g = d < -dl ? -dl : (d > dl ? dl : d)
        return (g, -g)
    }
}

struct SmoothL1: PointwiseLoss {
    let beta: Double
    @inline(__always) func value<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> T {
        let d = Swift.abs(x - y), b = T(beta)
        return d < b ? d * d / (2 * b) : d - b / 2
    }
    @inline(__always) func derivatives<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> (dx: T, dy: T) {
        let d = x - y, b = T(beta)
        let g = d < -b ? -1 : (d > b ? 1 : d / b)
        return (g, -g)
    }
}

struct BinaryCrossEntropy: PointwiseLoss {
    @inline(__always) static func logs<T: FloatElement>(_ p: T) -> (T, T) {
        (Swift.max(T.log(p), -100), Swift.max(T.log(onePlus: -p), -100))
    }
    @inline(__always) func value<T: FloatElement>(_ p: T, _ y: T, _ c: T) -> T {
        let (lp, lq) = Self.logs(p)
        return (y - 1) * lq - y * lp
    }
    /// PyTorch's: (p − y) / max(p·(1 − p), 1e-12) for the input; log(1 − p) − log p for the target.
    @inline(__always) func derivatives<T: FloatElement>(_ p: T, _ y: T, _ c: T) -> (dx: T, dy: T) {
        let (lp, lq) = Self.logs(p)
        return ((p - y) / Swift.max((1 - p) * p, T(1e-12)), lq - lp)
    }
}

/// Without a positive weight: (1 − y)·x + softplus(−x).
struct BinaryCrossEntropyLogitsPlain: PointwiseLoss {
    @inline(__always) func value<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> T {
        (1 - y) * x + T.log(onePlus: T.exp(-Swift.abs(x))) + Swift.max(-x, 0)
    }
    @inline(__always) func derivatives<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> (dx: T, dy: T) {
        (stableSigmoid(x) - y, -x)
    }
}

/// With positive weight c: (1 − y)·x + (1 + (c − 1)·y)·softplus(−x).
struct BinaryCrossEntropyLogits: PointwiseLoss {
    @inline(__always) func value<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> T {
        (1 - y) * x + (1 + (c - 1) * y) * (T.log(onePlus: T.exp(-Swift.abs(x))) + Swift.max(-x, 0))
    }
    @inline(__always) func derivatives<T: FloatElement>(_ x: T, _ y: T, _ c: T) -> (dx: T, dy: T) {
        let softplusNeg = T.log(onePlus: T.exp(-Swift.abs(x))) + Swift.max(-x, 0)
        return ((1 - y) - (1 + (c - 1) * y) * stableSigmoid(-x), -x + (c - 1) * softplusNeg)
    }
}

@inline(__always) func stableSigmoid<T: FloatElement>(_ x: T) -> T {
    if x >= 0 { return 1 / (1 + T.exp(-x)) }
    let e = T.exp(x)
    return e / (1 + e)
}

enum LossSupport {
    static func reduce(_ l: Tensor, _ reduction: LossReduction) -> Tensor {
        switch reduction {
        case .mean: l.mean()
        case .sum: l.sum()
        case .none: l
        }
    }

    /// The loss times a weight that broadcasts to its shape (PyTorch's `weight` argument).
    static func weighted(_ l: Tensor, _ weight: Tensor?, op: String) -> Tensor {
        guard let weight else { return l }
        require(Shape.broadcast(weight.shape, l.shape) == l.shape,
                "\(op): weight of shape \(weight.shape) does not broadcast to the input's shape \(l.shape)")
        return l * weight.detached().to(l.dtype)
    }

    /// Stops unless every element is a probability, as PyTorch checks.
    static func checkProbabilities(_ input: Tensor, op: String) {
        func firstBad<T: FloatElement>(_: T.Type) -> (Int, Double)? {
            let p = input.storage.pointer(as: T.self)
            for k in 0..<input.count where !(p[k] >= 0 && p[k] <= 1) { return (k, Double(p[k])) }
            return nil
        }
        let bad: (Int, Double)?
        switch input.dtype {
        case .float32: bad = withExtendedLifetime(input) { firstBad(Float.self) }
        case .float64: bad = withExtendedLifetime(input) { firstBad(Double.self) }
        default: return
        }
        if let (k, v) = bad {
            requirementFailure("\(op): the input must hold probabilities in [0, 1], but element \(k) is \(v); use binaryCrossEntropyWithLogits for logits")
        }
    }

    /// Computes `loss` element by element in one pass (and its gradients in one pass),
    /// then reduces. Input and target must have the same shape; `extra` broadcasts to it.
    static func pointwise<L: PointwiseLoss>(
        _ loss: L, _ input: Tensor, _ target: Tensor, extra: Tensor? = nil, extraName: String = "",
        op: String, reduction: LossReduction
    ) -> Tensor {
        require(input.shape == target.shape,
                "\(op): input \(input.shape) and target \(target.shape) must have the same shape")
        let dt: DType = input.dtype == .float64 || target.dtype == .float64 ? .float64 : .float32
        let x = input.to(dt), y = target.to(dt)
        var c: Tensor? = nil
        if let extra {
            require(Shape.broadcast(extra.shape, input.shape) == input.shape,
                    "\(op): \(extraName) of shape \(extra.shape) does not broadcast to the input's shape \(input.shape)")
            c = extra.detached().to(dt).expanded(to: input.shape)
        }
        let out = Tensor(uninitializedShape: input.shape, dtype: dt)
        let n = input.count
        func forward<T: FloatElement>(_: T.Type) {
            let xp = x.storage.pointer(as: T.self), yp = y.storage.pointer(as: T.self), op = out.storage.pointer(as: T.self)
            let cp = c?.storage.pointer(as: T.self)
            Threading.parallelFor(n) { r in
                if let cp {
                    for i in r { op[i] = loss.value(xp[i], yp[i], cp[i]) }
                } else {
                    for i in r { op[i] = loss.value(xp[i], yp[i], 1) }
                }
            }
        }
        withExtendedLifetime((x, y, c)) {
            switch dt {
            case .float64: forward(Double.self)
            default: forward(Float.self)
            }
        }
        // A mean or a sum is taken here and recorded as one node with the element-wise loss
        // (no per-element output node, no reduction node, no expanded gradient): the numbers are
        // those of `mean()`/`sum()` over the per-element losses and of their backward.
        let fused = reduction != .none && n > 0
        let result: Tensor
        if fused {
            func total<T: FloatElement>(_: T.Type) -> Tensor {
                let sum = Kernels.reduceRow(SumCombiner.self, UnsafePointer(out.storage.pointer(as: T.self)), n)
                let v = reduction == .mean && n != 1 ? sum * T(1 / Double(n)) : sum
                let t = Tensor(uninitializedShape: [], dtype: dt)
                t.storage.pointer(as: T.self)[0] = v
                return t
            }
            result = withExtendedLifetime(out) { dt == .float64 ? total(Double.self) : total(Float.self) }
        } else {
            result = out
        }
        let mean = reduction == .mean
        let l = Autograd.record(result, inputs: [x, y], name: op) { g, needs in
            let g = g.to(dt)
            let gx = needs[0] ? Tensor(uninitializedShape: x.shape, dtype: dt) : nil
            let gy = needs[1] ? Tensor(uninitializedShape: x.shape, dtype: dt) : nil
            func backward<T: FloatElement>(_: T.Type) {
                let xp = x.storage.pointer(as: T.self), yp = y.storage.pointer(as: T.self), gp = g.storage.pointer(as: T.self)
                let cp = c?.storage.pointer(as: T.self)
                let gxp = gx?.storage.pointer(as: T.self), gyp = gy?.storage.pointer(as: T.self)
                if fused {
                    // The reduction's gradient, the same for every element.
                    let s = mean && n != 1 ? gp[0] * T(1 / Double(n)) : gp[0]
                    Threading.parallelFor(n) { r in
                        for i in r {
                            let (dx, dy) = loss.derivatives(xp[i], yp[i], cp?[i] ?? 1)
                            gxp?[i] = s * dx
                            gyp?[i] = s * dy
                        }
                    }
                    return
                }
                Threading.parallelFor(n) { r in
                    for i in r {
                        let (dx, dy) = loss.derivatives(xp[i], yp[i], cp?[i] ?? 1)
                        gxp?[i] = gp[i] * dx
                        gyp?[i] = gp[i] * dy
                    }
                }
            }
            withExtendedLifetime((g, x, y, c, gx, gy)) {
                switch dt {
                case .float64: backward(Double.self)
                default: backward(Float.self)
                }
            }
            return [gx, gy]
        }
        return fused ? l : reduce(l, reduction)
    }
}

// MARK: - Fused cross-entropy / NLL

enum ClassificationLoss {
    /// Validates shapes, labels and weights, runs the fused kernel, and records its backward.
    static func run(
        _ input: Tensor, _ labels: Tensor, weight: Tensor?, ignoreIndex: Int, smoothing: Double,
        fromLogits: Bool, reduction: LossReduction, op: String
    ) -> Tensor {
        let what = fromLogits ? "logits" : "log-probabilities"
        require(input.rank >= 1, "\(op): \(what) must be [N, C] (or [C], or [N, C, d₁, …]), got a scalar")
        require(labels.dtype == .int32 || labels.dtype == .int64,
                "\(op): labels must be integer class indices (int32 or int64), not \(labels.dtype)")
        // Layout [outer, C, inner]; labels are [outer, inner].
        let c: Int, outer: Int, inner: Int, expectedLabels: [Int]
        if input.rank == 1 {
            (c, outer, inner, expectedLabels) = (input.shape[0], 1, 1, [])
        } else {
            c = input.shape[1]
            outer = input.shape[0]
            inner = Shape.count(Array(input.shape[2...]))
            expectedLabels = [input.shape[0]] + Array(input.shape[2...])
            if labels.rank >= 1 && labels.shape[0] != input.shape[0] {
                requirementFailure("\(op): \(what) \(input.shape) and labels \(labels.shape) disagree on the batch size")
            }
        }
        require(labels.shape == expectedLabels,
                "\(op): labels of shape \(labels.shape) do not fit \(what) of shape \(input.shape); expected labels of shape \(expectedLabels)")
        require(c > 0, "\(op): \(what) of shape \(input.shape) have no classes")
        var w: [Double]? = nil
        if let weight {
            require(weight.shape == [c], "\(op): class weights of shape \(weight.shape) must be [\(c)], one per class")
            w = weight.scalars(as: Double.self)
        }
        let ys = labels.integers()
        for (k, y) in ys.enumerated() where y != ignoreIndex && (y < 0 || y >= c) {
            requirementFailure("\(op): label \(y) at position \(k) is out of range for \(c) classes (valid: 0..<\(c), or ignoreIndex \(ignoreIndex))")
        }
        let dt: DType = input.dtype == .float64 ? .float64 : .float32
        let x = input.to(dt)
        let positions = outer * inner
        var losses = [Double](repeating: 0, count: positions)
        var lse = [Double](repeating: 0, count: fromLogits ? positions : 0)
        let spec = Spec(c: c, inner: inner, ignore: ignoreIndex, smoothing: smoothing, weights: w, fromLogits: fromLogits)
        withExtendedLifetime(x) {
            switch dt {
            case .float64: forward(x.storage.pointer(as: Double.self), ys, spec, losses: &losses, lse: &lse)
            default: forward(x.storage.pointer(as: Float.self), ys, spec, losses: &losses, lse: &lse)
            }
        }
        // Per-position weights of counted labels: the weighted mean's denominator.
        var denominator = 0.0
        for y in ys where y != ignoreIndex { denominator += w?[y] ?? 1 }
        let out: Tensor
        switch reduction {
        case .none: out = Tensor(losses, shape: labels.shape, dtype: dt)
        case .sum: out = Tensor(scalar: losses.reduce(0, +), dtype: dt)
        case .mean: out = Tensor(scalar: losses.reduce(0, +) / denominator, dtype: dt)
        }
        return Autograd.record(out, inputs: [x], name: op) { g, _ in
            let g = g.to(dt)
            // The upstream gradient of each position's loss.
            let gpos: [Double]
            switch reduction {
            case .none: gpos = g.scalars(as: Double.self)
            case .sum: gpos = [Double](repeating: g.itemDouble(), count: positions)
            case .mean: gpos = [Double](repeating: g.itemDouble() / denominator, count: positions)
            }
            let gx = Tensor(uninitializedShape: x.shape, dtype: dt)
            withExtendedLifetime((x, gx)) {
                switch dt {
                case .float64: backward(x.storage.pointer(as: Double.self), gx.storage.pointer(as: Double.self), ys, spec, gpos: gpos, lse: lse)
                default: backward(x.storage.pointer(as: Float.self), gx.storage.pointer(as: Float.self), ys, spec, gpos: gpos, lse: lse)
                }
            }
            return [gx]
        }
    }

    struct Spec {
        let c: Int, inner: Int, ignore: Int, smoothing: Double
        let weights: [Double]?
        let fromLogits: Bool
        /// Σ w_c (C without weights), for the smoothing term's gradient.
        var weightTotal: Double { weights?.reduce(0, +) ?? Double(c) }
    }

    /// Per position (o, i): lse = log Σ_c exp(x_c) (logits only), and the loss
    /// (1 − ε)·w_y·(lse − x_y) + ε/C·Σ_c w_c·(lse − x_c)  (cross-entropy), or −w_y·x_y (NLL).
    static func forward<T: FloatElement>(
        _ x: UnsafePointer<T>, _ ys: [Int], _ s: Spec, losses: inout [Double], lse: inout [Double]
    ) {
        let c = s.c, inner = s.inner, eps = s.smoothing
        losses.withUnsafeMutableBufferPointer { lossP in
            lse.withUnsafeMutableBufferPointer { lseP in
                let lp = lossP, sp = lseP
                Threading.parallelFor(ys.count, grain: Swift.max(1, Threading.elementwiseGrain / (4 * c))) { range in
                    if inner == 1 && s.fromLogits {
                        rowsForward(x, ys, s, range, losses: lp, lse: sp)
                        return
                    }
                    for pos in range {
                        let o = pos / inner, i = pos % inner
                        let row = x + o * c * inner + i
                        let y = ys[pos]
                        if !s.fromLogits {
                            lp[pos] = y == s.ignore ? 0 : -(s.weights?[y] ?? 1) * Double(row[y * inner])
                            continue
                        }
                        var m = -T.infinity
                        for k in 0..<c where row[k * inner] > m || row[k * inner].isNaN { m = row[k * inner] }
                        var sum = 0.0
                        if m.isFinite {
                            for k in 0..<c { sum += Double(FastMath.exp(row[k * inner] - m)) }
                        } else {
                            sum = 1
                        }
                        let l = Double(m) + Foundation.log(sum)
                        sp[pos] = l
                        if y == s.ignore { lp[pos] = 0; continue }
                        var loss = (1 - eps) * (s.weights?[y] ?? 1) * (l - Double(row[y * inner]))
                        if eps > 0 {
                            var smooth = 0.0
                            for k in 0..<c { smooth += (s.weights?[k] ?? 1) * (l - Double(row[k * inner])) }
                            loss += eps / Double(c) * smooth
                        }
                        lp[pos] = loss
                    }
                }
            }
        }
    }

    /// The forward pass for contiguous rows (logits [N, C]): vectorised max, exp and sums.
    static func rowsForward<T: FloatElement>(
        _ x: UnsafePointer<T>, _ ys: [Int], _ s: Spec, _ range: Range<Int>,
        losses: UnsafeMutableBufferPointer<Double>, lse: UnsafeMutableBufferPointer<Double>
    ) {
        let c = s.c, eps = s.smoothing
        withUnsafeTemporaryAllocation(of: T.self, capacity: c) { buf in
            guard let e = buf.baseAddress else { return }
            for pos in range {
                let row = x + pos * c
                let m = Kernels.reduceRow(MaxCombiner.self, row, c)
                let l: Double
                if m.isFinite {
                    for k in 0..<c { e[k] = FastMath.exp(row[k] - m) }
                    l = Double(m) + Foundation.log(Double(Kernels.reduceRow(SumCombiner.self, UnsafePointer(e), c)))
                } else {
                    l = Double(m)
                }
                lse[pos] = l
                let y = ys[pos]
                if y == s.ignore { losses[pos] = 0; continue }
                var loss = (1 - eps) * (s.weights?[y] ?? 1) * (l - Double(row[y]))
                if eps > 0 {
                    // Σ_k w_k·(lse − x_k) = W·lse − Σ_k w_k·x_k
                    var dot = 0.0
                    if let w = s.weights {
                        for k in 0..<c { dot += w[k] * Double(row[k]) }
                    } else {
                        dot = Double(Kernels.reduceRow(SumCombiner.self, row, c))
                    }
                    loss += eps / Double(c) * (s.weightTotal * l - dot)
                }
                losses[pos] = loss
            }
        }
    }

    /// The backward pass for contiguous rows: one vectorised pass per row.
    static func rowsBackward<T: FloatElement>(
        _ x: UnsafePointer<T>, _ gx: UnsafeMutablePointer<T>, _ ys: [Int], _ s: Spec, _ range: Range<Int>,
        gpos: [Double], lse: [Double]
    ) {
        let c = s.c, eps = s.smoothing, total = s.weightTotal
        for pos in range {
            let row = x + pos * c, out = gx + pos * c
            let y = ys[pos]
            if y == s.ignore {
                out.update(repeating: 0, count: c)
                continue
            }
            let g = gpos[pos], wy = s.weights?[y] ?? 1
            let l = T(lse[pos]), a = T(g * ((1 - eps) * wy + eps * total / Double(c)))
            for k in 0..<c { out[k] = FastMath.exp(row[k] - l) * a }
            if eps > 0 {
                let e = eps / Double(c) * g
                if let w = s.weights {
                    for k in 0..<c { out[k] -= T(e * w[k]) }
                } else {
                    let te = T(e)
                    for k in 0..<c { out[k] -= te }
                }
            }
            out[y] -= T(g * (1 - eps) * wy)
        }
    }

    /// gx_k = g·(p_k·((1 − ε)·w_y + ε·W/C) − (1 − ε)·w_y·[k = y] − ε·w_k/C) for cross-entropy
    /// (p = softmax, W = Σ w), gx_y = −g·w_y for NLL; zero at ignored positions.
    static func backward<T: FloatElement>(
        _ x: UnsafePointer<T>, _ gx: UnsafeMutablePointer<T>, _ ys: [Int], _ s: Spec, gpos: [Double], lse: [Double]
    ) {
        let c = s.c, inner = s.inner, eps = s.smoothing, total = s.weightTotal
        Threading.parallelFor(ys.count, grain: Swift.max(1, Threading.elementwiseGrain / (4 * c))) { range in
            if inner == 1 && s.fromLogits {
                rowsBackward(x, gx, ys, s, range, gpos: gpos, lse: lse)
                return
            }
            for pos in range {
                let o = pos / inner, i = pos % inner
                let base = o * c * inner + i
                let row = x + base, out = gx + base
                let y = ys[pos]
                if y == s.ignore {
                    for k in 0..<c { out[k * inner] = 0 }
                    continue
                }
                let g = gpos[pos], wy = s.weights?[y] ?? 1
                if !s.fromLogits {
                    for k in 0..<c { out[k * inner] = 0 }
                    out[y * inner] = T(-g * wy)
                    continue
                }
                let l = T(lse[pos])
                let a = T(g * ((1 - eps) * wy + eps * total / Double(c)))
                if eps > 0 {
                    let e = eps / Double(c) * g
                    for k in 0..<c {
                        out[k * inner] = FastMath.exp(row[k * inner] - l) * a - T(e * (s.weights?[k] ?? 1))
                    }
                } else {
                    for k in 0..<c { out[k * inner] = FastMath.exp(row[k * inner] - l) * a }
                }
                out[y * inner] -= T(g * (1 - eps) * wy)
            }
        }
    }
}

