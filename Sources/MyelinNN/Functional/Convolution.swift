import Foundation
import MyelinCore

// MARK: - Arguments

/// Two integers for the height and width of a kernel, stride, dilation or pooling
/// padding: `3` means 3×3, `[3, 5]` means height 3, width 5 (PyTorch's int-or-tuple).
public struct IntPair: Hashable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    public init(_ both: Int) { self.init(both, both) }
    public init(integerLiteral value: Int) { self.init(value, value) }

    public init(arrayLiteral elements: Int...) {
        require(elements.count == 1 || elements.count == 2,
                "IntPair: give one or two integers (height, width), not \(elements)")
        self.init(elements[0], elements[elements.count - 1])
    }

    /// "3" when square, "(3, 5)" otherwise.
    public var description: String { height == width ? "\(height)" : "(\(height), \(width))" }
    /// "5×5".
    var area: String { "\(height)×\(width)" }
}

/// The zero padding of a convolution: a number of rows/columns on each side
/// (`1`, `[1, 2]` for height 1 and width 2), `.same` (output as large as the
/// input; stride 1 only; an odd total goes to the bottom/right, as PyTorch), or
/// `.valid` (none).
public enum Padding2D: Hashable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, CustomStringConvertible {
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
    case same
    case valid

    /// `h` rows above and below, `w` columns left and right.
    public static func symmetric(_ h: Int, _ w: Int) -> Padding2D { .explicit(top: h, bottom: h, left: w, right: w) }

    public init(integerLiteral value: Int) { self = .symmetric(value, value) }

    public init(arrayLiteral elements: Int...) {
        require(elements.count == 1 || elements.count == 2,
                "Padding2D: give one or two integers (height, width), not \(elements); use .explicit(top:bottom:left:right:) for four")
        self = .symmetric(elements[0], elements[elements.count - 1])
    }

    public var description: String {
        switch self {
        case .same: return ".same"
        case .valid: return ".valid"
        case let .explicit(t, b, l, r):
            if t == b && l == r { return t == l ? "\(t)" : "(\(t), \(l))" }
            return "(top \(t), bottom \(b), left \(l), right \(r))"
        }
    }

    /// (top, bottom, left, right) for a kernel of `kernel` with `dilation`.
    func resolved(kernel: IntPair, dilation: IntPair) -> (Int, Int, Int, Int) {
        switch self {
        case .valid: return (0, 0, 0, 0)
        case let .explicit(t, b, l, r): return (t, b, l, r)
        case .same:
            // PyTorch: total = d·(k−1), half before, the rest (one more when odd) after.
            let th = dilation.height * (kernel.height - 1), tw = dilation.width * (kernel.width - 1)
            return (th / 2, th - th / 2, tw / 2, tw - tw / 2)
        }
    }
}

// MARK: - Geometry

/// The sizes of one 2-D convolution, NCHW, weight [O, C/groups, kh, kw].
struct ConvGeometry {
    var n = 0, c = 0, h = 0, w = 0, o = 0
    var kh = 0, kw = 0, sh = 1, sw = 1, dh = 1, dw = 1
    var pt = 0, pb = 0, pl = 0, pr = 0
    var oh = 0, ow = 0, groups = 1

    var cg: Int { c / groups }
    var og: Int { o / groups }
    /// Rows of the column matrix per group: one per (channel, kernel row, kernel column).
    var kg: Int { cg * kh * kw }
    /// Output pixels per image: columns of the column matrix.
    var l: Int { oh * ow }
    var planeIn: Int { h * w }
    /// A 1×1, stride-1, unpadded convolution is a plain GEMM on the input: no im2col.
    var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pb == 0 && pl == 0 && pr == 0 && oh == h && ow == w }
}

@inline(__always) func convFloorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
@inline(__always) func convCeilDiv(_ a: Int, _ b: Int) -> Int { -convFloorDiv(-a, b) }

// MARK: - conv2d

