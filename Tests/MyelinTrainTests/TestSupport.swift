import Foundation
import Myelin

enum TrainTestSupport {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = repoRoot.appendingPathComponent("../shared/data").standardizedFileURL
    static func tabular(_ name: String) -> URL { shared.appendingPathComponent("tabular/\(name)") }
    static func hasTabular(_ name: String) -> Bool { FileManager.default.fileExists(atPath: tabular(name).path) }

    /// A fresh empty folder under the system's temporary directory.
    static func scratchFolder(_ label: String = #function) throws -> URL {
        let safe = label.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("myelin-train-tests-\(safe)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `count` points around `classes` well-separated centres in `features` dimensions,
    /// labels int64: an easy, linearly separable problem.
    static func blobs(count: Int, classes: Int = 3, features: Int = 4, noise: Double = 0.6, seed: UInt64) -> TensorDataset {
        let g = RandomGenerator(seed: seed)
        let centres = (0..<classes).map { c in (0..<features).map { f in f % classes == c ? 3.0 : 0.0 } }
        var x: [Float] = []
        var y: [Int64] = []
        for i in 0..<count {
            let c = i % classes
            for f in 0..<features { x.append(Float(centres[c][f] + noise * g.nextNormal())) }
            y.append(Int64(c))
        }
        return TensorDataset(inputs: Tensor(x, shape: [count, features]), targets: Tensor(y, shape: [count]))
    }

    /// A small MLP with its own generator (tests never touch `RandomGenerator.default`,
    /// which other suites running in parallel use).
    static func mlp(features: Int = 4, hidden: Int = 16, classes: Int = 3, dropout: Double = 0, generator g: RandomGenerator) -> Sequential {
        Sequential {
            Linear(features, hidden, generator: g)
            ReLU()
            if dropout > 0 { Dropout(dropout, generator: g) }
            Linear(hidden, classes, generator: g)
        }
    }

    static func trainer(_ model: Sequential, lr: Double = 0.01, generator g: RandomGenerator,
                        metrics: [any Metric] = [Accuracy()], schedule: ((Optimizer) -> any LearningRateSchedule)? = nil) -> Trainer {
        let opt = Adam(model.parameters(), learningRate: lr)
        let t = Trainer(model: model, loss: CrossEntropyLoss(), optimizer: opt, schedule: schedule?(opt), metrics: metrics,
                        randomGenerators: [g])
        t.log = { _ in }
        return t
    }

    /// Bitwise equality of two state dicts.
    static func sameBits(_ a: [String: Tensor], _ b: [String: Tensor]) -> Bool {
        guard Set(a.keys) == Set(b.keys) else { return false }
        for (k, x) in a {
            guard let y = b[k], x.shape == y.shape, x.dtype == y.dtype else { return false }
            let xs = x.scalars(as: Double.self).map(\.bitPattern), ys = y.scalars(as: Double.self).map(\.bitPattern)
            if xs != ys { return false }
        }
        return true
    }
}
