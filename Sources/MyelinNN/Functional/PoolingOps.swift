import Foundation
import MyelinCore

// MARK: - Public ops

/// 2-D max pooling of `input` [N, C, H, W] (or [C, H, W]), as PyTorch's `F.max_pool2d`:
/// windows of `kernelSize` every `stride` (default: the kernel size), with implicit
/// −∞ padding of at most half the kernel, optional `dilation`, and `ceilMode` to
/// keep a last partial window. NaN wins a window, as in PyTorch. The forward pass
/// remembers where each maximum came from; backward routes the gradient there.
public func maxPool2d(
    _ input: Tensor, kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0,
    dilation: IntPair = 1, ceilMode: Bool = false
) -> Tensor {
    if input.rank == 3 {
        let y = maxPool2d(input.unsqueezed(axis: 0), kernelSize: kernelSize, stride: stride, padding: padding,
                          dilation: dilation, ceilMode: ceilMode)
        return y.reshaped(Array(y.shape.dropFirst()))
    }
    let g = poolGeometry(input.shape, kernel: kernelSize, stride: stride ?? kernelSize, padding: padding,
                         dilation: dilation, ceilMode: ceilMode, op: "maxPool2d")
    let x = input.dtype.isFloatingPoint ? input : input.to(.float32)
    let out = Tensor(uninitializedShape: [g.n, g.c, g.oh, g.ow], dtype: x.dtype)
    // Flat index (ih·W + iw) of each output's maximum within its plane.
    let indices = TensorStorage(count: out.count, dtype: .int32)
    withExtendedLifetime((x, out, indices)) {
        switch x.dtype {
        case .float64: PoolKernels.maxForward(Double.self, g, x, out, indices)
        default: PoolKernels.maxForward(Float.self, g, x, out, indices)
        }
    }
    let (shape, dt) = (x.shape, x.dtype)
    return Autograd.record(out, inputs: [x], name: "maxPool2d") { grad, _ in
        let gy = grad.to(dt)
        let dx = Tensor.zeros(shape, dtype: dt)
        withExtendedLifetime((gy, dx, indices)) {
            switch dt {
            case .float64: PoolKernels.maxBackward(Double.self, g, gy, dx, indices)
            default: PoolKernels.maxBackward(Float.self, g, gy, dx, indices)
            }
        }
        return [dx]
    }
}

/// 2-D average pooling of `input` [N, C, H, W] (or [C, H, W]), as PyTorch's
/// `F.avg_pool2d`: zero padding of at most half the kernel; with `countIncludePad`
/// (PyTorch's default) padded positions count in the divisor.
public func avgPool2d(
    _ input: Tensor, kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0,
    ceilMode: Bool = false, countIncludePad: Bool = true
) -> Tensor {
    if input.rank == 3 {
        let y = avgPool2d(input.unsqueezed(axis: 0), kernelSize: kernelSize, stride: stride, padding: padding,
                          ceilMode: ceilMode, countIncludePad: countIncludePad)
        return y.reshaped(Array(y.shape.dropFirst()))
    }
    var g = poolGeometry(input.shape, kernel: kernelSize, stride: stride ?? kernelSize, padding: padding,
                         dilation: 1, ceilMode: ceilMode, op: "avgPool2d")
    g.countIncludePad = countIncludePad
    return PoolKernels.average(g, input, name: "avgPool2d")
}

