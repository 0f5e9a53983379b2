import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A least-squares problem that has no unique solution, or bad arguments.
public struct LeastSquaresError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Ordinary least squares, min ‖A x − b‖₂ for a tall A (m ≥ n) of full column rank,
/// in float64. Two solvers, both through a QR factorisation (never the normal
/// equations, which square the condition number):
///
/// - `.lapack`: LAPACK's `dgels`, found at run time with `dlopen` as `BLAS` finds
///   OpenBLAS (libopenblas.so.0, which carries LAPACK, then liblapack.so.3);
///   `MYELIN_LAPACK=builtin` skips it, `MYELIN_LAPACK=<path>` names a library.
/// - `.householder`: Householder QR written here, always available (CI may have no LAPACK).
///
/// `.automatic` uses LAPACK when it was found, else Householder.
public enum LeastSquares {
    public enum Solver: String, Sendable, CaseIterable {
        case automatic, lapack, householder
    }

    /// The solution and the solver that produced it.
    public struct Solution: Sendable {
        public let coefficients: [Double]
        /// `.lapack` or `.householder`.
        public let solver: Solver
    }

    /// Solves min ‖A x − b‖ for A given row-major `[rows, columns]`.
    public static func solve(_ a: [Double], rows m: Int, columns n: Int, _ b: [Double],
                             solver: Solver = .automatic) throws -> Solution {
        guard n >= 1, m >= n else {
            throw LeastSquaresError("least squares: need at least as many rows as columns (≥ 1), got a \(m)×\(n) matrix")
        }
        guard a.count == m * n, b.count == m else {
            throw LeastSquaresError("least squares: a \(m)×\(n) matrix needs \(m * n) values and b \(m), got \(a.count) and \(b.count)")
        }
        guard a.allSatisfy(\.isFinite), b.allSatisfy(\.isFinite) else {
            throw LeastSquaresError("least squares: the matrix or right-hand side holds a NaN or infinity")
        }
        switch solver {
        case .householder:
            return Solution(coefficients: try householder(a, rows: m, columns: n, b), solver: .householder)
        case .lapack:
            guard let lapack = LAPACK.loaded else {
                throw LeastSquaresError("least squares: LAPACK is not available (\(LAPACK.unavailableReason ?? "not loaded"))")
            }
            return Solution(coefficients: try lapack.gels(a, rows: m, columns: n, b), solver: .lapack)
        case .automatic:
            if let lapack = LAPACK.loaded {
                return Solution(coefficients: try lapack.gels(a, rows: m, columns: n, b), solver: .lapack)
            }
            return Solution(coefficients: try householder(a, rows: m, columns: n, b), solver: .householder)
        }
    }

    /// Below this, a diagonal entry of R counts as zero: max(m, n) · ε · max |a_ij| (numpy.linalg.lstsq's default
    /// rcond, measured against the largest entry instead of the largest singular value).
    static func rankTolerance(_ a: [Double], rows m: Int, columns n: Int) -> Double {
        let norm = a.reduce(0) { Swift.max($0, abs($1)) }
        return Double(Swift.max(m, n)) * Double.ulpOfOne * Swift.max(norm, Double.leastNormalMagnitude)
    }

    /// Householder QR (Golub & Van Loan, alg. 5.3.2): reflect each column below the
    /// diagonal to zero, applying the same reflections to b, then back-substitute R x = Qᵀb.
    static func householder(_ input: [Double], rows m: Int, columns n: Int, _ rhs: [Double]) throws -> [Double] {
        var a = input, b = rhs
        var diagonal = [Double](repeating: 0, count: n)
        for k in 0..<n {
            // The column's norm, computed with scaling against overflow.
            var scale = 0.0
            for i in k..<m { scale = Swift.max(scale, abs(a[i * n + k])) }
            var alpha = 0.0
            if scale > 0 {
                var s = 0.0
                for i in k..<m { let v = a[i * n + k] / scale; s += v * v }
                alpha = scale * s.squareRoot()
            }
            if a[k * n + k] > 0 { alpha = -alpha }  // the sign that avoids cancellation
            diagonal[k] = alpha
            guard alpha != 0 else { continue }
            // v = x − alpha·e1, kept in place of the column (v_k in a[k][k]).
            a[k * n + k] -= alpha
            var vv = 0.0
            for i in k..<m { vv += a[i * n + k] * a[i * n + k] }
            guard vv > 0 else { continue }
            // Apply H = I − 2 v vᵀ / (vᵀv) to the remaining columns and to b.
            for j in (k + 1)..<Swift.max(n, k + 1) {
                var d = 0.0
                for i in k..<m { d += a[i * n + k] * a[i * n + j] }
                let f = 2 * d / vv
                for i in k..<m { a[i * n + j] -= f * a[i * n + k] }
            }
            var d = 0.0
            for i in k..<m { d += a[i * n + k] * b[i] }
            let f = 2 * d / vv
            for i in k..<m { b[i] -= f * a[i * n + k] }
        }
        let tolerance = rankTolerance(input, rows: m, columns: n)
        if let k = diagonal.firstIndex(where: { abs($0) <= tolerance }) {
            throw LeastSquaresError("least squares: the \(m)×\(n) matrix is rank-deficient (column \(k + 1) depends on the ones before it); no unique solution")
        }
        var x = [Double](repeating: 0, count: n)
        for k in stride(from: n - 1, through: 0, by: -1) {
            var s = b[k]
            for j in (k + 1)..<Swift.max(n, k + 1) { s -= a[k * n + j] * x[j] }
            x[k] = s / diagonal[k]
        }
        return x
    }
}

