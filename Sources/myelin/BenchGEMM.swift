import ArgumentParser
import Foundation
import Myelin

/// W1: square float32 matrix products, GFLOP/s = 2n³ / time.
struct BenchGEMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "W1: square float32 matrix product C = A·B (BLAS path, built-in kernel, PyTorch)."
    )

    @Option(parsing: .upToNextOption, help: "Matrix sizes n.")
    var sizes: [Int] = [128, 512, 1024, 2048]

    @OptionGroup var options: BenchOptions

    struct Row: Codable {
        var n: Int
        var innerCalls: Int
        var blasGflops: Double?
        var builtinGflops: Double
        var pytorchGflops: Double?
        /// PyTorch time / Myelin time (> 1: Myelin is faster).
        var ratioBLAS: Double?
        var ratioBuiltin: Double?
        var maxRelativeDifference: Double?
    }

    struct Report: Codable {
        var workload = "W1 gemm float32"
        var environment: BenchEnvironment
        var reps: Int
        var warmups: Int
        var results: [Row]
    }

    func validate() throws {
        guard sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--sizes must be positive, got \(sizes)") }
    }

    func run() throws {
        let threads = options.applyThreads()
        let peer = options.startPeer(threads: threads)
        let env = BenchEnvironment(threads: threads, peer: peer)
        env.printHeader()
        print("median of \(options.reps) repetitions after \(options.warmups) warm-ups; Myelin and PyTorch alternate\n")

        let hasBLAS = BLAS.isAvailable
        let saved = GEMM.backend
        defer { GEMM.backend = saved }
        print([BenchMath.pad("n", 6), BenchMath.pad("BLAS GF/s", 11), BenchMath.pad("built-in GF/s", 14),
               BenchMath.pad("PyTorch GF/s", 13), BenchMath.pad("ratio BLAS", 11), BenchMath.pad("ratio built-in", 15)]
            .joined(separator: " "))
        var rows: [Row] = []
        for n in sizes {
            let a = BenchMath.randomNormal([n, n], seed: 1), b = BenchMath.randomNormal([n, n], seed: 2)
            let flops = 2 * Double(n) * Double(n) * Double(n)
            let inner = max(1, Int(2e8 / flops))

            func myelin(_ backend: GEMM.Backend) -> Double {
                GEMM.backend = backend
                return BenchMath.time(inner: inner) { _ = a.matmul(b) }
            }
            // Sanity check: both paths agree.
            var diff: Double? = nil
            if hasBLAS {
                GEMM.backend = .blas
                let x = a.matmul(b).scalars(as: Float.self)
                GEMM.backend = .builtin
                let y = a.matmul(b).scalars(as: Float.self)
                var worst = 0.0, scale = 0.0
                for i in 0..<x.count { worst = max(worst, Double(abs(x[i] - y[i]))); scale = max(scale, Double(abs(x[i]))) }
                diff = worst / max(scale, 1e-30)
            }

            var tBLAS: [Double] = [], tBuiltin: [Double] = [], tTorch: [Double] = []
            var torchOK = peer != nil
            for round in 0..<(options.warmups + options.reps) {
                let timed = round >= options.warmups
                let x = hasBLAS ? myelin(.blas) : .nan
                let y = myelin(.builtin)
                var z = Double.nan
                if torchOK, let peer {
                    do { z = try peer.times("gemm \(n) \(inner) 1").first ?? .nan } catch {
                        print("note: PyTorch peer failed (\(error)); continuing without it")
                        torchOK = false
                    }
                }
                if timed { tBLAS.append(x); tBuiltin.append(y); if z.isFinite { tTorch.append(z) } }
            }
            let mb = hasBLAS ? BenchMath.median(tBLAS) : nil
            let mi = BenchMath.median(tBuiltin)
            let mt = tTorch.count == options.reps ? BenchMath.median(tTorch) : nil
            let row = Row(n: n, innerCalls: inner, blasGflops: mb.map { flops / $0 / 1e9 }, builtinGflops: flops / mi / 1e9,
                          pytorchGflops: mt.map { flops / $0 / 1e9 },
                          ratioBLAS: mt.flatMap { t in mb.map { t / $0 } }, ratioBuiltin: mt.map { $0 / mi },
                          maxRelativeDifference: diff)
            rows.append(row)
            print([BenchMath.pad("\(n)", 6), BenchMath.pad(BenchMath.format(row.blasGflops), 11),
                   BenchMath.pad(BenchMath.format(row.builtinGflops), 14), BenchMath.pad(BenchMath.format(row.pytorchGflops), 13),
                   BenchMath.pad(BenchMath.format(row.ratioBLAS, 2), 11), BenchMath.pad(BenchMath.format(row.ratioBuiltin, 2), 15)]
                .joined(separator: " "))
        }
        print("\nratio = PyTorch time / Myelin time (> 1: Myelin is faster)")
        try options.writeJSON(Report(environment: env, reps: options.reps, warmups: options.warmups, results: rows))
    }
}