/// 2-D convolution (cross-correlation, as every framework) of `input` [N, C, H, W]
/// (or [C, H, W]) with `weight` [O, C/groups, kh, kw] and an optional `bias` [O],
/// as PyTorch's `F.conv2d`. Differentiable in all three.
///
/// Each image (or block of images, when their feature maps are small) is unrolled
/// (im2col) into a [C·kh·kw, OH·OW] matrix that one GEMM per group multiplies by the
/// weight. 1×1 stride-1 convolutions skip im2col: the image already is that matrix.
/// Float32 3×3 stride-1 convolutions (≥ 16 channels in and out) use Winograd
/// F(2×2, 3×3), which needs 2.25× fewer multiplies. Blocks are spread over the cores.
/// Backward: dW = dY·colsᵀ and dX = col2im(Wᵀ·dY), both through GEMM transposition
/// flags (dX by Winograd where the forward used it), and dBias = Σ dY.
public func conv2d(
    _ input: Tensor, weight: Tensor, bias: Tensor? = nil,
    stride: IntPair = 1, padding: Padding2D = 0, dilation: IntPair = 1, groups: Int = 1
) -> Tensor {
    if input.rank == 3 {
        let y = conv2d(input.unsqueezed(axis: 0), weight: weight, bias: bias, stride: stride, padding: padding,
                       dilation: dilation, groups: groups)
        return y.reshaped(Array(y.shape.dropFirst()))
    }
    let g = convGeometry(input.shape, weight.shape, bias: bias?.shape, stride: stride, padding: padding,
                         dilation: dilation, groups: groups)
    let dt: DType = (input.dtype == .float64 || weight.dtype == .float64 || bias?.dtype == .float64) ? .float64 : .float32
    let x = input.to(dt), w = weight.to(dt), b = bias?.to(dt)
    var out = Tensor(uninitializedShape: [g.n, g.o, g.oh, g.ow], dtype: dt)
    withExtendedLifetime((x, w, b, out)) {
        switch dt {
        case .float64: ConvKernels.forward(Double.self, g, x, w, b, &out)
        default: ConvKernels.forward(Float.self, g, x, w, b, &out)
        }
    }
    let xd = x.detached(), wd = w.detached()
    let inputs = b.map { [x, w, $0] } ?? [x, w]
    let hasBias = b != nil
    return Autograd.record(out, inputs: inputs, name: "conv2d") { grad, needs in
        let gy = grad.to(dt)
        let needBias = needs.count > 2 && needs[2]
        var dx: Tensor? = nil, dw: Tensor? = nil, db: Tensor? = nil
        withExtendedLifetime((xd, wd, gy)) {
            switch dt {
            case .float64: (dx, dw, db) = ConvKernels.backward(Double.self, g, xd, wd, gy, needs[0], needs[1], needBias)
            default: (dx, dw, db) = ConvKernels.backward(Float.self, g, xd, wd, gy, needs[0], needs[1], needBias)
            }
        }
        return hasBias ? [dx, dw, db] : [dx, dw]
    }
}

