import ArgumentParser
import Foundation
import Myelin

/// W7: inference of a Transformer encoder shaped as all-MiniLM-L6-v2 (6 post-norm layers,
/// width 384, 12 heads, feed-forward 1536, GELU) on a padded batch, against PyTorch's
/// nn.TransformerEncoder in eval with its padding fast path (nested tensors).
struct BenchTransformer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transformer",
        abstract: "W7: Transformer encoder inference (MiniLM shape, padding mask), sequences/s against PyTorch.",
        aliases: ["w7"]
    )

    @Option(help: "Sequences per batch.") var batch: Int = 8
    @Option(help: "Padded sequence length.") var length: Int = 128
    @Option(help: "Encoder layers.") var layers: Int = 6
    @Option(help: "Model width.") var width: Int = 384
    @Option(help: "Attention heads.") var heads: Int = 12
    @Option(help: "Feed-forward width.") var feedForward: Int = 1536

    @OptionGroup var options: BenchOptions

    struct Report: Codable {
        var workload = "W7 Transformer encoder inference"
        var environment: BenchEnvironment
        var batch: Int, length: Int, layers: Int, width: Int, heads: Int, feedForward: Int
        var lengths: [Int]
        var reps: Int, warmups: Int
        var myelinSequencesPerSecond: Double
        var pytorchSequencesPerSecond: Double?
        /// PyTorch time / Myelin time.
        var ratio: Double?
    }

    func validate() throws {
        guard batch > 0, length > 0, layers > 0, width > 0, heads > 0, feedForward > 0 else {
            throw ValidationError("--batch, --length, --layers, --width, --heads and --feed-forward must be positive")
        }
        guard width % heads == 0 else { throw ValidationError("--width \(width) must be divisible by --heads \(heads)") }
    }

    func run() throws {
        let threads = options.applyThreads()
        let peer = options.startPeer(threads: threads)
        let env = BenchEnvironment(threads: threads, peer: peer)
        env.printHeader()
        let lengths = BenchWorkloads.transformerLengths(batch: batch, length: length)
        print("W7: \(layers)-layer encoder, width \(width), \(heads) heads, FF \(feedForward), GELU, post-norm; batch \(batch) × \(length), "
              + "lengths \(lengths); median of \(options.reps) after \(options.warmups) warm-ups\n")

        let forward = BenchWorkloads.transformerInference(batch: batch, length: length, layers: layers, width: width,
                                                          heads: heads, feedForward: feedForward)
        var torchOK = peer != nil
        var tM: [Double] = [], tT: [Double] = []
        for round in 0..<(options.warmups + options.reps) {
            let m = BenchMath.time(inner: 1, forward)
            var t = Double.nan
            if torchOK, let peer {
                do {
                    t = try peer.times("transformer \(batch) \(length) \(layers) \(width) \(heads) \(feedForward) 1 1").first ?? .nan
                } catch {
                    print("note: PyTorch peer failed (\(error)); continuing without it")
                    torchOK = false
                }
            }
            if round >= options.warmups { tM.append(m); if t.isFinite { tT.append(t) } }
        }
        let m = BenchMath.median(tM)
        let t = tT.count == options.reps ? BenchMath.median(tT) : nil
        let report = Report(environment: env, batch: batch, length: length, layers: layers, width: width, heads: heads,
                            feedForward: feedForward, lengths: lengths, reps: options.reps, warmups: options.warmups,
                            myelinSequencesPerSecond: Double(batch) / m, pytorchSequencesPerSecond: t.map { Double(batch) / $0 },
                            ratio: t.map { $0 / m })
        print([BenchMath.pad("", 8), BenchMath.pad("ms/batch", 10), BenchMath.pad("sequences/s", 12)].joined(separator: " "))
        print([BenchMath.pad("Myelin", 8), BenchMath.pad(BenchMath.format(m * 1e3), 10),
               BenchMath.pad(BenchMath.format(report.myelinSequencesPerSecond), 12)].joined(separator: " "))
        print([BenchMath.pad("PyTorch", 8), BenchMath.pad(BenchMath.format(t.map { $0 * 1e3 }), 10),
               BenchMath.pad(BenchMath.format(report.pytorchSequencesPerSecond), 12)].joined(separator: " "))
        print("\nratio (PyTorch time / Myelin time, > 1: Myelin is faster): \(BenchMath.format(report.ratio, 2))")
        try options.writeJSON(report)
    }
}
