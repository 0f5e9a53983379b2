import Foundation
import MyelinCore

// MARK: - convTranspose2d

/// 2-D transposed convolution ("deconvolution") of `input` [N, Cin, H, W] (or
/// [Cin, H, W]) with `weight` [Cin, Cout/groups, kh, kw] and an optional `bias`
/// [Cout], as PyTorch's `F.conv_transpose2d`. The output is
/// [N, Cout, (H−1)·s − 2p + d·(k−1) + outputPadding + 1, …].
///
/// It is the adjoint (input gradient) of `conv2d` with the same weight, so it
/// reuses conv2d's machinery with the roles swapped: forward is one GEMM per group
/// (Wᵀ·x) followed by col2im; backward is conv2d's forward for the input gradient
/// (im2col + GEMM) and conv2d's weight gradient with input and output exchanged.
public func convTranspose2d(
    _ input: Tensor, weight: Tensor, bias: Tensor? = nil,
    stride: IntPair = 1, padding: IntPair = 0, outputPadding: IntPair = 0, groups: Int = 1, dilation: IntPair = 1
) -> Tensor {
    if input.rank == 3 {
        let y = convTranspose2d(input.unsqueezed(axis: 0), weight: weight, bias: bias, stride: stride, padding: padding,
                                outputPadding: outputPadding, groups: groups, dilation: dilation)
        return y.reshaped(Array(y.shape.dropFirst()))
    }
    let g = convTransposeGeometry(input.shape, weight.shape, bias: bias?.shape, stride: stride, padding: padding,
                                  outputPadding: outputPadding, groups: groups, dilation: dilation)
    let dt: DType = (input.dtype == .float64 || weight.dtype == .float64 || bias?.dtype == .float64) ? .float64 : .float32
    let x = input.to(dt), w = weight.to(dt), b = bias?.to(dt)
    // In conv2d's terms: the output is the convolution's input [N, c, h, w].
    var out = Tensor.zeros([g.n, g.c, g.h, g.w], dtype: dt)
    withExtendedLifetime((x, w, b, out)) {
        switch dt {
        case .float64: ConvTransposeKernels.forward(Double.self, g, x, w, b, &out)
        default: ConvTransposeKernels.forward(Float.self, g, x, w, b, &out)
        }
    }
    let xd = x.detached(), wd = w.detached()
    let inputs = b.map { [x, w, $0] } ?? [x, w]
    let hasBias = b != nil
    return Autograd.record(out, inputs: inputs, name: "convTranspose2d") { grad, needs in
        let gy = grad.to(dt)
        let needBias = needs.count > 2 && needs[2]
        var dx: Tensor? = nil, dw: Tensor? = nil
        let db: Tensor? = needBias ? gy.sum(axes: [0, 2, 3]) : nil
        withExtendedLifetime((xd, wd, gy)) {
            if needs[0] {
                // dX = conv2d(dY, W): im2col + GEMM.
                var d = Tensor(uninitializedShape: [g.n, g.o, g.oh, g.ow], dtype: dt)
                switch dt {
                case .float64: ConvKernels.forward(Double.self, g, gy, wd, nil, &d)
                default: ConvKernels.forward(Float.self, g, gy, wd, nil, &d)
                }
                dx = d
            }
            if needs[1] {
                // dW: conv2d's weight gradient with dY as its input and x as its output gradient.
                switch dt {
                case .float64: (_, dw, _) = ConvKernels.backward(Double.self, g, gy, wd, xd, false, true, false)
                default: (_, dw, _) = ConvKernels.backward(Float.self, g, gy, wd, xd, false, true, false)
                }
            }
        }
        return hasBias ? [dx, dw, db] : [dx, dw]
    }
}