/// Checks the shapes of a convolution and works out its output size; stops with a
/// message naming the op and the shapes on misuse.
func convGeometry(
    _ xs: [Int], _ ws: [Int], bias: [Int]?, stride: IntPair, padding: Padding2D, dilation: IntPair, groups: Int,
    op: String = "conv2d"
) -> ConvGeometry {
    require(xs.count == 4, "\(op): input must be [N, C, H, W] (or [C, H, W]), got shape \(xs)")
    require(ws.count == 4, "\(op): weight must be [outChannels, inChannels/groups, kh, kw], got shape \(ws)")
    require(groups >= 1, "\(op): groups must be ≥ 1, got \(groups)")
    require(stride.height >= 1 && stride.width >= 1, "\(op): stride must be ≥ 1, got \(stride)")
    require(dilation.height >= 1 && dilation.width >= 1, "\(op): dilation must be ≥ 1, got \(dilation)")
    require(ws.allSatisfy { $0 >= 1 }, "\(op): weight shape \(ws) has an empty dimension")
    var g = ConvGeometry()
    (g.n, g.c, g.h, g.w) = (xs[0], xs[1], xs[2], xs[3])
    (g.o, g.kh, g.kw) = (ws[0], ws[2], ws[3])
    (g.sh, g.sw, g.dh, g.dw, g.groups) = (stride.height, stride.width, dilation.height, dilation.width, groups)
    require(g.c % groups == 0 && g.o % groups == 0,
            "\(op): groups \(groups) must divide both the input channels \(g.c) and the output channels \(g.o) (input \(xs), weight \(ws))")
    require(ws[1] * groups == g.c,
            "\(op): input \(xs) has \(g.c) channels but weight \(ws) expects \(ws[1] * groups) (\(ws[1]) per group × \(groups) groups)")
    if let bias {
        require(bias == [g.o], "\(op): bias shape \(bias) must be [\(g.o)] for weight \(ws)")
    }
    if padding == .same {
        require(stride.height == 1 && stride.width == 1,
                "\(op): padding .same needs stride 1 (got stride \(stride)), as in PyTorch; give explicit padding instead")
    }
    (g.pt, g.pb, g.pl, g.pr) = padding.resolved(kernel: IntPair(g.kh, g.kw), dilation: dilation)
    require(g.pt >= 0 && g.pb >= 0 && g.pl >= 0 && g.pr >= 0, "\(op): padding \(padding) must not be negative")
    let eh = g.dh * (g.kh - 1) + 1, ew = g.dw * (g.kw - 1) + 1
    let ph = g.h + g.pt + g.pb, pw = g.w + g.pl + g.pr
    require(ph >= eh && pw >= ew,
            "\(op): input \(xs) padded to \(ph)×\(pw) is smaller than the kernel \(g.kh)×\(g.kw)"
            + (g.dh > 1 || g.dw > 1 ? " (dilated to \(eh)×\(ew))" : "") + " (weight \(ws))")
    g.oh = (ph - eh) / g.sh + 1
    g.ow = (pw - ew) / g.sw + 1
    return g
}

// MARK: - Kernels

/// Images are spread over the cores in blocks, one worker per core with its own column
/// buffer: each block of images is unrolled (im2col) into a [C·kh·kw, images·OH·OW]
/// matrix that the GEMMs read. A block holds one image when its OH·OW is large (an
/// image's columns then stay in the core's L2 cache; one large GEMM over many such
/// images measured 2–3× slower), and several when OH·OW is small, so that the GEMMs stay
/// wide (see `targetColumns`). GEMMs inside workers run on one thread, so threads do
/// not nest. Float32 3×3 stride-1 convolutions with at least 16 channels in and out
/// take Winograd F(2×2, 3×3) instead (`Winograd`), forward and for the input gradient.
enum ConvKernels {
    /// How many workers to spread `n` images over: one per core when there is enough work.
    static func workers(images n: Int, work: Int) -> Int {
        work < (1 << 16) ? 1 : Swift.max(1, Swift.min(Threading.threadCount, n))
    }

    /// Runs `body(worker, images)` for `parts` contiguous ranges of `0..<n`, in parallel.
    static func forEachWorker(_ n: Int, parts: Int, _ body: (Int, Range<Int>) -> Void) {
        guard parts > 1 else { body(0, 0..<n); return }
        GEMM.withSingleThreadedGEMMs {
            Threading.parallelFor(parts, grain: 1) { ws in
                for w in ws { body(w, n * w / parts ..< n * (w + 1) / parts) }
            }
        }
    }