/// Average pooling to a fixed output size, as PyTorch's `F.adaptive_avg_pool2d`:
/// output cell i covers input rows ⌊i·H/OH⌋ ..< ⌈(i+1)·H/OH⌉ (likewise columns).
public func adaptiveAvgPool2d(_ input: Tensor, outputSize: IntPair) -> Tensor {
    if input.rank == 3 {
        let y = adaptiveAvgPool2d(input.unsqueezed(axis: 0), outputSize: outputSize)
        return y.reshaped(Array(y.shape.dropFirst()))
    }
    require(input.rank == 4, "adaptiveAvgPool2d: input must be [N, C, H, W] (or [C, H, W]), got shape \(input.shape)")
    require(outputSize.height >= 1 && outputSize.width >= 1,
            "adaptiveAvgPool2d: output size must be ≥ 1, got \(outputSize) (input shape \(input.shape))")
    require(input.shape[2] >= 1 && input.shape[3] >= 1,
            "adaptiveAvgPool2d: input \(input.shape) has an empty spatial dimension")
    var g = PoolGeometry()
    (g.n, g.c, g.h, g.w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    (g.oh, g.ow) = (outputSize.height, outputSize.width)
    g.adaptive = true
    return PoolKernels.average(g, input, name: "adaptiveAvgPool2d")
}

/// The mean over height and width: [N, C, H, W] → [N, C] ([N, C, 1, 1] with
/// `keepDims`), Keras' GlobalAveragePooling2D.
public func globalAvgPool(_ input: Tensor, keepDims: Bool = false) -> Tensor {
    require(input.rank == 4, "globalAvgPool: input must be [N, C, H, W], got shape \(input.shape)")
    require(input.shape[2] * input.shape[3] > 0, "globalAvgPool: input \(input.shape) has an empty spatial dimension")
    return input.mean(axes: [2, 3], keepDims: keepDims)
}

// MARK: - Geometry

struct PoolGeometry {
    var n = 0, c = 0, h = 0, w = 0, oh = 0, ow = 0
    var kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1
    var countIncludePad = true
    /// Adaptive pooling: windows from the start/end index formula instead of kernel and stride.
    var adaptive = false
    var planes: Int { n * c }
}

/// PyTorch's `pooling_output_shape`: floor (or ceil) division, and with `ceilMode` the
/// last window must start inside the input or the left padding.
func poolOutputSize(_ size: Int, kernel: Int, stride: Int, pad: Int, dilation: Int, ceilMode: Bool) -> Int {
    let span = size + 2 * pad - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0)
    var out = convFloorDiv(span, stride) + 1
    if ceilMode && (out - 1) * stride >= size + pad { out -= 1 }
    return out
}

func poolGeometry(
    _ xs: [Int], kernel: IntPair, stride: IntPair, padding: IntPair, dilation: IntPair, ceilMode: Bool, op: String
) -> PoolGeometry {
    require(xs.count == 4, "\(op): input must be [N, C, H, W] (or [C, H, W]), got shape \(xs)")
    require(kernel.height >= 1 && kernel.width >= 1, "\(op): kernel size must be ≥ 1, got \(kernel)")
    require(stride.height >= 1 && stride.width >= 1, "\(op): stride must be ≥ 1, got \(stride)")
    require(dilation.height >= 1 && dilation.width >= 1, "\(op): dilation must be ≥ 1, got \(dilation)")
    require(padding.height >= 0 && padding.width >= 0 &&
            padding.height <= kernel.height / 2 && padding.width <= kernel.width / 2,
            "\(op): padding \(padding) must be between 0 and half the kernel size \(kernel)")
    var g = PoolGeometry()
    (g.n, g.c, g.h, g.w) = (xs[0], xs[1], xs[2], xs[3])
    (g.kh, g.kw, g.sh, g.sw) = (kernel.height, kernel.width, stride.height, stride.width)
    (g.ph, g.pw, g.dh, g.dw) = (padding.height, padding.width, dilation.height, dilation.width)
    g.oh = poolOutputSize(g.h, kernel: g.kh, stride: g.sh, pad: g.ph, dilation: g.dh, ceilMode: ceilMode)
    g.ow = poolOutputSize(g.w, kernel: g.kw, stride: g.sw, pad: g.pw, dilation: g.dw, ceilMode: ceilMode)
    require(g.oh >= 1 && g.ow >= 1,
            "\(op): input \(xs) is too small for kernel \(kernel.area)"
            + (g.dh > 1 || g.dw > 1 ? " with dilation \(dilation)" : "") + " and padding \(padding): the output would be \(g.oh)×\(g.ow)")
    return g
}

