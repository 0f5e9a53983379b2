import ArgumentParser
import Foundation
import Myelin

/// `myelin bench ...`: the workloads of shared/BENCHMARKS.md, each compared with
/// PyTorch (when available) in the same run, alternating the two systems.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Myelin's speed against PyTorch on the same machine (see bench/README.md).",
        subcommands: [BenchSuite.self, BenchGEMM.self, BenchElementwise.self, BenchOverhead.self, BenchTransformer.self,
                      BenchWorker.self],
        defaultSubcommand: BenchSuite.self
    )
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
    @Option(help: "Timed repetitions per figure (the median is reported; at least 5).")
    var reps: Int = 7

    @Option(help: "Untimed warm-up repetitions (at least 2).")
    var warmups: Int = 2

    @Option(help: "Threads for Myelin and PyTorch alike (default: MYELIN_NUM_THREADS or all cores).")
    var threads: Int?

    @Flag(help: "Do not run the PyTorch peer.")
    var noPeer = false

    @Option(help: "Path of bench/peer_pytorch.py (default: found from the current folder or the executable).")
    var peer: String?

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Flag(help: "Time both systems with process CPU seconds instead of wall-clock seconds (for a shared, loaded machine; with several threads the figure is per core).")
    var cpuTime = false

    func validate() throws {
        guard reps >= 5 else { throw ValidationError("--reps must be at least 5 (the figure is a median), not \(reps)") }
        guard warmups >= 2 else { throw ValidationError("--warmups must be at least 2, not \(warmups)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be positive, not \(threads)") }
    }

    /// Applies --threads and returns the thread count in effect.
    func applyThreads() -> Int {
        if let threads { Threading.threadCount = threads }
        BenchMath.useCPUTime = cpuTime
        return Threading.threadCount
    }

    /// Starts the PyTorch peer unless disabled; prints why when it cannot.
    func startPeer(threads: Int) -> BenchChild? {
        if noPeer { return nil }
        do {
            return try BenchChild.pytorch(script: peer, threads: threads)
        } catch {
            print("note: PyTorch comparison skipped: \(error)")
            return nil
        }
    }

    func writeJSON<T: Encodable>(_ value: T) throws {
        guard let json else { return }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try enc.encode(value).write(to: URL(fileURLWithPath: json))
        } catch {
            throw ValidationError("cannot write JSON results to \(json): \(error.localizedDescription)")
        }
        print("wrote \(json)")
    }
}

/// Machine and library facts recorded with every result.
struct BenchEnvironment: Codable {
    var threads: Int
    var cpu: String
    var blasLibrary: String?
    var openblasCoreName: String?
    var openblasCoretypeEnv: String?
    var builtinKernel: String
    var pytorch: String?

    init(threads: Int, peer: BenchChild?) {
        self.threads = threads
        cpu = BenchEnvironment.cpuName()
        blasLibrary = BLAS.library?.path
        openblasCoreName = BLAS.library?.coreName
        openblasCoretypeEnv = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        builtinKernel = GEMM.builtinKernelName
        pytorch = peer?.version
    }

    static func cpuName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return "unknown"
    }

    func printHeader() {
        print("threads: \(threads)    CPU: \(cpu)")
        if let blasLibrary {
            var s = "BLAS: \(blasLibrary)"
            if let openblasCoreName { s += "  (OpenBLAS core: \(openblasCoreName)" + (openblasCoretypeEnv.map { ", OPENBLAS_CORETYPE=\($0)" } ?? "") + ")" }
            print(s)
        } else {
            print("BLAS: none (\(BLAS.unavailableReason ?? "not loaded"))")
        }
        print("built-in kernel: \(builtinKernel)")
        print("PyTorch: \(pytorch ?? "not available")")
    }
}

