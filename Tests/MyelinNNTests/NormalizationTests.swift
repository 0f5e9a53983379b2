import Testing
import Myelin

@Suite struct NormalizationTests {
    // MARK: Parity

    @Test func batchNormMatchesPyTorch() throws {
        try checkLayerCase("bn1d", BatchNorm1D(3))
        try checkLayerCase("bn1d_3d", BatchNorm1D(3, momentum: 0.3))
        try checkLayerCase("bn2d", BatchNorm2D(3, eps: 1e-3))
        try checkLayerCase("bn2d_cumulative", BatchNorm2D(3, momentum: nil))
        try checkLayerCase("bn2d_noaffine", BatchNorm2D(3, affine: false))
        try checkLayerCase("bn1d_notrack", BatchNorm1D(3, trackRunningStats: false))
    }

    @Test func layerNormMatchesPyTorch() throws {
        try checkLayerCase("ln", LayerNorm(5))
        try checkLayerCase("ln_2d", LayerNorm([3, 5], eps: 1e-3))
        try checkLayerCase("ln_noaffine", LayerNorm(5, elementwiseAffine: false))
    }

    @Test func stateDictNamesAreTorchs() {
        let bn = BatchNorm2D(4)
        #expect(bn.namedParameters().map(\.0) == ["weight", "bias"])
        #expect(bn.namedBuffers().map(\.0) == ["running_mean", "running_var", "num_batches_tracked"])
        let nbt = bn.stateDict()["num_batches_tracked"]
        #expect(nbt?.dtype == .int64 && nbt?.shape == [])
        #expect(BatchNorm1D(3, affine: false, trackRunningStats: false).stateDict().isEmpty)
        #expect(LayerNorm([2, 3]).namedParameters().map(\.0) == ["weight", "bias"])
        #expect(LayerNorm(3, bias: false).namedParameters().map(\.0) == ["weight"])
        // Defaults: weight 1, bias 0, running mean 0, running variance 1.
        #expect(bn.weight?.value.scalars() == [1, 1, 1, 1] && bn.bias?.value.scalars() == [0, 0, 0, 0])
        #expect(bn.runningVar?.value.scalars() == [1, 1, 1, 1])
    }

    // MARK: Gradient checks (float64, through the fused kernels)

    @Test func batchNormGradients() {
        let w = randomDoubles([3], seed: 2) + 1, b = randomDoubles([3], seed: 3)
        for shape in [[5, 3], [2, 3, 4], [2, 3, 2, 3]] {
            let x = randomDoubles(shape, seed: 1, scale: 2)
            expectGradients([x, w, b], "batchNorm (batch statistics) \(shape)") { batchNorm($0[0], weight: $0[1], bias: $0[2]) }
            expectGradients([x], "batchNorm without affine \(shape)") { batchNorm($0[0]) }
            expectGradients([x, w, b], "batchNorm (running statistics) \(shape)") {
                var rm = Tensor([0.1, -0.2, 0.3], dtype: .float64), rv = Tensor([1.5, 0.7, 1.1], dtype: .float64)
                return batchNorm($0[0], runningMean: &rm, runningVar: &rv, weight: $0[1], bias: $0[2], training: false)
            }
        }
    }

    @Test func layerNormGradients() {
        let x = randomDoubles([4, 3, 5], seed: 5, scale: 2)
        let w = randomDoubles([5], seed: 6) + 1, b = randomDoubles([5], seed: 7)
        expectGradients([x, w, b], "layerNorm") { layerNorm($0[0], normalizedShape: [5], weight: $0[1], bias: $0[2]) }
        expectGradients([x], "layerNorm without affine") { layerNorm($0[0], normalizedShape: [3, 5]) }
        expectGradients([x, randomDoubles([3, 5], seed: 8)], "layerNorm weight only") {
            layerNorm($0[0], normalizedShape: [3, 5], weight: $0[1])
        }
        // Large enough that the parameter gradients are accumulated in several blocks of rows.
        let big = randomDoubles([1100, 64], seed: 9)
        let wv = randomDoubles([64], seed: 10).requiringGrad()
        let g = randomDoubles([1100, 64], seed: 11)
        Autograd.withGradients { (layerNorm(big, normalizedShape: [64], weight: wv) * g).sum() }.backward()
        let xhat = (big - big.mean(axis: 1, keepDims: true)) / (big.variance(axis: 1, unbiased: false, keepDims: true) + 1e-5).sqrt()
        expectClose(wv.grad, (xhat * g).sum(axes: [0]), rtol: 1e-10, atol: 1e-10, "layerNorm weight gradient over many rows")
    }