// MARK: - Kernels

enum PoolKernels {
    /// Runs `body(planes)` over ranges of the N·C planes, in parallel when the work is large.
    static func forEachPlanes(_ g: PoolGeometry, costPerPlane: Int, _ body: (Range<Int>) -> Void) {
        let grain = Swift.max(1, Threading.elementwiseGrain / Swift.max(1, costPerPlane))
        Threading.parallelFor(g.planes, grain: grain, body)
    }

    static func maxForward<T: FloatElement>(_: T.Type, _ g: PoolGeometry, _ x: Tensor, _ out: Tensor, _ idx: TensorStorage) {
        let box = UncheckedSendable((UnsafePointer(x.storage.pointer(as: T.self)), out.storage.pointer(as: T.self),
                                     idx.pointer(as: Int32.self)))
        forEachPlanes(g, costPerPlane: g.oh * g.ow * g.kh * g.kw) { planes in
            let (xp, yp, ip) = box.value
            // Locals, not fields of the captured geometry: stores through the output pointers
            // could alias the closure context, which would force reloads in the inner loop.
            let (h, w, oh, ow, kh, kw) = (g.h, g.w, g.oh, g.ow, g.kh, g.kw)
            let (sh, sw, ph, pw, dh, dw) = (g.sh, g.sw, g.ph, g.pw, g.dh, g.dw)
            for p in planes {
                let xs = xp + p * h * w, ys = yp + p * oh * ow, ids = ip + p * oh * ow
                for oy in 0..<oh {
                    var h0 = oy * sh - ph
                    let h1 = Swift.min(h0 + (kh - 1) * dh + 1, h)
                    while h0 < 0 { h0 += dh }
                    for ox in 0..<ow {
                        var w0 = ox * sw - pw
                        let w1 = Swift.min(w0 + (kw - 1) * dw + 1, w)
                        while w0 < 0 { w0 += dw }
                        var best = -T.infinity, at = h0 < h1 && w0 < w1 ? h0 * w + w0 : -1, nanAt = -1
                        var ih = h0
                        while ih < h1 {
                            var iw = w0
                            while iw < w1 {
                                // Selects, not branches (a data-dependent branch mispredicts half the
                                // time); NaN, which wins in PyTorch, is tracked on the side.
                                let v = xs[ih * w + iw]
                                let greater = v > best
                                best = greater ? v : best
                                at = greater ? ih * w + iw : at
                                if v != v { nanAt = ih * w + iw }
                                iw += dw
                            }
                            ih += dh
                        }
                        if nanAt >= 0 { best = .nan; at = nanAt }
                        ys[oy * ow + ox] = best
                        ids[oy * ow + ox] = Int32(truncatingIfNeeded: at)
                    }
                }
            }
        }
    }

    static func maxBackward<T: FloatElement>(_: T.Type, _ g: PoolGeometry, _ gy: Tensor, _ dx: Tensor, _ idx: TensorStorage) {
        let box = UncheckedSendable((UnsafePointer(gy.storage.pointer(as: T.self)), dx.storage.pointer(as: T.self),
                                     UnsafePointer(idx.pointer(as: Int32.self))))
        forEachPlanes(g, costPerPlane: g.oh * g.ow) { planes in
            let (gp, dp, ip) = box.value
            for p in planes {
                let gs = gp + p * g.oh * g.ow, ds = dp + p * g.h * g.w, ids = ip + p * g.oh * g.ow
                // A window that lies wholly in the padding (possible with dilation) has index −1.
                for o in 0..<(g.oh * g.ow) where ids[o] >= 0 { ds[Int(ids[o])] += gs[o] }
            }
        }
    }

