import CMyelinKernels
import Foundation
import RealModule

/// Vectorised float32 exp, tanh and sigmoid (Cephes-style polynomials).
///
/// The cores are branch-free scalar code (selects, bit tricks, no libm calls) so that
/// LLVM's loop vectoriser turns a loop over them into SIMD code; Swift's SIMD16<Float>
/// type measured several times slower than libm here, because masks and blends compile
/// to per-lane code. Within the range where the polynomial is valid the results agree
/// with libm to a few ulp (tested to 1e-6 relative); elements outside it (overflow,
/// subnormal results, NaN) are recomputed with libm in a second pass over each block,
/// so edge cases match Foundation exactly. The x86-64 baseline has no FMA or SSE4.1
/// rounding, so the cores use plain multiply/add and a magic-number rounding trick.
public enum FastMath {
    // exp(x) = 2^n · e^r with n = round(x·log2 e), r = x − n·ln 2 (ln 2 split in two for exactness).
    @usableFromInline static let log2e: Float = 1.44269504088896341
    @usableFromInline static let ln2Hi: Float = 0.693359375
    @usableFromInline static let ln2Lo: Float = -2.12194440e-4
    /// 1.5·2^23: adding it rounds a float of magnitude < 2^22 to an integer.
    @usableFromInline static let roundMagic: Float = 12582912
    /// e^x stays a normal float and 2^n is representable for x in this range.
    public static let expLow: Float = -87.33
    public static let expHigh: Float = 88.37
    /// Elements per block: the vector pass and the fix-up pass share the block in L1.
    @usableFromInline static let block = 512

    /// e^x, branch-free so loops calling it vectorise: range reduction by ln 2, a
    /// degree-7 polynomial, and 2^n built from exponent bits in two halves so results
    /// that underflow go to 0 gradually. About 2 ulp; exp(−inf) = 0, exp(+inf) = inf,
    /// NaN stays NaN (comparisons with NaN fail, so it passes the clamps untouched).
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let xc = x > 89 ? 89 : (x < -110 ? -110 : x)
        // Round x·log2(e) to an integer by adding 1.5·2^23 (no Float→Int conversion, which traps on NaN).
        let t = xc * log2e + roundMagic
        let n = t - roundMagic
        let r = (xc - n * ln2Hi) - n * ln2Lo
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let ni = Int32(bitPattern: t.bitPattern &- 0x4B40_0000)
        let n1 = ni >> 1, n2 = ni &- n1
        let s1 = Float(bitPattern: UInt32(bitPattern: (n1 &+ 127) << 23))
        let s2 = Float(bitPattern: UInt32(bitPattern: (n2 &+ 127) << 23))
        return p * s1 * s2
    }

    /// e^x for float32 through the polynomial above, libm's for float64 (which serves gradient checks).
    @inlinable @inline(__always)
    public static func exp<T: FloatElement>(_ x: T) -> T {
        if T.self == Float.self { return unsafeBitCast(exp(unsafeBitCast(x, to: Float.self)), to: T.self) }
        return .exp(x)
    }

    /// tanh(x): an odd polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above (Cephes tanhf).
    /// Valid for every non-NaN x. Branch-free.
    @inlinable @inline(__always)
    public static func tanhCore(_ x: Float) -> Float {
        let a = Float(bitPattern: x.bitPattern & 0x7FFF_FFFF)
        let z = x * x
        var p: Float = -5.70498872745e-3
        p = p * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        let small = p * z * x + x
        // tanh(9.1) rounds to 1 in float32, so clamping keeps exp in range without changing results.
        let e = exp(2 * (a > 9.1 ? 9.1 : a))
        let big = 1 - 2 / (e + 1)
        let signed = Float(bitPattern: big.bitPattern | (x.bitPattern & 0x8000_0000))
        return a < 0.625 ? small : signed
    }

    /// σ(x) = 1/(1 + e^−|x|), mirrored for x < 0, valid for |x| <= −expLow. Branch-free.
    @inlinable @inline(__always)
    public static func sigmoidCore(_ x: Float) -> Float {
        let negA = Float(bitPattern: x.bitPattern | 0x8000_0000)  // −|x|
        let e = exp(negA)
        let s = 1 / (1 + e)
        return x < 0 ? e * s : s
    }

    @inlinable
    static func scalarSigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + Foundation.expf(-x)) }
        let e = Foundation.expf(x)
        return e / (1 + e)
    }

    /// out[i] = e^x[i] for i < n.
    public static func exp(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        var start = 0
        while start < n {
            let end = Swift.min(n, start + block)
            for i in start..<end { out[i] = exp(x[i]) }
            for i in start..<end {
                let v = x[i]
                if !(v >= expLow && v <= expHigh) { out[i] = Foundation.expf(v) }
            }
            start = end
        }
    }

    /// out[i] = tanh(x[i]) for i < n.
    public static func tanh(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        var start = 0
        while start < n {
            let end = Swift.min(n, start + block)
            for i in start..<end { out[i] = tanhCore(x[i]) }
            for i in start..<end where x[i].isNaN { out[i] = x[i] }
            start = end
        }
    }

    /// out[i] = σ(x[i]) for i < n.
    public static func sigmoid(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        var start = 0
        while start < n {
            let end = Swift.min(n, start + block)
            for i in start..<end { out[i] = sigmoidCore(x[i]) }
            for i in start..<end {
                let v = x[i]
                if !(v >= expLow && v <= -expLow) { out[i] = scalarSigmoid(v) }
            }
            start = end
        }
    }
}

