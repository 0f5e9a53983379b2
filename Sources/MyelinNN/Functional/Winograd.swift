import CMyelinKernels
import MyelinCore

/// Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, 2015) for float32 3×3
/// stride-1 convolutions: each 2×2 output tile costs 16 multiplies per (input, output)
/// channel pair instead of 36, a 2.25× cut in the GEMM work that dominates VGG and
/// ResNet. With d a 4×4 input tile and g a 3×3 filter,
///
///     Y = Aᵀ·[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A,
///
/// and summed over input channels the ⊙ becomes, for each of the 16 positions ξ of a
/// tile, one GEMM M_ξ [O, tiles] = U_ξ [O, C] · V_ξ [C, tiles]. The transforms only add,
/// subtract and halve, so results stay within a few float32 roundings of im2col's.
///
/// Tiles are taken in blocks of whole tile rows (across the images of the batch, so
/// small feature maps still give wide GEMMs); blocks are spread over the cores, each
/// worker with its own transformed-input and product buffers.
enum Winograd {
    /// Whether `g` is a convolution this path computes (and is worth it for: with few
    /// channels the GEMMs are too thin to gain on im2col).
    static func applies(_ g: ConvGeometry) -> Bool {
        g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.groups == 1
            && g.c >= 16 && g.o >= 16 && g.oh >= 2 && g.ow >= 2 && g.n > 0
    }

    /// U[ξ][o][c] = (G·w[o, c]·Gᵀ)[ξ] with ξ = 4i + j and G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
    static func transformWeights(_ w: UnsafePointer<Float>, o: Int, c: Int, _ u: UnsafeMutablePointer<Float>) {
        let box = UncheckedSendable((w, u))
        Threading.parallelFor(o, grain: Swift.max(1, Threading.elementwiseGrain / Swift.max(16 * c, 1))) { range in
            let (w, u) = box.value
            myelin_wino23_weights_f32(Int64(o), Int64(c), Int64(range.lowerBound), Int64(range.upperBound), w, u)
        }
    }

    /// Tiles per block: the transformed input and the products of a block (16·(C + O)
    /// floats per tile) stay near 8 MB, and GEMMs stay at least 64 columns wide.
    static func tilesPerBlock(c: Int, o: Int) -> Int { Swift.min(1024, Swift.max(64, 131_072 / (c + o))) }

    /// y [N, O, OH, OW] = conv2d(x, w) + b for 3×3 stride-1 `g` (see `applies`).
    static func forward(_ g: ConvGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                        _ b: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>) {
        let (c, o) = (g.c, g.o)
        let th = (g.oh + 1) / 2, tw = (g.ow + 1) / 2
        let u = TensorStorage(count: 16 * o * c, dtype: .float32)
        transformWeights(w, o: o, c: c, u.pointer(as: Float.self))
        let rowsTotal = g.n * th
        let rowsPerBlock = Swift.max(1, Swift.min(rowsTotal, tilesPerBlock(c: c, o: o) / tw))
        let blocks = (rowsTotal + rowsPerBlock - 1) / rowsPerBlock
        let work = g.n * o * g.l * c * 9
        let parts = work < (1 << 16) ? 1 : Swift.max(1, Swift.min(Threading.threadCount, blocks))
        let tb = rowsPerBlock * tw, wp = 2 * tw + 2
        // Per worker: V [16, C, tiles], M [16, O, tiles], four transformed rows, a zero
        // input row, and two output rows.
        let lineCount = 4 * wp + g.w + 4 * tw
        let scratch = (0..<parts).map { _ in
            (TensorStorage(count: 16 * c * tb, dtype: .float32), TensorStorage(count: 16 * o * tb, dtype: .float32),
             TensorStorage(zeros: lineCount, dtype: .float32))
        }
        let box = UncheckedSendable((x, UnsafePointer(u.pointer(as: Float.self)), b, y, scratch))
        withExtendedLifetime((u, scratch)) {
            ConvKernels.forEachWorker(blocks, parts: parts) { part, blockRange in
                let (x, u, b, y, scratch) = box.value
                let vp = scratch[part].0.pointer(as: Float.self), mp = scratch[part].1.pointer(as: Float.self)
                let lines = scratch[part].2.pointer(as: Float.self)
                let out0 = lines + 4 * wp + g.w
                let (h, wd, pt, pl, oh, ow) = (g.h, g.w, g.pt, g.pl, g.oh, g.ow)
                for blk in blockRange {
                    let r0 = blk * rowsPerBlock, rn = Swift.min(rowsPerBlock, rowsTotal - r0), nt = rn * tw
                    // V_ξ[c][t] = (Bᵀ·d·B)[ξ], Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
                    myelin_wino23_input_f32(x, Int64(c), Int64(h), Int64(wd), Int64(pt), Int64(pl), Int64(th), Int64(tw),
                                            Int64(r0), Int64(rn), 0, Int64(c), vp, lines)
                    for xi in 0..<16 {
                        GEMM.gemm(transA: false, transB: false, m: o, n: nt, k: c, alpha: 1,
                                  a: u + xi * o * c, lda: c, b: vp + xi * c * nt, ldb: nt,
                                  beta: 0, c: mp + xi * o * nt, ldc: nt)
                    }
                    // Y = Aᵀ·M·A + bias, Aᵀ = [1 1 1 0; 0 1 −1 −1].
                    myelin_wino23_output_f32(mp, Int64(o), Int64(th), Int64(tw), Int64(r0), Int64(rn), 0, Int64(o),
                                             b, y, Int64(oh), Int64(ow), out0)
                }
            }
        }
    }

    /// dX of a float32 3×3 stride-1 convolution `g`, or nil where Winograd does not apply:
    /// dx[c, ih, iw] = Σ_o Σ_ij dy[o, ih + pt − i, iw + pl − j]·w[o, c, i, j] is the
    /// convolution of dY, padded by 2 − padding on each side, with the kernel turned
    /// half a circle and its channel axes swapped: w′[c, o, i, j] = w[o, c, 2 − i, 2 − j].
    static func inputGradient(_ g: ConvGeometry, _ gy: Tensor, _ w: Tensor) -> Tensor? {
        guard applies(g), g.pt <= 2, g.pb <= 2, g.pl <= 2, g.pr <= 2, gy.dtype == .float32, w.dtype == .float32
        else { return nil }
        var t = ConvGeometry()
        (t.n, t.c, t.h, t.w, t.o) = (g.n, g.o, g.oh, g.ow, g.c)
        (t.kh, t.kw) = (3, 3)
        (t.pt, t.pb, t.pl, t.pr) = (2 - g.pt, 2 - g.pb, 2 - g.pl, 2 - g.pr)
        (t.oh, t.ow) = (g.h, g.w)
        guard applies(t), t.oh == t.h + t.pt + t.pb - 2, t.ow == t.w + t.pl + t.pr - 2 else { return nil }
        let wt = TensorStorage(count: g.o * g.c * 9, dtype: .float32)
        let dx = Tensor(uninitializedShape: [g.n, g.c, g.h, g.w], dtype: .float32)
        withExtendedLifetime((gy, w, dx, wt)) {
            let src = w.storage.pointer(as: Float.self), dst = wt.pointer(as: Float.self)
            for o in 0..<g.o {
                for c in 0..<g.c {
                    let s = src + (o * g.c + c) * 9, d = dst + (c * g.o + o) * 9
                    for k in 0..<9 { d[k] = s[8 - k] }
                }
            }
            forward(t, UnsafePointer(gy.storage.pointer(as: Float.self)), UnsafePointer(dst), nil, dx.storage.pointer(as: Float.self))
        }
        return dx
    }
}