    // MARK: Behaviour

    @Test func batchNormUpdatesRunningStatisticsAndUsesThemInEval() throws {
        let bn = BatchNorm1D(2, momentum: 0.5)
        let x = try Tensor([[1.0, 10], [3, 20], [5, 60]])
        let y = bn(x)
        // Batch mean [3, 30], biased variance [8/3, 1400/3]; unbiased [4, 700].
        expectClose(bn.runningMean?.value ?? Tensor.zeros([2]), Tensor([1.5, 15]), "running mean")
        expectClose(bn.runningVar?.value ?? Tensor.zeros([2]), Tensor([2.5, 350.5]), "running variance")
        #expect(bn.numBatchesTracked?.value.integers() == [1])
        let col0 = y.scalars().enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        #expect(abs(col0.reduce(0, +)) < 1e-5, "each channel has mean 0 in training")
        bn.eval()
        let e = bn(x).scalars()
        #expect(abs(e[0] - Float((1 - 1.5) / (2.5 + 1e-5).squareRoot())) < 1e-5)
        #expect(bn.numBatchesTracked?.value.integers() == [1], "eval does not count batches")
        bn.train()
        bn.resetRunningStats()
        #expect(bn.runningMean?.value.scalars() == [0, 0] && bn.numBatchesTracked?.value.integers() == [0])
    }

    @Test func statisticsStayAccurateFarFromZero() {
        // float32 data with a large offset and a small spread: a naive Σx² − (Σx)²/n would lose every digit.
        let x = Tensor.randn([64, 2, 40], generator: RandomGenerator(seed: 12)) * 0.01 + 1000
        let y = batchNorm(x, eps: 1e-12).to(.float64)
        let mean = y.mean(axes: [0, 2]).scalars(as: Double.self), variance = y.variance(axes: [0, 2], unbiased: false).scalars(as: Double.self)
        #expect(mean.allSatisfy { abs($0) < 1e-3 } && variance.allSatisfy { abs($0 - 1) < 2e-3 }, "\(mean) \(variance)")
        let z = layerNorm(x.reshaped([128, 40]), normalizedShape: [40], eps: 1e-12).to(.float64)
        let zv = z.variance(axis: 1, unbiased: false).scalars(as: Double.self)
        #expect(zv.allSatisfy { abs($0 - 1) < 2e-3 }, "\(zv)")
    }

    @Test func functionalBatchNormUpdatesInPlace() throws {
        var rm = Tensor.zeros([2]), rv = Tensor.ones([2])
        let x = try Tensor([[1.0, 2], [3, 6]])
        _ = batchNorm(x, runningMean: &rm, runningVar: &rv, training: true, momentum: 1)
        #expect(rm.scalars() == [2, 4] && rv.scalars() == [2, 8])
    }

    @Test func layerNormNormalisesEachRow() throws {
        let ln = LayerNorm(4)
        let y = ln(try Tensor([[1.0, 2, 3, 4], [10, 10, 10, 50]])).scalars(as: Double.self)
        for r in 0..<2 {
            let row = Array(y[(4 * r)..<(4 * r + 4)])
            let mean = row.reduce(0, +) / 4
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
            #expect(abs(mean) < 1e-6 && abs(variance - 1) < 1e-3)
        }
    }

    @Test func batchNormMisuseStops() async {
        var result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = BatchNorm2D(3)(Tensor.zeros([2, 3, 4]))
        }
        #expect(stopMessage(result).contains("BatchNorm2D(3): expected input [N, 3, H, W], got [2, 3, 4]"), "\(stopMessage(result))")
        result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = BatchNorm1D(3)(Tensor.zeros([2, 4]))
        }
        #expect(stopMessage(result).contains("has 4 channels, expected 3"), "\(stopMessage(result))")
        result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = BatchNorm1D(3)(Tensor.zeros([1, 3]))
        }
        #expect(stopMessage(result).contains("expected more than 1 value per channel when training"), "\(stopMessage(result))")
        result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LayerNorm(5)(Tensor.zeros([2, 4]))
        }
        #expect(stopMessage(result).contains("LayerNorm([5]): input of shape [2, 4] does not end in [5]"), "\(stopMessage(result))")
    }
}