/// A child process answering one request per line: the PyTorch peer (bench/peer_pytorch.py) or a
/// Myelin worker (`myelin bench worker`), so the two systems' repetitions alternate and each
/// workload's peak memory is measured in a process of its own.
final class BenchChild {
    let process = Process()
    let input = Pipe(), output = Pipe()
    var buffer = Data()
    /// The ready line's fields after "ready": the system, its version, then system-specific facts.
    private(set) var hello: [String] = []
    var version: String { hello.count > 1 ? hello[1] : "" }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Starts `arguments` (through /usr/bin/env) and waits for its "ready NAME ..." line.
    init(_ arguments: [String], environment: [String: String]? = nil, expecting name: String, whenMissing: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            throw Failure(description: "cannot start \(arguments[0]): \(error.localizedDescription)")
        }
        guard let line = readLine(), line.hasPrefix("ready \(name) ") else {
            process.terminate()
            throw Failure(description: whenMissing)
        }
        hello = line.split(separator: " ").dropFirst().map(String.init)
    }

    /// bench/peer_pytorch.py under MYELIN_PYTHON (default python3).
    static func pytorch(script: String?, threads: Int, environment: [String: String]? = nil) throws -> BenchChild {
        guard let path = script ?? findScript() else {
            throw Failure(description: "bench/peer_pytorch.py not found (run from the repository root or pass --peer PATH)")
        }
        let python = (environment ?? ProcessInfo.processInfo.environment)["MYELIN_PYTHON"] ?? "python3"
        let child = try BenchChild([python, path], environment: environment, expecting: "torch",
                                   whenMissing: "\(python) has no usable torch (set MYELIN_PYTHON to a python with PyTorch)")
        try child.configure(threads: threads)
        return child
    }

    /// This executable's `bench worker`.
    static func myelin(threads: Int, environment: [String: String]? = nil) throws -> BenchChild {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let child = try BenchChild([executable, "bench", "worker"], environment: environment, expecting: "myelin",
                                   whenMissing: "the Myelin benchmark worker (\(executable) bench worker) did not start")
        try child.configure(threads: threads)
        return child
    }

    private func configure(threads: Int) throws {
        _ = try request("threads \(threads)")
        _ = try request("clock \(BenchMath.useCPUTime ? "cpu" : "wall")")
    }

    static func findScript() -> String? {
        let fm = FileManager.default
        var candidates = [fm.currentDirectoryPath + "/bench/peer_pytorch.py"]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("bench/peer_pytorch.py").path)
            dir = dir.deletingLastPathComponent()
        }
        return candidates.first { fm.fileExists(atPath: $0) }
    }

    func readLine() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    func request(_ line: String) throws -> String {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
        guard let reply = readLine() else { throw Failure(description: "the benchmark process (\(hello.first ?? "?")) exited") }
        if reply.hasPrefix("error") { throw Failure(description: "\(hello.first ?? "child"): \(reply)") }
        return reply
    }

    /// Seconds per operation for each repetition.
    func times(_ line: String) throws -> [Double] {
        try request(line).split(separator: " ").compactMap { Double($0) }
    }

    /// Peak resident bytes of the process and its resident bytes before the workload was built.
    func memory() throws -> (peak: Double, baseline: Double) {
        let v = try times("rss")
        guard v.count == 2 else { throw Failure(description: "malformed rss reply") }
        return (v[0], v[1])
    }

    deinit {
        if process.isRunning {
            input.fileHandleForWriting.write(Data("quit\n".utf8))
            process.waitUntilExit()
        }
    }
}

enum BenchMath {
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        if s.isEmpty { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    nonisolated(unsafe) static var useCPUTime = false

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(useCPUTime ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Seconds per call of `body`, averaged over `inner` calls.
    static func time(inner: Int, _ body: () -> Void) -> Double {
        let t0 = now()
        for _ in 0..<inner { body() }
        return (now() - t0) / Double(inner)
    }

    /// A float32 tensor of normal(0, 1) values from a fixed-seed generator (Box–Muller over SplitMix64).
    static func randomNormal(_ shape: [Int], seed: UInt64) -> Tensor {
        var t = Tensor.zeros(shape)
        var state = seed
        func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return (Double(z >> 11) + 0.5) / Double(1 << 53)
        }
        let n = t.count
        t.withUnsafeMutablePointer(as: Float.self) { p in
            var i = 0
            while i < n {
                let r = (-2 * Foundation.log(next())).squareRoot(), th = 2 * Double.pi * next()
                p[i] = Float(r * Foundation.cos(th))
                if i + 1 < n { p[i + 1] = Float(r * Foundation.sin(th)) }
                i += 2
            }
        }
        return t
    }

    static func format(_ x: Double?, _ digits: Int = 1) -> String {
        guard let x, x.isFinite else { return "—" }
        return String(format: "%.\(digits)f", x)
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}
