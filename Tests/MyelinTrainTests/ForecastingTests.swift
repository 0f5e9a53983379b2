import Foundation
import Myelin
import Testing

/// Reference values from scripts/fixtures_forecast.py (numpy.linalg.lstsq, statsmodels AutoReg).
private enum ForecastFixtures {
    static let tensors: [String: Tensor] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/forecast.safetensors")
        return (try? SafeTensors.read(contentsOf: url).tensors) ?? [:]
    }()
    static func values(_ key: String) -> [Double] {
        guard let t = tensors[key] else {
            Issue.record("fixture forecast.safetensors lacks \(key)")
            return []
        }
        return t.scalars(as: Double.self)
    }
}

private func expectClose(_ a: [Double], _ b: [Double], tolerance: Double, _ what: String) {
    #expect(a.count == b.count, "\(what): \(a.count) values, expected \(b.count)")
    let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
    #expect(worst <= tolerance, "\(what): worst relative error \(worst) > \(tolerance); got \(a), expected \(b)")
}

@Suite("Least squares")
struct LeastSquaresTests {
    static let solvers: [LeastSquares.Solver] = LAPACK.isAvailable ? [.householder, .lapack] : [.householder]

    @Test(arguments: ["random", "vander"])
    func matchesNumpy(_ name: String) throws {
        let a = ForecastFixtures.tensors["lstsq_\(name).a"]
        let shape = try #require(a?.shape)
        let expected = ForecastFixtures.values("lstsq_\(name).x")
        for solver in Self.solvers {
            let s = try LeastSquares.solve(ForecastFixtures.values("lstsq_\(name).a"), rows: shape[0], columns: shape[1],
                                           ForecastFixtures.values("lstsq_\(name).b"), solver: solver)
            #expect(s.solver == solver)
            // The Vandermonde case has cond ≈ 1e6: QR keeps ~1e-10 relative accuracy there.
            expectClose(s.coefficients, expected, tolerance: name == "random" ? 1e-12 : 1e-7, "\(name) with \(solver)")
        }
    }

    @Test func exactSquareSystem() throws {
        // 2x + y = 5, x − y = 1 → x = 2, y = 1.
        let s = try LeastSquares.solve([2, 1, 1, -1], rows: 2, columns: 2, [5, 1], solver: .householder)
        expectClose(s.coefficients, [2, 1], tolerance: 1e-14, "2×2")
    }

    @Test func rankDeficientIsAnError() {
        // The second column is twice the first.
        let a: [Double] = [1, 2, 2, 4, 3, 6, 4, 8]
        for solver in Self.solvers {
            #expect(throws: LeastSquaresError.self) { try LeastSquares.solve(a, rows: 4, columns: 2, [1, 2, 3, 4], solver: solver) }
        }
    }

    @Test func badShapesAreErrors() {
        #expect(throws: LeastSquaresError.self) { try LeastSquares.solve([1, 2], rows: 1, columns: 2, [1]) }
        #expect(throws: LeastSquaresError.self) { try LeastSquares.solve([1, 2, 3], rows: 2, columns: 1, [1, 2]) }
        #expect(throws: LeastSquaresError.self) { try LeastSquares.solve([1, .nan], rows: 2, columns: 1, [1, 2]) }
    }
}

@Suite("Autoregression")
struct AutoRegressionTests {
    @Test(arguments: [2, 12])
    func matchesStatsmodels(_ p: Int) throws {
        let series = ForecastFixtures.values("ar.series")
        let ar = try AutoRegressiveModel(fitting: series[...], order: p, solver: .householder)
        expectClose([ar.intercept] + ar.coefficients, ForecastFixtures.values("ar\(p).params"), tolerance: 1e-9, "AR(\(p)) parameters")
        expectClose(ar.forecast(history: series[...], horizon: 12), ForecastFixtures.values("ar\(p).forecast"),
                    tolerance: 1e-9, "AR(\(p)) 12-step forecast")
        if LAPACK.isAvailable {
            let viaLapack = try AutoRegressiveModel(fitting: series[...], order: p, solver: .lapack)
            #expect(viaLapack.solver == .lapack)
            expectClose(viaLapack.coefficients, ar.coefficients, tolerance: 1e-9, "LAPACK against Householder")
        }
    }