    /// Unrolls one image [C, H, W] into `cols` [C·kh·kw, OH·OW]: row (c, i, j), column
    /// (oh, ow) holds x[c, oh·sh − pt + i·dh, ow·sw − pl + j·dw], or 0 in the padding.
    /// (A row copy is a memcpy; 64-byte vector copies with overshoot measured no faster.)
    /// Row r of the matrix starts at `cols + r·ld` (`ld` ≥ OH·OW; larger when several images
    /// share one column block, image i at columns i·OH·OW).
    static func im2col<T: FloatElement>(_ g: ConvGeometry, _ x: UnsafePointer<T>, _ cols: UnsafeMutablePointer<T>, ld: Int? = nil) {
        let ld = ld ?? g.l
        let ow = g.ow
        // Stride 1 with "same" width (3×3 padding 1, ...): a row of cols is the whole plane
        // shifted, so it is one block copy instead of one short copy per output row.
        let sameWidth = g.sw == 1 && g.sh == 1 && ow == g.w
        for c in 0..<g.c {
            let xc = x + c * g.planeIn
            for i in 0..<g.kh {
                for j in 0..<g.kw {
                    let row = cols + ((c * g.kh + i) * g.kw + j) * ld
                    let offW = j * g.dw - g.pl
                    // Output columns whose input column lies inside the image.
                    let lo = Swift.min(ow, Swift.max(0, convCeilDiv(-offW, g.sw)))
                    let hi = Swift.max(lo, Swift.min(ow, convFloorDiv(g.w - 1 - offW, g.sw) + 1))
                    if sameWidth {
                        shiftedPlaneCopy(g, xc, row, rowOffset: i * g.dh - g.pt, columnOffset: offW, lo: lo, hi: hi)
                        continue
                    }
                    for oy in 0..<g.oh {
                        let r = row + oy * ow
                        let ih = oy * g.sh + i * g.dh - g.pt
                        if ih < 0 || ih >= g.h {
                            r.update(repeating: 0, count: ow)
                            continue
                        }
                        for ox in 0..<lo { r[ox] = 0 }
                        if g.sw == 1 {
                            (r + lo).update(from: xc + (ih * g.w + offW + lo), count: hi - lo)
                        } else {
                            let src = xc + ih * g.w
                            for ox in lo..<hi { r[ox] = src[ox * g.sw + offW] }
                        }
                        for ox in hi..<ow { r[ox] = 0 }
                    }
                }
            }
        }
    }

    /// One row (c, i, j) of `cols` when stride is 1 and OW == W: cols[oy·W + ox] =
    /// x[(oy + rowOffset)·W + ox + columnOffset] inside the image, else 0. Output index and
    /// input index differ by a constant, so the valid span is a single copy; the columns
    /// that wrapped around a row edge (ox < lo or ox ≥ hi) are zeroed afterwards.
    @inline(__always)
    static func shiftedPlaneCopy<T: FloatElement>(_ g: ConvGeometry, _ xc: UnsafePointer<T>, _ row: UnsafeMutablePointer<T>,
                                                  rowOffset: Int, columnOffset: Int, lo: Int, hi: Int) {
        let w = g.w, oh = g.oh
        let oyLo = Swift.min(oh, Swift.max(0, -rowOffset)), oyHi = Swift.max(oyLo, Swift.min(oh, g.h - rowOffset))
        let delta = rowOffset * w + columnOffset
        let p0 = oyLo * w, p1 = oyHi * w
        let start = Swift.min(p1, Swift.max(p0, -delta)), end = Swift.max(start, Swift.min(p1, g.h * w - delta))
        row.update(repeating: 0, count: start)
        if end > start { (row + start).update(from: xc + (start + delta), count: end - start) }
        (row + end).update(repeating: 0, count: oh * w - end)
        if lo > 0 || hi < w {
            for oy in oyLo..<oyHi {
                let r = row + oy * w
                for ox in 0..<lo { r[ox] = 0 }
                for ox in hi..<w { r[ox] = 0 }
            }
        }
    }

