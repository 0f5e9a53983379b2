import ArgumentParser
import Foundation
import Myelin

/// Element-wise add of two large float32 tensors against the machine's copy bandwidth.
struct BenchElementwise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elementwise",
        abstract: "a + b on two float32 tensors, in GB/s, against memcpy bandwidth of the same size (and PyTorch)."
    )

    @Option(help: "Elements per tensor.")
    var count: Int = 16 << 20

    @OptionGroup var options: BenchOptions

    struct Report: Codable {
        var workload = "elementwise add float32"
        var environment: BenchEnvironment
        var count: Int
        var reps: Int
        var warmups: Int
        /// 3 arrays × 4 bytes × count / time.
        var addGBps: Double
        /// 2 arrays × 4 bytes × count / time, memcpy split over the threads.
        var copyGBps: Double
        /// The same, memcpy on one thread.
        var copySingleThreadGBps: Double
        var addPercentOfCopy: Double
        var pytorchAddGBps: Double?
        /// PyTorch time / Myelin time.
        var ratio: Double?
    }

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive, not \(count)") }
    }

    func run() throws {
        let threads = options.applyThreads()
        let peer = options.startPeer(threads: threads)
        let env = BenchEnvironment(threads: threads, peer: peer)
        env.printHeader()
        let n = count
        let a = BenchMath.randomNormal([n], seed: 1), b = BenchMath.randomNormal([n], seed: 2)
        let bytes = n * MemoryLayout<Float>.stride
        let src = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        let dst = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { src.deallocate(); dst.deallocate() }
        memset(src, 1, bytes); memset(dst, 0, bytes)
        let box = UncheckedSendable((src, dst))
        func copy(parts: Int) {
            DispatchQueue.concurrentPerform(iterations: parts) { i in
                let lo = bytes * i / parts / 64 * 64, hi = i == parts - 1 ? bytes : bytes * (i + 1) / parts / 64 * 64
                memcpy(box.value.1 + lo, box.value.0 + lo, hi - lo)
            }
        }
        var tAdd: [Double] = [], tCopy: [Double] = [], tCopy1: [Double] = [], tTorch: [Double] = []
        var torchOK = peer != nil
        for round in 0..<(options.warmups + options.reps) {
            let x = BenchMath.time(inner: 1) { _ = a + b }
            let y = BenchMath.time(inner: 1) { copy(parts: threads) }
            let y1 = BenchMath.time(inner: 1) { memcpy(dst, src, bytes) }
            var z = Double.nan
            if torchOK, let peer {
                do { z = try peer.times("add \(n) 1 1").first ?? .nan } catch {
                    print("note: PyTorch peer failed (\(error)); continuing without it")
                    torchOK = false
                }
            }
            if round >= options.warmups {
                tAdd.append(x); tCopy.append(y); tCopy1.append(y1)
                if z.isFinite { tTorch.append(z) }
            }
        }
        let add = 3 * Double(bytes) / BenchMath.median(tAdd) / 1e9
        let cp = 2 * Double(bytes) / BenchMath.median(tCopy) / 1e9
        let cp1 = 2 * Double(bytes) / BenchMath.median(tCopy1) / 1e9
        let torch = tTorch.count == options.reps ? 3 * Double(bytes) / BenchMath.median(tTorch) / 1e9 : nil
        let report = Report(environment: env, count: n, reps: options.reps, warmups: options.warmups, addGBps: add, copyGBps: cp,
                            copySingleThreadGBps: cp1, addPercentOfCopy: 100 * add / cp, pytorchAddGBps: torch,
                            ratio: tTorch.count == options.reps ? BenchMath.median(tTorch) / BenchMath.median(tAdd) : nil)
        print("\n\(n) float32 elements per tensor, median of \(options.reps) after \(options.warmups) warm-ups")
        print("Myelin a + b:          \(BenchMath.format(add)) GB/s  (3 arrays × 4 B × n / time; \(BenchMath.format(report.addPercentOfCopy, 0))% of copy)")
        print("memcpy, \(threads) thread(s):    \(BenchMath.format(cp)) GB/s  (2 arrays × 4 B × n / time)")
        print("memcpy, 1 thread:      \(BenchMath.format(cp1)) GB/s")
        if let torch { print("PyTorch a + b:         \(BenchMath.format(torch)) GB/s  (ratio PyTorch time / Myelin time: \(BenchMath.format(report.ratio, 2)))") }
        try options.writeJSON(report)
    }
}
