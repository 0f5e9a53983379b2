import ArgumentParser
import Foundation
import Myelin

/// `myelin bench [W1 ... W8 | all]`: the workloads of shared/BENCHMARKS.md, Myelin against
/// PyTorch. Each row runs in two fresh child processes, a Myelin worker and the PyTorch peer,
/// whose repetitions alternate; the row reports both medians, their ratio and each process's
/// peak resident memory.
struct BenchSuite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run workloads W1 ... W8 (or all) against PyTorch: the table of shared/BENCHMARKS.md (the default bench command)."
    )

    @Argument(help: "Workloads: W1 ... W8 or all.")
    var workloads: [String] = ["all"]

    @Flag(help: "Add the scaling rows: W3 and W4 at 1 thread (beside all threads), W2 at batch 1, 16 and 1024.")
    var scaling = false

    @Option(help: "OPENBLAS_CORETYPE for the Myelin workers, comma-separated to run the table once per value: a core name (Haswell, SkylakeX, ...), 'unset', or 'inherit' (default: the environment's).")
    var coretype: String = "inherit"

    @Option(help: "Milliseconds to pause before each repetition, so the other system's idle threads (OpenMP's and OpenBLAS's spin-waits) have gone to sleep and do not compete for the cores.")
    var settle: Int = 200

    @OptionGroup var options: BenchOptions

    /// One row of the table: a workload with its parameters and thread count.
    struct Row {
        var id: String
        var parameters: [(String, Int)] = []
        var threads: Int
        /// Calls per timed repetition, so that a repetition lasts about 0.1 s or more: long enough that
        /// waking the thread pools after the settling pause is a small part of it.
        var inner: Int
        var unit: String
        /// Seconds per call → the figure in `unit`.
        var figure: (Double) -> Double

        var label: String {
            var s = id
            if !parameters.isEmpty { s += " " + parameters.map { "\($0.0)=\($0.1)" }.joined(separator: ",") }
            return s
        }
    }

    struct Result: Codable {
        var workload: String
        var label: String
        var parameters: [String: Int]
        var threads: Int
        var unit: String
        var innerCalls: Int
        var myelin: Double?
        var pytorch: Double?
        var myelinSecondsPerCall: Double?
        var pytorchSecondsPerCall: Double?
        /// PyTorch time / Myelin time (> 1: Myelin is faster).
        var ratio: Double?
        var myelinPeakBytes: Double?
        var pytorchPeakBytes: Double?
        var myelinBaselineBytes: Double?
        var pytorchBaselineBytes: Double?
        var note: String?
    }

    struct Section: Codable {
        var openblasCoretype: String?
        var openblasCore: String?
        var results: [Result]
    }

    struct Report: Codable {
        var environment: BenchEnvironment
        var reps: Int
        var warmups: Int
        var clock: String
        var sections: [Section]
    }

    static let all = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"]

    func validate() throws {
        for w in workloads where w.lowercased() != "all" && !Self.all.contains(w.uppercased()) {
            throw ValidationError("unknown workload '\(w)': expected W1 ... W8 or all")
        }
        if coretype.split(separator: ",").isEmpty { throw ValidationError("--coretype needs a value") }
        guard settle >= 0 && settle <= 10_000 else { throw ValidationError("--settle must be 0 ... 10000 ms, not \(settle)") }
    }

    /// The rows for the chosen workloads, in W order.
    func rows(threads: Int) -> [Row] {
        let chosen = workloads.contains { $0.lowercased() == "all" } ? Self.all : Self.all.filter { w in workloads.contains { $0.uppercased() == w } }
        var out: [Row] = []
        for id in chosen {
            switch id {
            case "W1":
                for n in [128, 512, 1024, 2048] {
                    let flops = 2 * Double(n * n * n)
                    out.append(Row(id: id, parameters: [("n", n)], threads: threads, inner: Swift.max(1, Int(1e10 / flops)),
                                   unit: "GFLOP/s", figure: { flops / $0 / 1e9 }))
                }
            case "W2":
                for b in scaling ? [1, 16, 128, 1024] : [128] {
                    out.append(Row(id: id, parameters: [("batch", b)], threads: threads, inner: Swift.max(2, 8192 / b),
                                   unit: "samples/s", figure: { Double(b) / $0 }))
                }
            case "W3", "W4":
                let batch = id == "W3" ? 64 : 32
                for t in scaling && threads > 1 ? [threads, 1] : [threads] {
                    out.append(Row(id: id, parameters: [("batch", batch)], threads: t, inner: id == "W3" ? 20 : 1,
                                   unit: "samples/s", figure: { Double(batch) / $0 }))
                }
            case "W5":
                out.append(Row(id: id, parameters: [("batch", 1)], threads: threads, inner: 1, unit: "ms/image",
                               figure: { $0 * 1e3 }))
            case "W6":
                out.append(Row(id: id, parameters: [("batch", 32), ("steps", 100)], threads: threads, inner: 1,
                               unit: "tokens/s", figure: { 3200 / $0 }))
            case "W7":
                out.append(Row(id: id, parameters: [("batch", 8), ("length", 128)], threads: threads, inner: 1,
                               unit: "sequences/s", figure: { 8 / $0 }))
            default:
                out.append(Row(id: id, parameters: [("batch", 4), ("steps", 1000)], threads: threads, inner: 5,
                               unit: "steps/s", figure: { 1000 / $0 }))
            }
        }
        return out
    }

    func run() throws {
        let threads = options.applyThreads()
        let env = BenchEnvironment(threads: threads, peer: nil)
        print("threads: \(threads)    CPU: \(env.cpu)")
        print("median of \(options.reps) repetitions after \(options.warmups) warm-ups, Myelin and PyTorch alternating; "
              + "\(options.cpuTime ? "process CPU" : "wall-clock") time; one pair of fresh processes per row")
        var sections: [Section] = []
        var pytorchVersion: String?
        for setting in coretype.split(separator: ",").map({ String($0).trimmingCharacters(in: .whitespaces) }) {
            var environment = ProcessInfo.processInfo.environment
            switch setting.lowercased() {
            case "inherit": break
            case "unset": environment.removeValue(forKey: "OPENBLAS_CORETYPE")
            default: environment["OPENBLAS_CORETYPE"] = setting
            }
            let coretypeValue = environment["OPENBLAS_CORETYPE"]
            var section = Section(openblasCoretype: coretypeValue, openblasCore: nil, results: [])
            print("\nOPENBLAS_CORETYPE: \(coretypeValue ?? "(unset)")")
            printHeader()
            for row in rows(threads: threads) {
                let (result, core, version) = measure(row, environment: environment)
                if section.openblasCore == nil { section.openblasCore = core }
                if pytorchVersion == nil { pytorchVersion = version }
                section.results.append(result)
                printRow(result, row: row)
            }
            print("OpenBLAS core in the Myelin workers: \(section.openblasCore ?? "none (built-in kernel \(GEMM.builtinKernelName))")"
                  + "    PyTorch: \(pytorchVersion ?? "not run")")
            printScaling(section.results)
            sections.append(section)
        }
        print("\nratio = PyTorch time / Myelin time (> 1: Myelin is faster); MB = peak resident memory of each process")
        var report = Report(environment: env, reps: options.reps, warmups: options.warmups,
                            clock: options.cpuTime ? "process CPU" : "wall", sections: sections)
        report.environment.pytorch = pytorchVersion
        try options.writeJSON(report)
    }

    /// Runs one row: a fresh Myelin worker and PyTorch peer, alternating repetitions.
    func measure(_ row: Row, environment: [String: String]) -> (Result, String?, String?) {
        var result = Result(workload: row.id, label: row.label, parameters: Dictionary(uniqueKeysWithValues: row.parameters),
                            threads: row.threads, unit: row.unit, innerCalls: row.inner)
        let setup = "setup \(row.id) " + row.parameters.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        var notes: [String] = []
        var myelin: BenchChild?
        do {
            let child = try BenchChild.myelin(threads: row.threads, environment: environment)
            _ = try child.request(setup)
            myelin = child
        } catch { notes.append("Myelin: \(error)") }
        var peer: BenchChild?
        if !options.noPeer {
            do {
                let child = try BenchChild.pytorch(script: options.peer, threads: row.threads, environment: environment)
                _ = try child.request(setup)
                peer = child
            } catch { notes.append("PyTorch skipped: \(error)") }
        }
        var tM: [Double] = [], tT: [Double] = []
        for round in 0..<(options.warmups + options.reps) {
            for (child, isMyelin) in [(myelin, true), (peer, false)] {
                guard let child else { continue }
                if settle > 0 { usleep(UInt32(settle) * 1000) }
                do {
                    let t = try child.times("time \(row.inner) 1").first ?? .nan
                    if round >= options.warmups && t.isFinite { if isMyelin { tM.append(t) } else { tT.append(t) } }
                } catch {
                    notes.append("\(isMyelin ? "Myelin" : "PyTorch") failed: \(error)")
                    if isMyelin { myelin = nil } else { peer = nil }
                }
            }
        }
        let m = tM.count == options.reps ? BenchMath.median(tM) : nil
        let t = tT.count == options.reps ? BenchMath.median(tT) : nil
        result.myelinSecondsPerCall = m
        result.pytorchSecondsPerCall = t
        result.myelin = m.map(row.figure)
        result.pytorch = t.map(row.figure)
        if let m, let t { result.ratio = t / m }
        if let mem = try? myelin?.memory() { result.myelinPeakBytes = mem.peak; result.myelinBaselineBytes = mem.baseline }
        if let mem = try? peer?.memory() { result.pytorchPeakBytes = mem.peak; result.pytorchBaselineBytes = mem.baseline }
        result.note = notes.isEmpty ? nil : notes.joined(separator: "; ")
        let core = myelin.map { $0.hello.count > 3 ? $0.hello[3] : "none" }
        return (result, core == "none" ? nil : core, peer?.version)
    }

    static let widths = [22, 8, 12, 12, 12, 7, 10, 10]

    func printHeader() {
        let names = ["workload", "threads", "unit", "Myelin", "PyTorch", "ratio", "Myelin MB", "PyTorch MB"]
        print(zip(names, Self.widths).map { BenchMath.pad($0, $1) }.joined(separator: " "))
    }

    func printRow(_ r: Result, row: Row) {
        // Three significant figures for small values, whole numbers for large ones.
        func figure(_ x: Double?) -> String { BenchMath.format(x, x.map { $0 < 10 ? 2 : $0 < 1000 ? 1 : 0 } ?? 0) }
        let cells = [r.label, "\(r.threads)", r.unit, figure(r.myelin), figure(r.pytorch),
                     BenchMath.format(r.ratio, 2), BenchMath.format(r.myelinPeakBytes.map { $0 / 1e6 }, 0),
                     BenchMath.format(r.pytorchPeakBytes.map { $0 / 1e6 }, 0)]
        print(zip(cells, Self.widths).map { BenchMath.pad($0, $1) }.joined(separator: " "))
        if let note = r.note { print("    note: \(note)") }
    }

    /// Speed-up from 1 thread to all, for the workloads measured both ways.
    func printScaling(_ results: [Result]) {
        for id in ["W3", "W4"] {
            let rs = results.filter { $0.workload == id }.sorted { $0.threads < $1.threads }
            guard rs.count == 2, let one = rs.first, let many = rs.last else { continue }
            func speedup(_ a: Double?, _ b: Double?) -> String { BenchMath.format(a.flatMap { x in b.map { x / $0 } }, 2) }
            print("\(id) speed-up 1 → \(many.threads) threads: Myelin ×\(speedup(one.myelinSecondsPerCall, many.myelinSecondsPerCall)), "
                  + "PyTorch ×\(speedup(one.pytorchSecondsPerCall, many.pytorchSecondsPerCall))")
        }
    }
}