    /// The adjoint of `im2col`: dx[c, ih, iw] += cols[(c, i, j), (oh, ow)]. `dx` must be zeroed.
    /// Row r of `cols` starts at `cols + r·ld` (default OH·OW), as in `im2col`.
    static func col2im<T: FloatElement>(_ g: ConvGeometry, _ cols: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, ld: Int? = nil) {
        let ow = g.ow, ld = ld ?? g.l
        for c in 0..<g.c {
            let dc = dx + c * g.planeIn
            for i in 0..<g.kh {
                for j in 0..<g.kw {
                    let row = cols + ((c * g.kh + i) * g.kw + j) * ld
                    let offW = j * g.dw - g.pl
                    let lo = Swift.min(ow, Swift.max(0, convCeilDiv(-offW, g.sw)))
                    let hi = Swift.max(lo, Swift.min(ow, convFloorDiv(g.w - 1 - offW, g.sw) + 1))
                    for oy in 0..<g.oh {
                        let ih = oy * g.sh + i * g.dh - g.pt
                        if ih < 0 || ih >= g.h { continue }
                        let r = row + oy * ow
                        if g.sw == 1 {
                            let d = dc + (ih * g.w + offW)
                            for ox in lo..<hi { d[ox] += r[ox] }
                        } else {
                            let d = dc + ih * g.w
                            for ox in lo..<hi { d[ox * g.sw + offW] += r[ox] }
                        }
                    }
                }
            }
        }
    }

    /// GEMMs want wide column blocks: with few output pixels per image (ResNet's 8×8 and
    /// 4×4 stages) a per-image GEMM re-packs the whole weight matrix for a handful of
    /// columns, and dW's per-image GEMM has a depth of OH·OW. So the images are taken in
    /// blocks of about this many columns in all (one image when it alone has that many).
    static let targetColumns = 512

    /// Images per block and workers: blocks of ⌈targetColumns / (OH·OW)⌉ images (when the
    /// weights are large next to an image's columns), no more
    /// than an even share of the batch per worker.
    static func blocking(_ g: ConvGeometry, work: Int) -> (images: Int, blocks: Int, parts: Int) {
        let threads = workers(images: g.n, work: work)
        // Only where the weight matrix outweighs an image's columns (4·O/groups > OH·OW):
        // LeNet's small weights gain nothing and pay the gathering and spreading.
        let wide = 4 * g.og > g.l
        var nb = wide ? Swift.max(1, Swift.min(g.n, (targetColumns + g.l - 1) / Swift.max(g.l, 1))) : 1
        if threads > 1 { nb = Swift.min(nb, (g.n + threads - 1) / threads) }
        let blocks = (g.n + nb - 1) / nb
        return (nb, blocks, Swift.min(threads, blocks))
    }

