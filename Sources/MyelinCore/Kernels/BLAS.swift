import CMyelinKernels
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A CBLAS found at run time with `dlopen`, as Julia's libblastrampoline does:
/// Myelin has no link-time BLAS dependency, builds where none is installed, and
/// uses OpenBLAS (or any CBLAS) when the machine has one.
///
/// Search order: `MYELIN_BLAS` when it names a library path; otherwise on Linux
/// libopenblas.so.0, libopenblas.so, libcblas.so.3, libblas.so.3 (Debian's
/// libblas3 and OpenBLAS's libblas.so.3 both export `cblas_*`); on macOS Accelerate.
/// `MYELIN_BLAS=builtin` skips the search and forces the built-in kernel.
/// OpenBLAS reads `OPENBLAS_CORETYPE` itself; `coreName` reports its choice.
public enum BLAS {
    /// A loaded library and what it says about itself.
    public struct Library: Sendable, CustomStringConvertible {
        /// The file that was loaded (symlinks resolved).
        public let path: String
        /// The name it was opened by (e.g. "libopenblas.so.0").
        public let requestedName: String
        /// OpenBLAS's kernel family for this CPU (e.g. "Haswell", "SkylakeX", "Zen"); nil for other BLASes.
        public let coreName: String?
        /// OpenBLAS's build configuration string; nil for other BLASes.
        public let config: String?
        public var isOpenBLAS: Bool { coreName != nil }

        public var description: String {
            var s = path
            if let coreName { s += " (OpenBLAS core \(coreName))" }
            return s
        }
    }

    /// The library in use, or nil when none was found or `MYELIN_BLAS=builtin`.
    public static var library: Library? { loaded?.library }
    public static var isAvailable: Bool { loadedLibrary != nil }
    /// Why no library is loaded (the names tried, or the environment setting); nil when one is.
    public static var unavailableReason: String? { loadResult.reason }