/// The geometry of the convolution whose adjoint this transposed convolution is:
/// conv input = transposed output, conv output = transposed input, o = Cin.
func convTransposeGeometry(
    _ xs: [Int], _ ws: [Int], bias: [Int]?, stride: IntPair, padding: IntPair, outputPadding: IntPair,
    groups: Int, dilation: IntPair, op: String = "convTranspose2d"
) -> ConvGeometry {
    require(xs.count == 4, "\(op): input must be [N, C, H, W] (or [C, H, W]), got shape \(xs)")
    require(ws.count == 4, "\(op): weight must be [inChannels, outChannels/groups, kh, kw], got shape \(ws)")
    require(groups >= 1, "\(op): groups must be ≥ 1, got \(groups)")
    require(stride.height >= 1 && stride.width >= 1, "\(op): stride must be ≥ 1, got \(stride)")
    require(dilation.height >= 1 && dilation.width >= 1, "\(op): dilation must be ≥ 1, got \(dilation)")
    require(padding.height >= 0 && padding.width >= 0, "\(op): padding must not be negative, got \(padding)")
    require(outputPadding.height >= 0 && outputPadding.width >= 0, "\(op): output padding must not be negative, got \(outputPadding)")
    require((outputPadding.height < stride.height || outputPadding.height < dilation.height)
            && (outputPadding.width < stride.width || outputPadding.width < dilation.width),
            "\(op): output padding \(outputPadding) must be smaller than either the stride \(stride) or the dilation \(dilation)")
    require(ws.allSatisfy { $0 >= 1 }, "\(op): weight shape \(ws) has an empty dimension")
    require(xs[1] == ws[0],
            "\(op): input \(xs) has \(xs[1]) channels but weight \(ws) expects \(ws[0])")
    require(ws[0] % groups == 0,
            "\(op): groups \(groups) must divide the input channels \(ws[0]) (input \(xs), weight \(ws))")
    var g = ConvGeometry()
    (g.n, g.o, g.oh, g.ow) = (xs[0], xs[1], xs[2], xs[3])
    (g.kh, g.kw, g.groups) = (ws[2], ws[3], groups)
    g.c = ws[1] * groups
    (g.sh, g.sw, g.dh, g.dw) = (stride.height, stride.width, dilation.height, dilation.width)
    (g.pt, g.pb, g.pl, g.pr) = (padding.height, padding.height, padding.width, padding.width)
    if let bias {
        require(bias == [g.c], "\(op): bias shape \(bias) must be [\(g.c)] for weight \(ws) and groups \(groups)")
    }
    g.h = (g.oh - 1) * g.sh - 2 * g.pt + g.dh * (g.kh - 1) + outputPadding.height + 1
    g.w = (g.ow - 1) * g.sw - 2 * g.pl + g.dw * (g.kw - 1) + outputPadding.width + 1
    require(g.h > 0 && g.w > 0,
            "\(op): input \(xs) with weight \(ws), stride \(stride), padding \(padding) gives an empty output \(g.h)×\(g.w)")
    return g
}

enum ConvTransposeKernels {
    /// out (zeroed, [N, c, h, w]) = col2im(W_gᵀ · x_g) + bias, image by image over the cores.
    static func forward<T: FloatElement>(
        _: T.Type, _ g: ConvGeometry, _ x: Tensor, _ w: Tensor, _ b: Tensor?, _ out: inout Tensor
    ) {
        let xp = UnsafePointer(x.storage.pointer(as: T.self)), wp = UnsafePointer(w.storage.pointer(as: T.self))
        let bp = b.map { UnsafePointer($0.storage.pointer(as: T.self)) }
        let yp = out.storage.pointer(as: T.self)
        let (og, kg, l) = (g.og, g.kg, g.l)
        if g.n == 0 || g.c == 0 { return }
        let parts = l == 0 ? 1 : ConvKernels.workers(images: g.n, work: g.n * g.o * l * kg)
        let colsCount = g.isPointwise ? 0 : g.groups * kg * l
        let scratch = (0..<parts).map { _ in TensorStorage(count: colsCount, dtype: T.dtype) }
        let box = UncheckedSendable((xp, wp, bp, yp, scratch))
        withExtendedLifetime(scratch) {
            ConvKernels.forEachWorker(g.n, parts: parts) { part, images in
                let (xp, wp, bp, yp, scratch) = box.value
                let cols = scratch[part].pointer(as: T.self)
                for n in images {
                    let xn = xp + n * g.o * l, yn = yp + n * g.c * g.planeIn
                    if l > 0 {
                        // A 1×1 stride-1 unpadded case writes the GEMM straight into the output.
                        let dst = g.isPointwise ? yn : cols
                        for grp in 0..<g.groups {
                            GEMM.gemm(transA: true, transB: false, m: kg, n: l, k: og, alpha: 1,
                                      a: wp + grp * og * kg, lda: kg, b: xn + grp * og * l, ldb: l,
                                      beta: 0, c: dst + grp * kg * l, ldc: l)
                        }
                        if !g.isPointwise { ConvKernels.col2im(g, cols, yn) }
                    }
                    if let bp {
                        for c in 0..<g.c {
                            let p = yn + c * g.planeIn, v = bp[c]
                            for i in 0..<g.planeIn { p[i] += v }
                        }
                    }
                }
            }
        }
    }
}