    static func forward<T: FloatElement>(
        _: T.Type, _ g: ConvGeometry, _ x: Tensor, _ w: Tensor, _ b: Tensor?, _ out: inout Tensor
    ) {
        let xp = UnsafePointer(x.storage.pointer(as: T.self)), wp = UnsafePointer(w.storage.pointer(as: T.self))
        let bp = b.map { UnsafePointer($0.storage.pointer(as: T.self)) }
        let yp = out.storage.pointer(as: T.self)
        let (og, kg, l) = (g.og, g.kg, g.l)
        if g.n == 0 || g.o == 0 || l == 0 { return }
        if T.self == Float.self && Winograd.applies(g) {
            Winograd.forward(g, UnsafeRawPointer(xp).assumingMemoryBound(to: Float.self),
                             UnsafeRawPointer(wp).assumingMemoryBound(to: Float.self),
                             bp.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) },
                             UnsafeMutableRawPointer(yp).assumingMemoryBound(to: Float.self))
            return
        }
        let (nb, blocks, parts) = blocking(g, work: g.n * g.o * l * kg)
        // Per worker: the column block [groups·kg, nb·L] (none for a 1×1 stride-1 convolution
        // image by image: the image is its own column matrix) and, for blocks of several
        // images, the GEMM's output [O, nb·L] before it is spread over the images.
        let colsCount = g.isPointwise && nb == 1 ? 0 : g.groups * kg * l * nb
        let outCount = nb > 1 ? g.o * l * nb : 0
        let scratch = (0..<parts).map { _ in (TensorStorage(count: colsCount, dtype: T.dtype), TensorStorage(count: outCount, dtype: T.dtype)) }
        let box = UncheckedSendable((xp, wp, bp, yp, scratch))
        withExtendedLifetime(scratch) {
            forEachWorker(blocks, parts: parts) { part, blockRange in
                let (xp, wp, bp, yp, scratch) = box.value
                let cols = scratch[part].0.pointer(as: T.self), tmp = scratch[part].1.pointer(as: T.self)
                for blk in blockRange {
                    let n0 = blk * nb, bn = Swift.min(nb, g.n - n0), ld = bn * l
                    let src: UnsafePointer<T>
                    if g.isPointwise && nb == 1 {
                        src = xp + n0 * g.c * g.planeIn
                    } else {
                        for i in 0..<bn { im2col(g, xp + (n0 + i) * g.c * g.planeIn, cols + i * l, ld: ld) }
                        src = UnsafePointer(cols)
                    }
                    if bn == 1 && nb == 1 {
                        // One image: the GEMM writes the NCHW output itself, onto the bias (beta = 1).
                        let yn = yp + n0 * g.o * l
                        if let bp { for o in 0..<g.o { (yn + o * l).update(repeating: bp[o], count: l) } }
                        for grp in 0..<g.groups {
                            GEMM.gemm(transA: false, transB: false, m: og, n: l, k: kg, alpha: 1,
                                      a: wp + grp * og * kg, lda: kg, b: src + grp * kg * l, ldb: l,
                                      beta: bp == nil ? 0 : 1, c: yn + grp * og * l, ldc: l)
                        }
                        continue
                    }
                    for grp in 0..<g.groups {
                        GEMM.gemm(transA: false, transB: false, m: og, n: ld, k: kg, alpha: 1,
                                  a: wp + grp * og * kg, lda: kg, b: src + grp * kg * ld, ldb: ld,
                                  beta: 0, c: tmp + grp * og * ld, ldc: ld)
                    }
                    // [O, bn·L] → bn images of [O, L], plus the bias.
                    for i in 0..<bn {
                        let yn = yp + (n0 + i) * g.o * l
                        for o in 0..<g.o {
                            let s = tmp + o * ld + i * l, d = yn + o * l
                            if let bp {
                                let v = bp[o]
                                for j in 0..<l { d[j] = s[j] + v }
                            } else {
                                d.update(from: s, count: l)
                            }
                        }
                    }
                }
            }
        }
    }

    static func backward<T: FloatElement>(
        _: T.Type, _ g: ConvGeometry, _ x: Tensor, _ w: Tensor, _ gy: Tensor,
        _ needX: Bool, _ needW: Bool, _ needB: Bool
    ) -> (Tensor?, Tensor?, Tensor?) {
        let dt = T.dtype
        let (og, kg, l) = (g.og, g.kg, g.l)
        let db: Tensor? = needB ? gy.sum(axes: [0, 2, 3]) : nil
        if !(needX || needW) { return (nil, nil, db) }
        // The input gradient of a 3×3 stride-1 convolution is itself one (see
        // `Winograd.inputGradient`): Winograd computes it, and only dW is left here.
        if T.self == Float.self && needX, let dxW = Winograd.inputGradient(g, gy, w) {
            let (_, dw, _) = needW ? backward(T.self, g, x, w, gy, false, true, false) : (nil, nil, nil)
            return (dxW, dw, db)
        }
        let dx: Tensor? = needX ? Tensor.zeros(x.shape, dtype: dt) : nil
        let dw: Tensor? = needW ? Tensor(uninitializedShape: w.shape, dtype: dt) : nil
        let wCount = g.o * kg
        let (nb, blocks, parts) = (g.n == 0 || l == 0) ? (1, g.n, 1) : blocking(g, work: g.n * g.o * l * kg * 2)
        // Per worker: the column block (reused for dCols), the block's dY gathered as
        // [O, nb·L] (blocks of several images only), and a partial dW.
        let direct = g.isPointwise && nb == 1
        let colsCount = direct ? 0 : g.groups * kg * l * nb
        let gyCount = nb > 1 ? g.o * l * nb : 0
        let scratch = (0..<parts).map { _ in (TensorStorage(count: colsCount, dtype: dt), TensorStorage(count: gyCount, dtype: dt)) }
        let partialW = (0..<parts).map { _ in TensorStorage(zeros: needW ? wCount : 0, dtype: dt) }
        let xp = UnsafePointer(x.storage.pointer(as: T.self)), wp = UnsafePointer(w.storage.pointer(as: T.self))
        let gp = UnsafePointer(gy.storage.pointer(as: T.self))
        let dxp = dx?.storage.pointer(as: T.self)
        let box = UncheckedSendable((xp, wp, gp, dxp, scratch, partialW))
        withExtendedLifetime((scratch, partialW, dx)) {
            forEachWorker(blocks, parts: parts) { part, blockRange in
                let (xp, wp, gp, dxp, scratch, partialW) = box.value
                let cols = scratch[part].0.pointer(as: T.self), gyBlock = scratch[part].1.pointer(as: T.self)
                let pw = partialW[part].pointer(as: T.self)
                for blk in blockRange {
                    let n0 = blk * nb, bn = Swift.min(nb, g.n - n0), ld = bn * l
                    // dY of the block as [O, bn·L]: the images' own rows for one image.
                    let gn: UnsafePointer<T>
                    if nb == 1 {
                        gn = gp + n0 * g.o * l
                    } else {
                        for i in 0..<bn {
                            let s = gp + (n0 + i) * g.o * l
                            for o in 0..<g.o { (gyBlock + o * ld + i * l).update(from: s + o * l, count: l) }
                        }
                        gn = UnsafePointer(gyBlock)
                    }
                    if needW {
                        let src: UnsafePointer<T>
                        if direct {
                            src = xp + n0 * g.c * g.planeIn
                        } else {
                            for i in 0..<bn { im2col(g, xp + (n0 + i) * g.c * g.planeIn, cols + i * l, ld: ld) }
                            src = UnsafePointer(cols)
                        }
                        // dW_g += dY_g · cols_gᵀ: the transpose is a GEMM flag.
                        for grp in 0..<g.groups {
                            GEMM.gemm(transA: false, transB: true, m: og, n: kg, k: ld, alpha: 1,
                                      a: gn + grp * og * ld, lda: ld, b: src + grp * kg * ld, ldb: ld,
                                      beta: 1, c: pw + grp * og * kg, ldc: kg)
                        }
                    }
                    if let dxp {
                        // dCols_g = W_gᵀ · dY_g (after dW has used the columns); for 1×1 image by image
                        // that already is dX_n.
                        let dst = direct ? dxp + n0 * g.c * g.planeIn : cols
                        for grp in 0..<g.groups {
                            GEMM.gemm(transA: true, transB: false, m: kg, n: ld, k: og, alpha: 1,
                                      a: wp + grp * og * kg, lda: kg, b: gn + grp * og * ld, ldb: ld,
                                      beta: 0, c: dst + grp * kg * ld, ldc: ld)
                        }
                        if !direct {
                            for i in 0..<bn { col2im(g, cols + i * l, dxp + (n0 + i) * g.c * g.planeIn, ld: ld) }
                        }
                    }
                }
            }
        }
        if let dw {
            // Sum the workers' partial gradients into the fresh (uniquely owned) result.
            let d = dw.storage.pointer(as: T.self)
            d.update(from: partialW[0].pointer(as: T.self), count: wCount)
            for p in 1..<parts { let s = partialW[p].pointer(as: T.self); for i in 0..<wCount { d[i] += s[i] } }
        }
        return (dx, dw, db)
    }
}