    // cblas_?gemm with 32-bit integers (LP64 builds: libopenblas0, libblas3).
    typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                      UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias DGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Double, UnsafePointer<Double>?, Int32,
                                      UnsafePointer<Double>?, Int32, Double, UnsafeMutablePointer<Double>?, Int32) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void

    /// A class, so handing it to every GEMM call costs one retain, not a copy of the
    /// library's strings.
    final class Loaded: @unchecked Sendable {
        let library: Library
        let sgemm: SGEMM
        let dgemm: DGEMM
        let setThreads: SetThreads?

        init(library: Library, sgemm: SGEMM, dgemm: DGEMM, setThreads: SetThreads?) {
            self.library = library
            self.sgemm = sgemm
            self.dgemm = dgemm
            self.setThreads = setThreads
        }
    }

    #if os(macOS)
    static let defaultNames = ["/System/Library/Frameworks/Accelerate.framework/Accelerate", "libopenblas.0.dylib", "libopenblas.dylib"]
    #else
    static let defaultNames = ["libopenblas.so.0", "libopenblas.so", "libcblas.so.3", "libblas.so.3"]
    #endif

    private static let loadResult: (loaded: Loaded?, reason: String?) = load()
    /// Read on every GEMM call: kept apart from `loadResult` so reading it copies no string.
    private static let loadedLibrary: Loaded? = loadResult.loaded
    static var loaded: Loaded? { loadedLibrary }

    private static func load() -> (Loaded?, String?) {
        let setting = ProcessInfo.processInfo.environment["MYELIN_BLAS"] ?? ""
        if setting.lowercased() == "builtin" || setting.lowercased() == "none" {
            return (nil, "MYELIN_BLAS=\(setting) selects the built-in kernel")
        }
        let names = setting.isEmpty ? defaultNames : [setting]
        var tried: [String] = []
        for name in names {
            switch open(name) {
            case .success(let l): return (l, nil)
            case .failure(let why): tried.append("\(name): \(why.message)")
            }
        }
        return (nil, "no CBLAS with cblas_sgemm/cblas_dgemm found (tried \(tried.joined(separator: "; ")))")
    }

    struct OpenFailure: Error { let message: String }

    private static func open(_ name: String) -> Result<Loaded, OpenFailure> {
        guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(OpenFailure(message: dlerror().map { String(cString: $0) } ?? "cannot be opened"))
        }
        guard let s = dlsym(handle, "cblas_sgemm"), let d = dlsym(handle, "cblas_dgemm") else {
            dlclose(handle)
            return .failure(OpenFailure(message: "has no cblas_sgemm/cblas_dgemm"))
        }
        func string(_ symbol: String) -> String? {
            guard let f = dlsym(handle, symbol) else { return nil }
            typealias GetString = @convention(c) () -> UnsafePointer<CChar>?
            guard let p = unsafeBitCast(f, to: GetString.self)() else { return nil }
            return String(cString: p).trimmingCharacters(in: .whitespaces)
        }
        var path = name
        if let f = myelin_library_path(s) {
            path = String(cString: f)
            if let real = realpath(path, nil) { path = String(cString: real); free(real) }
        }
        let setThreads = dlsym(handle, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetThreads.self) }
        let library = Library(path: path, requestedName: name, coreName: string("openblas_get_corename"),
                              config: string("openblas_get_config"))
        let loaded = Loaded(library: library, sgemm: unsafeBitCast(s, to: SGEMM.self),
                            dgemm: unsafeBitCast(d, to: DGEMM.self), setThreads: setThreads)
        // The library handle stays open for the life of the process.
        return .success(loaded)
    }

    // OpenBLAS uses as many threads as Myelin; re-set whenever Threading.threadCount changes.
    nonisolated(unsafe) private static var threadsSet = 0
    private static let threadsLock = NSLock()

    /// > 0 while callers spread their own GEMMs over the cores: OpenBLAS then runs each on one thread.
    nonisolated(unsafe) private static var singleThreadDepth = 0

    /// Runs `body` with OpenBLAS held to one thread, for callers that run one GEMM per
    /// core themselves (per-image convolutions): nested thread pools only spin against
    /// each other (measured: 56% of a VGG run in OpenBLAS's wait loop).
    static func withSingleThread<R>(_ body: () throws -> R) rethrows -> R {
        threadsLock.lock()
        singleThreadDepth += 1
        threadsLock.unlock()
        defer {
            threadsLock.lock()
            singleThreadDepth -= 1
            threadsLock.unlock()
        }
        return try body()
    }

    /// Below this many multiply-adds (m·n·k) OpenBLAS runs on one thread: splitting a product
    /// that takes ~40 µs costs more in hand-offs than it saves (n = 128 on 2 cores: 56 → 88 GFLOP/s).
    static let singleThreadBelow = 2_500_000

    private static func syncThreads(_ l: Loaded, work: Int) {
        guard let set = l.setThreads else { return }
        threadsLock.lock()
        let want = singleThreadDepth > 0 || work < singleThreadBelow ? 1 : Threading.threadCount
        defer { threadsLock.unlock() }
        if threadsSet != want {
            set(Int32(clamping: want))
            threadsSet = want
        }
    }

    static let rowMajor: Int32 = 101, noTrans: Int32 = 111, trans: Int32 = 112

    /// Whether a GEMM call's six sizes fit the 32-bit CBLAS interface (no variadic array: this runs on every GEMM).
    @inline(__always) static func fits(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ e: Int, _ f: Int) -> Bool {
        let limit = Int(Int32.max)
        return a <= limit && b <= limit && c <= limit && d <= limit && e <= limit && f <= limit
    }

    static func sgemm(_ l: Loaded, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        syncThreads(l, work: m * n * k)
        l.sgemm(rowMajor, transA ? trans : noTrans, transB ? trans : noTrans, Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)), beta, c, Int32(max(ldc, 1)))
    }

    static func dgemm(_ l: Loaded, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                      a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                      beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        syncThreads(l, work: m * n * k)
        l.dgemm(rowMajor, transA ? trans : noTrans, transB ? trans : noTrans, Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)), beta, c, Int32(max(ldc, 1)))
    }
}