    /// The input window of output (oy, ox) and its divisor.
    @inline(__always)
    static func window(_ g: PoolGeometry, _ oy: Int, _ ox: Int) -> (Int, Int, Int, Int, Int) {
        if g.adaptive {
            let h0 = (oy * g.h) / g.oh, h1 = ((oy + 1) * g.h + g.oh - 1) / g.oh
            let w0 = (ox * g.w) / g.ow, w1 = ((ox + 1) * g.w + g.ow - 1) / g.ow
            return (h0, h1, w0, w1, (h1 - h0) * (w1 - w0))
        }
        var h0 = oy * g.sh - g.ph, w0 = ox * g.sw - g.pw
        var h1 = Swift.min(h0 + g.kh, g.h + g.ph), w1 = Swift.min(w0 + g.kw, g.w + g.pw)
        let poolSize = (h1 - h0) * (w1 - w0)
        h0 = Swift.max(h0, 0); w0 = Swift.max(w0, 0)
        h1 = Swift.min(h1, g.h); w1 = Swift.min(w1, g.w)
        return (h0, h1, w0, w1, g.countIncludePad ? poolSize : (h1 - h0) * (w1 - w0))
    }

    /// Average pooling (fixed or adaptive windows), forward and backward.
    static func average(_ g: PoolGeometry, _ input: Tensor, name: String) -> Tensor {
        let x = input.dtype.isFloatingPoint ? input : input.to(.float32)
        let out = Tensor(uninitializedShape: [g.n, g.c, g.oh, g.ow], dtype: x.dtype)
        withExtendedLifetime((x, out)) {
            switch x.dtype {
            case .float64: averageForward(Double.self, g, x, out)
            default: averageForward(Float.self, g, x, out)
            }
        }
        let (shape, dt) = (x.shape, x.dtype)
        return Autograd.record(out, inputs: [x], name: name) { grad, _ in
            let gy = grad.to(dt)
            let dx = Tensor.zeros(shape, dtype: dt)
            withExtendedLifetime((gy, dx)) {
                switch dt {
                case .float64: averageBackward(Double.self, g, gy, dx)
                default: averageBackward(Float.self, g, gy, dx)
                }
            }
            return [dx]
        }
    }

    static func averageForward<T: FloatElement>(_: T.Type, _ g: PoolGeometry, _ x: Tensor, _ out: Tensor) {
        let box = UncheckedSendable((UnsafePointer(x.storage.pointer(as: T.self)), out.storage.pointer(as: T.self)))
        let cost = g.adaptive ? g.h * g.w : g.oh * g.ow * g.kh * g.kw
        forEachPlanes(g, costPerPlane: cost) { planes in
            let (xp, yp) = box.value
            for p in planes {
                let xs = xp + p * g.h * g.w, ys = yp + p * g.oh * g.ow
                for oy in 0..<g.oh {
                    for ox in 0..<g.ow {
                        let (h0, h1, w0, w1, divisor) = window(g, oy, ox)
                        if h0 >= h1 || w0 >= w1 { ys[oy * g.ow + ox] = 0; continue }
                        var s: T = 0
                        for ih in h0..<h1 { for iw in w0..<w1 { s += xs[ih * g.w + iw] } }
                        ys[oy * g.ow + ox] = s / T(divisor)
                    }
                }
            }
        }
    }

    static func averageBackward<T: FloatElement>(_: T.Type, _ g: PoolGeometry, _ gy: Tensor, _ dx: Tensor) {
        let box = UncheckedSendable((UnsafePointer(gy.storage.pointer(as: T.self)), dx.storage.pointer(as: T.self)))
        let cost = g.adaptive ? g.h * g.w : g.oh * g.ow * g.kh * g.kw
        forEachPlanes(g, costPerPlane: cost) { planes in
            let (gp, dp) = box.value
            for p in planes {
                let gs = gp + p * g.oh * g.ow, ds = dp + p * g.h * g.w
                for oy in 0..<g.oh {
                    for ox in 0..<g.ow {
                        let (h0, h1, w0, w1, divisor) = window(g, oy, ox)
                        if h0 >= h1 || w0 >= w1 { continue }
                        let v = gs[oy * g.ow + ox] / T(divisor)
                        for ih in h0..<h1 { for iw in w0..<w1 { ds[ih * g.w + iw] += v } }
                    }
                }
            }
        }
    }
}