/// LAPACK's `dgels_` (Fortran calling convention: column-major, every argument by
/// reference, plus the hidden length of the character argument).
public enum LAPACK {
    typealias DGELS = @convention(c) (
        UnsafePointer<CChar>, UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>,
        UnsafeMutablePointer<Double>, UnsafePointer<Int32>, UnsafeMutablePointer<Double>, UnsafePointer<Int32>,
        UnsafeMutablePointer<Double>, UnsafePointer<Int32>, UnsafeMutablePointer<Int32>, Int) -> Void

    struct Loaded: @unchecked Sendable {
        let path: String
        let dgels: DGELS

        func gels(_ a: [Double], rows m: Int, columns n: Int, _ b: [Double]) throws -> [Double] {
            guard m <= Int(Int32.max / 2) else { throw LeastSquaresError("least squares: \(m) rows are too many for LAPACK's 32-bit interface") }
            // Column-major copy of A.
            var colMajor = [Double](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { colMajor[j * m + i] = a[i * n + j] } }
            var rhs = b
            var mm = Int32(m), nn = Int32(n), nrhs: Int32 = 1, lda = Int32(m), ldb = Int32(m), info: Int32 = 0
            var lwork: Int32 = -1
            var query = 0.0
            let trans: [CChar] = [CChar(UInt8(ascii: "N")), 0]
            // Workspace query, then the solve.
            dgels(trans, &mm, &nn, &nrhs, &colMajor, &lda, &rhs, &ldb, &query, &lwork, &info, 1)
            guard info == 0 else { throw LeastSquaresError("least squares: dgels workspace query failed (info \(info))") }
            lwork = Int32(Swift.max(query, Double(Swift.max(1, 2 * n))))
            var work = [Double](repeating: 0, count: Int(lwork))
            dgels(trans, &mm, &nn, &nrhs, &colMajor, &lda, &rhs, &ldb, &work, &lwork, &info, 1)
            if info > 0 {
                throw LeastSquaresError("least squares: the \(m)×\(n) matrix is rank-deficient (dgels: R(\(info),\(info)) is zero); no unique solution")
            }
            guard info == 0 else { throw LeastSquaresError("least squares: dgels rejected argument \(-info)") }
            // dgels only stops at an exactly zero diagonal of R; judge near-zero ones as the Householder path does.
            let tolerance = LeastSquares.rankTolerance(a, rows: m, columns: n)
            if let k = (0..<n).first(where: { abs(colMajor[$0 * m + $0]) <= tolerance }) {
                throw LeastSquaresError("least squares: the \(m)×\(n) matrix is rank-deficient (column \(k + 1) depends on the ones before it); no unique solution")
            }
            return Array(rhs.prefix(n))
        }
    }

    #if os(macOS)
    static let defaultNames = ["/System/Library/Frameworks/Accelerate.framework/Accelerate", "liblapack.dylib"]
    #else
    static let defaultNames = ["libopenblas.so.0", "liblapack.so.3", "liblapack.so"]
    #endif

    private static let loadResult: (Loaded?, String?) = load()
    static var loaded: Loaded? { loadResult.0 }

    /// Whether a LAPACK with `dgels_` was found.
    public static var isAvailable: Bool { loaded != nil }
    /// The name of the library in use, or nil.
    public static var libraryName: String? { loaded?.path }
    /// Why none is in use (the names tried, or the environment setting); nil when one is.
    public static var unavailableReason: String? { loadResult.1 }

    private static func load() -> (Loaded?, String?) {
        let setting = ProcessInfo.processInfo.environment["MYELIN_LAPACK"] ?? ""
        if ["builtin", "none"].contains(setting.lowercased()) {
            return (nil, "MYELIN_LAPACK=\(setting) selects the built-in Householder QR")
        }
        var tried: [String] = []
        for name in setting.isEmpty ? defaultNames : [setting] {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
                tried.append("\(name): \(dlerror().map { String(cString: $0) } ?? "cannot be opened")")
                continue
            }
            guard let f = dlsym(handle, "dgels_") else {
                dlclose(handle)
                tried.append("\(name): has no dgels_")
                continue
            }
            // The handle stays open for the life of the process.
            return (Loaded(path: name, dgels: unsafeBitCast(f, to: DGELS.self)), nil)
        }
        return (nil, "no LAPACK with dgels_ found (tried \(tried.joined(separator: "; ")))")
    }
}