    @Test func recoversANoiselessAR2() throws {
        // x_t = 0.5 + 1.2 x_{t−1} − 0.5 x_{t−2}: stable (complex roots of modulus ≈ 0.71), so the series stays bounded.
        var x: [Double] = [1, 3]
        for t in 2..<40 { x.append(0.5 + 1.2 * x[t - 1] - 0.5 * x[t - 2]) }
        let ar = try AutoRegressiveModel(fitting: x[...], order: 2)
        expectClose([ar.intercept] + ar.coefficients, [0.5, 1.2, -0.5], tolerance: 1e-9, "AR(2)")
        #expect(ar.name == "AR(2)")
    }

    @Test func recursiveForecastByHand() {
        let ar = AutoRegressiveModel(intercept: 1, coefficients: [0.5, 0.25])
        // History …, 4, 8: x̂1 = 1 + 0.5·8 + 0.25·4 = 6; x̂2 = 1 + 0.5·6 + 0.25·8 = 6; x̂3 = 1 + 3 + 1.5 = 5.5.
        #expect(ar.forecast(history: [100, 4, 8][...], horizon: 3) == [6, 6, 5.5])
        #expect(ar.predictNext([4, 8][...]) == 6)
    }

    @Test func tooShortToFit() {
        #expect(throws: LeastSquaresError.self) { try AutoRegressiveModel(fitting: [1, 2, 3, 4][...], order: 3) }
    }
}

@Suite("Forecast baselines and metrics")
struct ForecastBaselineTests {
    @Test func lastValue() {
        #expect(LastValueForecaster().forecast(history: [1, 2, 7][...], horizon: 3) == [7, 7, 7])
    }

    @Test func seasonalNaive() {
        let f = SeasonalNaiveForecaster(season: 3)
        let history: [Double] = [1, 2, 3, 4, 5, 6]
        // The last season is 4, 5, 6; a horizon of 5 repeats it.
        #expect(f.forecast(history: history[...], horizon: 5) == [4, 5, 6, 4, 5])
        // A slice keeps its own indices: the forecast must use positions relative to its end.
        #expect(f.forecast(history: history[1..<5], horizon: 2) == [3, 4])
    }

    @Test func metricsByHand() {
        let m = ForecastMetrics(actual: [2, 4, 0, -5], predicted: [1, 6, 1, -5])
        // errors 1, −2, −1, 0.
        #expect(m.mae == 1)
        #expect(abs(m.rmse - (6.0 / 4).squareRoot()) < 1e-15)
        // MAPE over the non-zero actuals: (1/2 + 2/4 + 0/5) / 3.
        #expect(abs((m.mape ?? 0) - 100.0 / 3) < 1e-12)
        #expect(m.mapeCount == 3 && m.count == 4)
        #expect(ForecastMetrics(actual: [0, 0], predicted: [1, 2]).mape == nil)
    }

    @Test func rollingOriginEvaluation() {
        let series: [Double] = [1, 2, 3, 4, 5, 6, 7, 8]
        let e = ForecastEvaluation(series: series, range: 5..<8, horizon: 2, forecaster: LastValueForecaster())
        #expect(e.origins == [5, 6])
        #expect(e.forecasts == [[5, 5], [6, 6]])
        #expect(e.actuals == [[6, 7], [7, 8]])
        // errors 1, 2, 1, 2.
        #expect(e.metrics.mae == 1.5)
        #expect(e.metrics(step: 2).mae == 2)
        // Blocks from origin 5 (positions 5, 6), then the tail from origin 6 (position 7).
        let path = e.piecewisePath(count: 8)
        let leadingGap = path[..<5].allSatisfy { $0.isNaN }
        #expect(leadingGap)
        #expect(Array(path[5...]) == [5, 5, 6])
    }

