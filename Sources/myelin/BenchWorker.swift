import ArgumentParser
import Foundation
import Myelin

/// `myelin bench worker`: Myelin's side of `myelin bench W1 ... W8`, run as a child process so
/// each workload's peak memory is its own. It speaks bench/peer_pytorch.py's line protocol
/// (threads, clock, setup, time, rss, quit); see that script's header.
struct BenchWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "The Myelin side of `myelin bench`, driven over stdin (not for direct use).",
        shouldDisplay: false
    )

    func run() throws {
        let core = BLAS.library?.coreName ?? "none"
        reply("ready myelin \(MyelinLibrary.version) \(Threading.threadCount) \(core.isEmpty ? "unknown" : core) \(GEMM.builtinKernelName)")
        var workload: (() -> Void)?
        var baseline: Int?
        while let line = readLine() {
            let parts = line.split(separator: " ").map(String.init)
            guard let command = parts.first else { continue }
            switch command {
            case "quit":
                return
            case "threads":
                guard parts.count == 2, let n = Int(parts[1]), n > 0 else { reply("error threads needs a positive count"); continue }
                Threading.threadCount = n
                reply("ok \(Threading.threadCount)")
            case "clock":
                BenchMath.useCPUTime = parts.count > 1 && parts[1] == "cpu"
                reply("ok")
            case "setup":
                guard parts.count >= 2 else { reply("error setup needs a workload"); continue }
                var parameters: [String: Int] = [:]
                let malformed = parts.dropFirst(2).first { p in
                    let kv = p.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2, let v = Int(kv[1]) else { return true }
                    parameters[String(kv[0])] = v
                    return false
                }
                if let malformed { reply("error bad parameter \(malformed) (KEY=INTEGER)"); continue }
                if baseline == nil { baseline = Self.memoryKB("VmRSS") }
                do {
                    workload = try BenchWorkloads.make(parts[1], parameters)
                    reply("ok")
                } catch {
                    reply("error \(error)")
                }
            case "time":
                guard let workload else { reply("error no workload set up"); continue }
                guard parts.count == 3, let inner = Int(parts[1]), let reps = Int(parts[2]), inner > 0, reps > 0 else {
                    reply("error time needs INNER REPS"); continue
                }
                reply((0..<reps).map { _ in "\(BenchMath.time(inner: inner, workload))" }.joined(separator: " "))
            case "rss":
                reply("\(Self.memoryKB("VmHWM") * 1024) \((baseline ?? Self.memoryKB("VmRSS")) * 1024)")
            default:
                reply("error unknown command \(command)")
            }
        }
    }

    /// stdout is line-buffered (MyelinCommand.main), so each reply reaches the parent at once.
    private func reply(_ line: String) { print(line) }

    /// A field of /proc/self/status in kB (VmHWM: peak resident; VmRSS: resident now), as the peer reads it.
    static func memoryKB(_ field: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}
