import ArgumentParser
import Foundation
import Myelin

/// Per-operation overhead: adding two 4-element tensors, with and without autograd recording.
struct BenchOverhead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overhead",
        abstract: "Per-op time of a + b on 4-element tensors, with autograd recording and without (and PyTorch)."
    )

    @Option(help: "Operations per timed repetition.")
    var inner: Int = 20000

    @OptionGroup var options: BenchOptions

    struct Row: Codable {
        var recording: Bool
        var myelinMicroseconds: Double
        var pytorchMicroseconds: Double?
        /// PyTorch time / Myelin time.
        var ratio: Double?
    }

    struct Report: Codable {
        var workload = "per-op overhead, add of 4-element float32 tensors"
        var environment: BenchEnvironment
        var inner: Int
        var reps: Int
        var warmups: Int
        var results: [Row]
    }

    func validate() throws {
        guard inner > 0 else { throw ValidationError("--inner must be positive, not \(inner)") }
    }

    func run() throws {
        let threads = options.applyThreads()
        let peer = options.startPeer(threads: threads)
        let env = BenchEnvironment(threads: threads, peer: peer)
        env.printHeader()
        print("median of \(options.reps) repetitions of \(inner) ops after \(options.warmups) warm-ups\n")
        let b = BenchMath.randomNormal([4], seed: 2)
        var rows: [Row] = []
        var torchOK = peer != nil
        for recording in [true, false] {
            var a = BenchMath.randomNormal([4], seed: 1)
            a.requiresGrad = recording
            var tM: [Double] = [], tT: [Double] = []
            for round in 0..<(options.warmups + options.reps) {
                let x = BenchMath.time(inner: inner) { _ = a + b }
                var z = Double.nan
                if torchOK, let peer {
                    do { z = try peer.times("overhead \(recording ? 1 : 0) \(inner) 1").first ?? .nan } catch {
                        print("note: PyTorch peer failed (\(error)); continuing without it")
                        torchOK = false
                    }
                }
                if round >= options.warmups { tM.append(x); if z.isFinite { tT.append(z) } }
            }
            let m = BenchMath.median(tM)
            let t = tT.count == options.reps ? BenchMath.median(tT) : nil
            rows.append(Row(recording: recording, myelinMicroseconds: m * 1e6, pytorchMicroseconds: t.map { $0 * 1e6 },
                            ratio: t.map { $0 / m }))
        }
        print([BenchMath.pad("autograd", 10), BenchMath.pad("Myelin µs/op", 13), BenchMath.pad("PyTorch µs/op", 14),
               BenchMath.pad("ratio", 7)].joined(separator: " "))
        for r in rows {
            print([BenchMath.pad(r.recording ? "recording" : "off", 10), BenchMath.pad(BenchMath.format(r.myelinMicroseconds, 3), 13),
                   BenchMath.pad(BenchMath.format(r.pytorchMicroseconds, 3), 14), BenchMath.pad(BenchMath.format(r.ratio, 2), 7)]
                .joined(separator: " "))
        }
        print("\nratio = PyTorch time / Myelin time (> 1: Myelin is faster)")
        try options.writeJSON(Report(environment: env, inner: inner, reps: options.reps, warmups: options.warmups, results: rows))
    }
}