extension FastMath {
    /// out[i] = GELU(x[i]) = x·Φ(x), the exact (erf) form, for i < n (x and out must not overlap).
    /// A C kernel compiled per ISA (activation_kernels.c): Φ through a branch-free erfc fit
    /// (fractional error < 1.2e-7) and the exp polynomial above, a few ulp from libm's erff.
    public static func geluErf(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        myelin_gelu_erf_f32(Int64(n), x, out)
    }

    /// x[i] = GELU(x[i]) in place, as `geluErf(_:_:_:)`.
    public static func geluErfInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        myelin_gelu_erf_inplace_f32(Int64(n), x)
    }

    /// dx[i] = g[i]·(Φ(x[i]) + x[i]·φ(x[i])): the exact GELU's backward.
    public static func geluErfBackward(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        myelin_gelu_erf_backward_f32(Int64(n), g, x, dx)
    }
}

extension Tensor {
    /// Runs a float32 pointer kernel over this (float32) tensor, split over cores when large.
    func fastFloat32(_ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        require(dtype == .float32, "internal: fastFloat32 on a \(dtype) tensor")
        let out = Tensor(uninitializedShape: shape, dtype: .float32)
        let src = UncheckedSendable(UnsafePointer(storage.pointer(as: Float.self)))
        let dst = UncheckedSendable(out.storage.pointer(as: Float.self))
        Threading.parallelFor(count) { r in
            kernel(src.value + r.lowerBound, dst.value + r.lowerBound, r.count)
        }
        withExtendedLifetime(self) {}
        return out
    }
}

extension Tensor {
    /// Runs a float32 pointer kernel of two same-shaped float32 tensors, split over cores when large.
    static func fastFloat32Binary(
        _ a: Tensor, _ b: Tensor, _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) -> Tensor {
        require(a.dtype == .float32 && b.dtype == .float32 && a.shape == b.shape,
                "internal: fastFloat32Binary on \(a.dtype) \(a.shape) and \(b.dtype) \(b.shape)")
        let out = Tensor(uninitializedShape: a.shape, dtype: .float32)
        let pa = UncheckedSendable(UnsafePointer(a.storage.pointer(as: Float.self)))
        let pb = UncheckedSendable(UnsafePointer(b.storage.pointer(as: Float.self)))
        let dst = UncheckedSendable(out.storage.pointer(as: Float.self))
        Threading.parallelFor(a.count) { r in
            kernel(pa.value + r.lowerBound, pb.value + r.lowerBound, dst.value + r.lowerBound, r.count)
        }
        withExtendedLifetime((a, b)) {}
        return out
    }
}
