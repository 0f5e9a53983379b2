import Foundation
import Testing
import Myelin

/// The convolution's fast paths against a plain loop: several images per GEMM (the
/// column block of small feature maps), and Winograd F(2×2, 3×3) for float32 3×3
/// stride-1 convolutions, forward and backward, at 1 and 2 threads.
@Suite(.serialized) struct ConvBlockingWinogradTests {
    struct Case: CustomStringConvertible, Sendable {
        var n: Int, c: Int, o: Int, h: Int, w: Int, k: Int
        var stride = 1, padding: Padding2D = 0, groups = 1, bias = true
        var description: String { "n\(n) c\(c) o\(o) \(h)×\(w) k\(k) s\(stride) p\(padding) g\(groups)\(bias ? "" : " nobias")" }
    }

    static let cases: [Case] = [
        // Blocks of several images, with a partial last block at 2 threads.
        Case(n: 5, c: 4, o: 16, h: 6, w: 6, k: 3, padding: 1),
        Case(n: 3, c: 6, o: 8, h: 9, w: 7, k: 3, stride: 2, padding: 1, bias: false),
        Case(n: 4, c: 4, o: 12, h: 4, w: 4, k: 3, stride: 1, padding: 1, groups: 2),
        Case(n: 6, c: 8, o: 12, h: 5, w: 3, k: 1),                      // 1×1 stride 1
        Case(n: 7, c: 3, o: 5, h: 8, w: 8, k: 1, stride: 2),            // a downsampling shortcut
        // Winograd (float32, 3×3 stride 1, ≥ 16 channels): odd sizes, padding 0 and 1, asymmetric padding.
        Case(n: 2, c: 16, o: 17, h: 7, w: 9, k: 3, padding: 1),
        Case(n: 1, c: 16, o: 16, h: 5, w: 6, k: 3, padding: 0, bias: false),
        Case(n: 2, c: 17, o: 16, h: 6, w: 5, k: 3, padding: .explicit(top: 2, bottom: 0, left: 0, right: 1)),
        Case(n: 3, c: 32, o: 32, h: 40, w: 40, k: 3, padding: 1),        // several tile blocks
        Case(n: 4, c: 24, o: 20, h: 4, w: 4, k: 3, padding: 1),          // tile rows of several images in one block
    ]

    /// y = conv2d(x, w) + b and, for the output gradient gy, dx and dw, by plain loops in Double.
    static func reference(_ t: Case, _ x: [Double], _ w: [Double], _ b: [Double], _ gy: [Double], oh: Int, ow: Int)
        -> (y: [Double], dx: [Double], dw: [Double]) {
        let (pt, pl): (Int, Int)
        switch t.padding {
        case let .explicit(top, _, left, _): (pt, pl) = (top, left)
        default: (pt, pl) = (0, 0)
        }
        let cg = t.c / t.groups, og = t.o / t.groups
        var y = [Double](repeating: 0, count: t.n * t.o * oh * ow)
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
        for n in 0..<t.n {
            for o in 0..<t.o {
                let g = o / og
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let yi = ((n * t.o + o) * oh + oy) * ow + ox
                        var s = t.bias ? b[o] : 0
                        for cc in 0..<cg {
                            let c = g * cg + cc
                            for i in 0..<t.k {
                                for j in 0..<t.k {
                                    let ih = oy * t.stride - pt + i, iw = ox * t.stride - pl + j
                                    if ih < 0 || ih >= t.h || iw < 0 || iw >= t.w { continue }
                                    let xi = ((n * t.c + c) * t.h + ih) * t.w + iw, wi = ((o * cg + cc) * t.k + i) * t.k + j
                                    s += x[xi] * w[wi]
                                    dx[xi] += w[wi] * gy[yi]
                                    dw[wi] += x[xi] * gy[yi]
                                }
                            }
                        }
                        y[yi] = s
                    }
                }
            }
        }
        return (y, dx, dw)
    }

    static func close(_ a: Tensor?, _ b: [Double], tol: Double, _ what: String) {
        let a = a?.scalars(as: Double.self) ?? []
        #expect(a.count == b.count, "\(what): \(a.count) values, expected \(b.count)")
        guard a.count == b.count else { return }
        let scale = Swift.max(1, b.map(abs).max() ?? 0)
        var worst = 0.0, at = 0
        for i in a.indices where abs(a[i] - b[i]) > worst { worst = abs(a[i] - b[i]); at = i }
        #expect(worst <= tol * scale, "\(what): element \(at) is \(a[at]), expected \(b[at]) (scale \(scale))")
    }

    @Test(arguments: cases, [1, 2])
    func matchesPlainLoops(_ t: Case, _ threads: Int) {
        let saved = Threading.threadCount
        Threading.threadCount = threads
        defer { Threading.threadCount = saved }
        let gen = RandomGenerator(seed: UInt64(t.n * 1000 + t.c * 10 + t.h))
        let x = Tensor.uniform([t.n, t.c, t.h, t.w], low: -1, high: 1, dtype: .float64, generator: gen)
        let w = Tensor.uniform([t.o, t.c / t.groups, t.k, t.k], low: -1, high: 1, dtype: .float64, generator: gen)
        let b = Tensor.uniform([t.o], low: -1, high: 1, dtype: .float64, generator: gen)
        let probe = conv2d(x, weight: w, stride: IntPair(t.stride), padding: t.padding, groups: t.groups)
        let (oh, ow) = (probe.shape[2], probe.shape[3])
        let gy = Tensor.uniform(probe.shape, low: -1, high: 1, dtype: .float64, generator: gen)
        let ref = Self.reference(t, x.scalars(as: Double.self), w.scalars(as: Double.self), b.scalars(as: Double.self),
                                 gy.scalars(as: Double.self), oh: oh, ow: ow)
        for dtype in [DType.float64, .float32] {
            let xv = x.to(dtype).requiringGrad(), wv = w.to(dtype).requiringGrad()
            let bv: Tensor? = t.bias ? b.to(dtype) : nil
            let y = conv2d(xv, weight: wv, bias: bv, stride: IntPair(t.stride), padding: t.padding, groups: t.groups)
            y.backward(gradient: gy.to(dtype))
            // float32 sums of up to ~300 products (Winograd adds a few roundings in its transforms).
            let tol = dtype == .float64 ? 1e-12 : 2e-5 * Double(t.c * t.k * t.k / t.groups).squareRoot()
            Self.close(y, ref.y, tol: tol, "\(t) \(dtype) \(threads) threads: output")
            Self.close(xv.grad, ref.dx, tol: tol, "\(t) \(dtype) \(threads) threads: grad input")
            Self.close(wv.grad, ref.dw, tol: tol * 4, "\(t) \(dtype) \(threads) threads: grad weight")
        }
    }
}
