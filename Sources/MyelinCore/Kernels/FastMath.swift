import Foundation

/// Vectorised float32 exp, tanh and sigmoid (Cephes-style polynomials on SIMD16<Float>).
///
/// Within the range where the polynomial is valid they agree with libm to a few ulp
/// (tested to 1e-6 relative); lanes outside it (overflow, results that would be
/// subnormal, NaN) are recomputed with libm, so edge cases match Foundation exactly.
/// The x86-64 baseline has no FMA or SSE4.1 rounding, so the code uses only plain
/// multiply/add and a magic-number rounding trick.
public enum FastMath {
    public typealias Vector = SIMD16<Float>

    // exp(x) = 2^n · e^r with n = round(x·log2 e), r = x − n·ln 2 (ln 2 split in two for exactness).
    @usableFromInline static let log2e: Float = 1.44269504088896341
    @usableFromInline static let ln2Hi: Float = 0.693359375
    @usableFromInline static let ln2Lo: Float = -2.12194440e-4
    /// 1.5·2^23: adding it rounds a float of magnitude < 2^22 to an integer.
    @usableFromInline static let roundMagic: Float = 12582912
    /// exp stays a normal float and 2^n is representable for x in this range.
    @usableFromInline static let expLow: Float = -87.33
    @usableFromInline static let expHigh: Float = 88.37

    /// e^x for lanes in [expLow, expHigh] (others are clamped to it; callers patch them).
    @inlinable @inline(__always)
    public static func expInRange(_ x: Vector) -> Vector {
        let xc = x.clamped(lowerBound: Vector(repeating: expLow), upperBound: Vector(repeating: expHigh))
        let t = xc * log2e + roundMagic
        let n = t - roundMagic
        let r = xc - n * ln2Hi - n * ln2Lo
        var p: Vector = Vector(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        // The low mantissa bits of t hold n (+ the magic's own bits); build 2^n from them.
        let nBits = unsafeBitCast(t, to: SIMD16<Int32>.self) &- SIMD16<Int32>(repeating: 0x4B40_0000)
        let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: Vector.self)
        return p * scale
    }

    /// e^x for any x.
    @inlinable
    public static func exp(_ x: Vector) -> Vector {
        var y = expInRange(x)
        let bad = (x .< expLow) .| (x .> expHigh) .| (x .!= x)
        if any(bad) {
            for i in 0..<Vector.scalarCount where bad[i] { y[i] = Foundation.expf(x[i]) }
        }
        return y
    }

    /// tanh(x): an odd polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above (Cephes tanhf).
    @inlinable
    public static func tanh(_ x: Vector) -> Vector {
        let a = x.replacing(with: -x, where: x .< 0)
        let z = x * x
        var p = Vector(repeating: -5.70498872745e-3)
        p = p * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        let small = p * z * x + x
        // tanh(9.1) rounds to 1 in float32, so clamping keeps exp in range without changing results.
        let e = expInRange(2 * a.clamped(lowerBound: Vector(repeating: 0), upperBound: Vector(repeating: 9.1)))
        let big = 1 - 2 / (e + 1)
        var y = big.replacing(with: -big, where: x .< 0)
        y.replace(with: small, where: a .< 0.625)
        let bad = x .!= x
        if any(bad) {
            for i in 0..<Vector.scalarCount where bad[i] { y[i] = x[i] }
        }
        return y
    }

    /// 1/(1 + e^−x) as 1/(1 + e^−|x|), mirrored for x < 0, so exp never overflows.
    @inlinable
    public static func sigmoid(_ x: Vector) -> Vector {
        let negA = x.replacing(with: -x, where: x .> 0)  // −|x|
        let e = expInRange(negA)
        let s = 1 / (1 + e)
        var y = s.replacing(with: e * s, where: x .< 0)
        let bad = (negA .< expLow) .| (x .!= x)
        if any(bad) {
            for i in 0..<Vector.scalarCount where bad[i] { y[i] = scalarSigmoid(x[i]) }
        }
        return y
    }

    @inlinable
    static func scalarSigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + Foundation.expf(-x)) }
        let e = Foundation.expf(x)
        return e / (1 + e)
    }

    @inlinable @inline(__always)
    static func map(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int,
                    _ vector: (Vector) -> Vector, _ scalar: (Float) -> Float) {
        let w = Vector.scalarCount
        var i = 0
        let src = UnsafeRawPointer(x), dst = UnsafeMutableRawPointer(out)
        while i + w <= n {
            let v = src.loadUnaligned(fromByteOffset: i * 4, as: Vector.self)
            dst.storeBytes(of: vector(v), toByteOffset: i * 4, as: Vector.self)
            i += w
        }
        while i < n { out[i] = scalar(x[i]); i += 1 }
    }

    /// out[i] = e^x[i] for i < n.
    public static func exp(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        map(x, out, n, { exp($0) }, { Foundation.expf($0) })
    }

    /// out[i] = tanh(x[i]) for i < n.
    public static func tanh(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        map(x, out, n, { tanh($0) }, { Foundation.tanhf($0) })
    }

    /// out[i] = σ(x[i]) for i < n.
    public static func sigmoid(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        map(x, out, n, { sigmoid($0) }, { scalarSigmoid($0) })
    }
}

extension Tensor {
    /// Runs a float32 pointer kernel over this (float32) tensor, split over cores when large.
    func fastFloat32(_ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        precondition(dtype == .float32, "internal: fastFloat32 on a \(dtype) tensor")
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