    @Test func evaluationInOriginalUnits() {
        // Scaled series z = x / 10; the inverse maps forecasts back before scoring against `original`.
        let x: [Double] = [10, 20, 30, 40]
        let e = ForecastEvaluation(series: x.map { $0 / 10 }, range: 3..<4, horizon: 1, forecaster: LastValueForecaster(),
                                   original: x, inverse: { $0.map { $0 * 10 } })
        #expect(e.forecasts == [[30]])
        #expect(e.metrics.mae == 10)
    }
}

@Suite("Window network forecaster")
struct WindowNetworkForecasterTests {
    /// A noiseless sine with period 8.
    static let sine = (0..<120).map { sin(2 * Double.pi * Double($0) / 8) }

    @Test func mlpLearnsASine() {
        let g = RandomGenerator(seed: 1)
        let mlp = WindowNetworkForecaster.mlp(lags: 8, horizon: 3, hidden: [16], relativeToLast: false, generator: g)
        let train = SeriesWindows(series: Self.sine, lags: 8, horizon: 3, targets: 0..<90)
        let valid = SeriesWindows(series: Self.sine, lags: 8, horizon: 3, targets: 90..<105)
        mlp.train(on: train, validation: valid, epochs: 300, learningRate: 0.02)
        let loss = mlp.history["loss"] ?? []
        #expect(loss.count == 300)
        #expect((loss.last ?? 1) < 0.05 * (loss.first ?? 0), "training MSE \(loss.first ?? 0) → \(loss.last ?? 1)")
        #expect(mlp.bestEpoch >= 1 && mlp.history["val_loss"]?.count == 300)
        let e = ForecastEvaluation(series: Self.sine, range: 105..<120, horizon: 3, forecaster: mlp)
        #expect(e.metrics.mae < 0.1, "test MAE \(e.metrics.mae)")
        #expect(mlp.forecast(history: Self.sine[..<110], horizon: 2).count == 2)
    }

    @Test func lstmLearnsASine() {
        let g = RandomGenerator(seed: 3)
        let lstm = WindowNetworkForecaster.lstm(lags: 8, horizon: 3, hidden: 16, relativeToLast: false, generator: g)
        #expect(lstm.name == "LSTM(16)" && lstm.inputLayout == .sequence)
        let train = SeriesWindows(series: Self.sine, lags: 8, horizon: 3, targets: 0..<90)
        let valid = SeriesWindows(series: Self.sine, lags: 8, horizon: 3, targets: 90..<105)
        lstm.train(on: train, validation: valid, epochs: 300, learningRate: 0.02)
        let loss = lstm.history["loss"] ?? []
        #expect((loss.last ?? 1) < 0.05 * (loss.first ?? 0), "training MSE \(loss.first ?? 0) → \(loss.last ?? 1)")
        let e = ForecastEvaluation(series: Self.sine, range: 105..<120, horizon: 3, forecaster: lstm)
        #expect(e.metrics.mae < 0.15, "test MAE \(e.metrics.mae)")
    }

    @Test func relativeWindowsFollowATrend() {
        // A straight line leaving the training range: absolute windows cannot reach the new
        // levels through tanh units, windows relative to their last value can.
        let line = (0..<60).map { Double($0) / 10 }
        let g = RandomGenerator(seed: 2)
        let mlp = WindowNetworkForecaster.mlp(lags: 4, horizon: 2, hidden: [8], relativeToLast: true, generator: g)
        mlp.train(on: SeriesWindows(series: line, lags: 4, horizon: 2, targets: 0..<40), validation: nil, epochs: 300)
        let f = mlp.forecast(history: line[..<58], horizon: 2)
        #expect(abs(f[0] - 5.8) < 0.1 && abs(f[1] - 5.9) < 0.1, "forecast \(f), expected [5.8, 5.9]")
    }
}
