import Foundation
import Testing
import Myelin

@Suite struct SanityCheckTests {
    @Test func initialLossIsNearLnClasses() {
        let g = RandomGenerator(seed: 60)
        let data = S.blobs(count: 90, classes: 3, noise: 0.5, seed: 61)
        let model = S.mlp(generator: g)
        let trainer = S.trainer(model, generator: g)
        let report = trainer.initialLossCheck(data)
        #expect(report.classes == 3)
        #expect(abs(report.expected - log(3.0)) < 1e-12)
        #expect(report.verdict == .ok, "\(report)")
        #expect(report.description.contains("OK"))
        // Last layer scaled up 100 times: confident, mostly wrong logits.
        let last = model.parameters()[2]
        last.assign(last.value * 100)
        let bad = trainer.initialLossCheck(data)
        #expect(bad.verdict == .tooHigh && bad.loss > 2 * log(3.0))
    }

    @Test func tinySubsetIsMemorisedAndTheModelRestored() {
        let g = RandomGenerator(seed: 62)
        // Noisy, overlapping classes: only memorisation gets 100%.
        let data = S.blobs(count: 200, noise: 3, seed: 63)
        let model = S.mlp(hidden: 64, generator: g)
        let trainer = S.trainer(model, lr: 0.01, generator: g)
        let before = model.stateDict()
        let report = trainer.overfitTinySubset(data, samples: 20, steps: 300)
        #expect(report.samples == 20 && report.steps == 300)
        #expect(report.accuracy == 1.0, "\(report)")
        #expect(report.finalLoss < 0.05)
        #expect(report.passed)
        #expect(S.sameBits(model.stateDict(), before))
        #expect(trainer.optimizer.states.allSatisfy { $0 == nil })
    }

    @Test func learningRateFinderSuggestsASaneRate() throws {
        let g = RandomGenerator(seed: 64)
        let data = S.blobs(count: 512, noise: 1, seed: 65)
        let model = S.mlp(hidden: 32, generator: g)
        let trainer = Trainer(model: model, loss: CrossEntropyLoss(), optimizer: SGD(model.parameters(), learningRate: 0.123),
                              randomGenerators: [g])
        let before = model.stateDict()
        let rngBefore = g.state
        let result = trainer.learningRateFinder(data, minLR: 1e-5, maxLR: 100, steps: 120, batchSize: 32)
        // Restored: weights, learning rate, random stream.
        #expect(S.sameBits(model.stateDict(), before))
        #expect(trainer.optimizer.learningRate == 0.123)
        #expect(g.state == rngBefore)
        // Exponential sweep from minLR.
        #expect(result.learningRates.first == 1e-5)
        let r = result.learningRates[1] / result.learningRates[0]
        #expect(abs(r - pow(1e7, 1.0 / 119)) < 1e-9)
        #expect(result.diverged, "a learning rate of 100 should diverge")
        #expect(result.learningRates.count < 120)
        // Plain SGD on this problem trains well between about 0.01 and 1.
        #expect(result.suggestedLearningRate > 1e-3 && result.suggestedLearningRate < 2, "suggested \(result.suggestedLearningRate)")
        #expect(result.steepestLearningRate <= result.minimumLossLearningRate)
        // The suggestion trains.
        trainer.optimizer.learningRate = result.suggestedLearningRate
        trainer.log = { _ in }
        let h = try trainer.fit(train: data, epochs: 3, batchSize: 32, seed: 0, verbose: false)
        #expect(h["accuracy"].last ?? 0 > 0.9)
        // The chart plots log10(lr).
        let chart = result.chart()
        #expect(chart.xLabel == "log10(learning rate)")
        #expect(chart.series[0].x.first == -5)
        let dir = try S.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try result.writeChart(to: dir.appendingPathComponent("lr.svg"))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("lr.svg").path))
    }
}
