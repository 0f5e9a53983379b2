import Foundation
import MyelinCore
import MyelinData
import MyelinIO
import MyelinNN
import MyelinOptim

// Forecasting a univariate series: the baselines (last value, seasonal naive), the
// lecture's autoregressive model fitted by least squares, window networks trained
// with MSE (an MLP now; the LSTM forecaster plugs in the same way), rolling-origin
// evaluation, the metrics MAE/RMSE/MAPE, and a chart of the forecasts.

// MARK: - The protocol

/// Something that forecasts the next values of a series from its past.
public protocol Forecaster {
    /// A short name for tables and plot legends ("AR(12)", "seasonal naive (12)").
    var name: String { get }
    /// The `horizon` values that follow `history` (oldest first).
    func forecast(history: ArraySlice<Double>, horizon: Int) -> [Double]
}

// MARK: - Baselines

/// Every future value equals the last one seen (the random-walk forecast).
public struct LastValueForecaster: Forecaster, Sendable {
    public init() {}
    public var name: String { "last value" }
    public func forecast(history: ArraySlice<Double>, horizon: Int) -> [Double] {
        require(!history.isEmpty, "LastValueForecaster: the history is empty")
        return [Double](repeating: history.last ?? 0, count: horizon)
    }
}

/// Each future value equals the value one season earlier: x̂[T+h] = x[T+h − m·⌈h/m⌉]
/// for h = 1, 2, ... (a horizon longer than a season repeats the last season).
public struct SeasonalNaiveForecaster: Forecaster, Sendable {
    public let season: Int
    public init(season: Int) {
        require(season >= 1, "SeasonalNaiveForecaster: the season must be at least 1, got \(season)")
        self.season = season
    }
    public var name: String { "seasonal naive (\(season))" }
    public func forecast(history: ArraySlice<Double>, horizon: Int) -> [Double] {
        require(history.count >= season, "SeasonalNaiveForecaster: needs a full season (\(season) values) of history, got \(history.count)")
        let end = history.endIndex
        return (1...Swift.max(horizon, 1)).prefix(horizon).map { h in
            history[end + h - 1 - season * ((h - 1) / season + 1)]
        }
    }
}

// MARK: - Autoregression

/// The autoregressive model of order p, X_t = c + Σᵢ φᵢ X_{t−i} + ε_t, fitted by
/// ordinary least squares on the windows of a training series (the conditional
/// least-squares fit of statsmodels' `AutoReg`). Forecasts more than one step ahead
/// recursively: each forecast is fed back as the newest lag.
public struct AutoRegressiveModel: Forecaster, Sendable {
    /// c.
    public let intercept: Double
    /// φ₁ ... φ_p (φ₁ multiplies the newest value).
    public let coefficients: [Double]
    /// The solver that fitted it (LAPACK's dgels or the built-in Householder QR).
    public let solver: LeastSquares.Solver

    public var order: Int { coefficients.count }
    public var name: String { "AR(\(order))" }

    /// A model with these parameters.
    public init(intercept: Double, coefficients: [Double]) {
        require(!coefficients.isEmpty, "AutoRegressiveModel: needs at least one coefficient")
        self.intercept = intercept
        self.coefficients = coefficients
        self.solver = .automatic
    }

    /// Fits AR(`order`) on `series`: one equation per t ≥ order,
    /// x_t = c + φ₁ x_{t−1} + ... + φ_p x_{t−p}.
    public init(fitting series: ArraySlice<Double>, order: Int, solver: LeastSquares.Solver = .automatic) throws {
        require(order >= 1, "AutoRegressiveModel: the order must be at least 1, got \(order)")
        let x = Array(series)
        let rows = x.count - order
        guard rows >= order + 1 else {
            throw LeastSquaresError("AR(\(order)): \(x.count) training points give \(Swift.max(rows, 0)) equations for \(order + 1) unknowns; use fewer lags or more data")
        }
        var a: [Double] = []
        a.reserveCapacity(rows * (order + 1))
        var b: [Double] = []
        for t in order..<x.count {
            a.append(1)
            for i in 1...order { a.append(x[t - i]) }
            b.append(x[t])
        }
        let solution = try LeastSquares.solve(a, rows: rows, columns: order + 1, b, solver: solver)
        self.intercept = solution.coefficients[0]
        self.coefficients = Array(solution.coefficients.dropFirst())
        self.solver = solution.solver
    }

    /// The one-step forecast from the last `order` values of `history`.
    public func predictNext(_ history: ArraySlice<Double>) -> Double {
        require(history.count >= order, "\(name): needs \(order) values of history, got \(history.count)")
        var s = intercept
        let end = history.endIndex
        for (i, phi) in coefficients.enumerated() { s += phi * history[end - 1 - i] }
        return s
    }

    public func forecast(history: ArraySlice<Double>, horizon: Int) -> [Double] {
        var window = Array(history.suffix(order))
        require(window.count == order, "\(name): needs \(order) values of history, got \(history.count)")
        var out: [Double] = []
        for _ in 0..<horizon {
            let next = predictNext(window[...])
            out.append(next)
            window.removeFirst()
            window.append(next)
        }
        return out
    }
}

// MARK: - Window networks

/// A network that maps the last `lags` values to the next `horizon` values at once
/// (direct multi-step forecasting), trained with MSE on `SeriesWindows`.
///
/// The network sees inputs shaped by `inputLayout`: `.flat` gives `[B, lags]` (an MLP),
/// `.sequence` gives `[B, lags, 1]` (a batch-first recurrent network, such as an LSTM
/// followed by a linear head on its last state). It must return `[B, horizon]`.
public final class WindowNetworkForecaster: Forecaster {
    public enum InputLayout: Sendable { case flat, sequence }

    public let name: String
    public let network: any UnaryLayer
    public let lags: Int
    public let horizon: Int
    public let inputLayout: InputLayout
    /// Whether windows are taken relative to their last value.
    public let relativeToLast: Bool
    /// Training and validation MSE per epoch (in scaled units), after `train`.
    public private(set) var history: [String: [Double]] = [:]
    /// The epoch (1-based) whose weights were kept: the lowest validation loss.
    public private(set) var bestEpoch = 0

    public init(name: String, network: any UnaryLayer, lags: Int, horizon: Int, inputLayout: InputLayout = .flat,
                relativeToLast: Bool = false) {
        require(lags >= 1 && horizon >= 1, "WindowNetworkForecaster: lags (\(lags)) and horizon (\(horizon)) must be at least 1")
        self.name = name
        self.network = network
        self.lags = lags
        self.horizon = horizon
        self.inputLayout = inputLayout
        self.relativeToLast = relativeToLast
    }

    /// An MLP forecaster: lags → hidden (tanh) → ... → horizon.
    public static func mlp(lags: Int, horizon: Int, hidden: [Int] = [32], relativeToLast: Bool = true,
                           generator: RandomGenerator) -> WindowNetworkForecaster {
        var layers: [any UnaryLayer] = []
        var width = lags
        for h in hidden {
            layers.append(Linear(width, h, generator: generator))
            layers.append(Tanh())
            width = h
        }
        layers.append(Linear(width, horizon, generator: generator))
        return WindowNetworkForecaster(name: "MLP(\(([lags] + hidden + [horizon]).map(String.init).joined(separator: "-")))",
                                       network: Sequential(layers), lags: lags, horizon: horizon, relativeToLast: relativeToLast)
    }

    /// An LSTM over the window, one value per step ([B, lags, 1]), its last state through a
    /// linear head to all `horizon` values at once.
    public static func lstm(lags: Int, horizon: Int, hidden: Int = 32, layers: Int = 1, relativeToLast: Bool = true,
                            generator: RandomGenerator) -> WindowNetworkForecaster {
        let encoder = SequenceEncoder(LSTM(inputSize: 1, hiddenSize: hidden, numLayers: layers, batchFirst: true, generator: generator),
                                      pooling: .lastState)
        return WindowNetworkForecaster(name: "LSTM(\(hidden)\(layers > 1 ? "×\(layers)" : ""))",
                                       network: Sequential { encoder; Linear(hidden, horizon, generator: generator) },
                                       lags: lags, horizon: horizon, inputLayout: .sequence, relativeToLast: relativeToLast)
    }

    /// The last value of each window `[B, 1]` (zeros when not `relativeToLast`).
    private func level(_ x: Tensor) -> Tensor {
        relativeToLast ? x[.all, (lags - 1)..<lags] : Tensor.zeros([x.shape[0], 1])
    }

    /// The network's input for windows `x` `[B, lags]`.
    private func shaped(_ x: Tensor) -> Tensor {
        let r = relativeToLast ? x - level(x) : x
        return inputLayout == .flat ? r : r.reshaped([x.shape[0], lags, 1])
    }

    /// Forecasts `[B, horizon]` for windows `x` `[B, lags]`.
    private func predict(_ x: Tensor) -> Tensor {
        relativeToLast ? network(shaped(x)) + level(x) : network(shaped(x))
    }

    /// Trains full-batch with Adam on `train` and keeps the weights of the epoch with
    /// the lowest validation MSE (or the last epoch without validation windows).
    public func train(on train: SeriesWindows, validation: SeriesWindows?, epochs: Int = 500,
                      learningRate: Double = 0.01, weightDecay: Double = 0) {
        require(train.lags == lags && train.horizon == horizon,
                "\(name): trained on windows \(train.lags)→\(train.horizon), but built for \(lags)→\(horizon)")
        require(train.count > 0, "\(name): no training windows (the training part is shorter than lags + horizon)")
        let optimizer = Adam(network.parameters(), learningRate: learningRate, weightDecay: weightDecay)
        let x = train.inputs.to(.float32), y = train.targets.to(.float32)
        let valid = validation.flatMap { $0.count > 0 ? $0 : nil }
        var best = Double.infinity
        var bestState = network.stateDict()
        var trainLoss: [Double] = [], validLoss: [Double] = []
        for epoch in 1...Swift.max(epochs, 1) {
            network.train()
            optimizer.zeroGrad()
            let loss = mseLoss(predict(x), y)
            loss.backward()
            optimizer.step()
            trainLoss.append(loss.itemDouble())
            let score: Double
            if let valid {
                network.eval()
                score = withoutGradients { mseLoss(predict(valid.inputs.to(.float32)), valid.targets.to(.float32)).itemDouble() }
                validLoss.append(score)
            } else {
                score = -Double(epoch)  // no validation: keep the last epoch
            }
            if score < best {
                best = score
                bestEpoch = epoch
                bestState = network.stateDict().mapValues { $0.detached() }
            }
        }
        _ = try? network.loadStateDict(bestState)
        network.eval()
        history = ["loss": trainLoss]
        if !validLoss.isEmpty { history["val_loss"] = validLoss }
    }

    public func forecast(history: ArraySlice<Double>, horizon: Int) -> [Double] {
        require(horizon <= self.horizon, "\(name): forecasts \(self.horizon) steps directly, \(horizon) were asked for")
        require(history.count >= lags, "\(name): needs \(lags) values of history, got \(history.count)")
        let input = Tensor(Array(history.suffix(lags)), shape: [1, lags], dtype: .float32)
        let out = withoutGradients { predict(input) }
        return Array(out.scalars(as: Double.self).prefix(horizon))
    }
}

// MARK: - Metrics

/// Forecast errors over many forecasts: MAE, RMSE and MAPE (in percent, over the
/// actual values that are not zero: a zero actual makes the percentage infinite).
public struct ForecastMetrics: Sendable, Equatable {
    public let mae: Double
    public let rmse: Double
    /// nil when every actual value is (near) zero.
    public let mape: Double?
    /// How many points were scored, and how many of them entered the MAPE.
    public let count: Int
    public let mapeCount: Int

    public init(actual: [Double], predicted: [Double], zeroTolerance: Double = 1e-12) {
        require(actual.count == predicted.count && !actual.isEmpty,
                "ForecastMetrics: \(actual.count) actual and \(predicted.count) predicted values; need the same positive number")
        var abs = 0.0, sq = 0.0, pct = 0.0, np = 0
        for (a, p) in zip(actual, predicted) {
            let e = a - p
            abs += Swift.abs(e)
            sq += e * e
            if Swift.abs(a) > zeroTolerance { pct += Swift.abs(e / a); np += 1 }
        }
        let n = Double(actual.count)
        mae = abs / n
        rmse = (sq / n).squareRoot()
        mape = np > 0 ? 100 * pct / Double(np) : nil
        count = actual.count
        mapeCount = np
    }
}

// MARK: - Evaluation

/// Rolling-origin evaluation: from every origin t in a range (so that t..<t+horizon
/// lies in it), forecast `horizon` steps from everything before t, and score all of them.
public struct ForecastEvaluation: Sendable {
    /// The forecast origins (series positions of each forecast's first value).
    public let origins: [Int]
    /// forecasts[i] = the `horizon` values forecast from origins[i].
    public let forecasts: [[Double]]
    /// The actual values at the same positions.
    public let actuals: [[Double]]

    /// Forecasts `series[range]` with `forecaster`; `transform` maps both forecasts and
    /// actuals back to the original units before scoring (e.g. `scaler.inverse`).
    public init(series: [Double], range: Range<Int>, horizon: Int, forecaster: any Forecaster,
                original: [Double]? = nil, inverse: (([Double]) -> [Double])? = nil) {
        require(horizon >= 1 && range.lowerBound >= 1 && range.upperBound <= series.count,
                "ForecastEvaluation: range \(range) and horizon \(horizon) do not fit a series of \(series.count)")
        let truth = original ?? series
        var origins: [Int] = [], forecasts: [[Double]] = [], actuals: [[Double]] = []
        var t = range.lowerBound
        while t + horizon <= range.upperBound {
            let f = forecaster.forecast(history: series[..<t], horizon: horizon)
            forecasts.append(inverse?(f) ?? f)
            actuals.append(Array(truth[t..<(t + horizon)]))
            origins.append(t)
            t += 1
        }
        self.origins = origins
        self.forecasts = forecasts
        self.actuals = actuals
    }

    /// Metrics over every forecast and step.
    public var metrics: ForecastMetrics {
        ForecastMetrics(actual: actuals.flatMap { $0 }, predicted: forecasts.flatMap { $0 })
    }

    /// Metrics of the h-step-ahead forecasts only (h = 1 ... horizon).
    public func metrics(step h: Int) -> ForecastMetrics {
        ForecastMetrics(actual: actuals.map { $0[h - 1] }, predicted: forecasts.map { $0[h - 1] })
    }

    /// A forecast path across the range: the forecasts from origins range.start,
    /// start + horizon, ... laid end to end (each block made from the data before it),
    /// as values at series positions (NaN elsewhere), for a plot.
    public func piecewisePath(count: Int) -> [Double] {
        var path = [Double](repeating: .nan, count: count)
        guard let first = origins.first, let horizon = forecasts.first?.count else { return path }
        for (o, f) in zip(origins, forecasts) where (o - first) % horizon == 0 {
            for (h, v) in f.enumerated() where o + h < count { path[o + h] = v }
        }
        // The points after the last whole block: from the last origin, which reaches the end.
        if let o = origins.last, let f = forecasts.last {
            for (h, v) in f.enumerated() where o + h < count && path[o + h].isNaN { path[o + h] = v }
        }
        return path
    }
}

// MARK: - Plot

/// A chart of a series with forecasts over its test part.
public enum ForecastChart {
    /// The whole series in black and each forecast path (values at series positions,
    /// NaN where there is none) in its own colour; x is the position in the series
    /// (or `xValues`, e.g. years).
    public static func chart(title: String, series: [Double], forecasts: [(name: String, path: [Double])],
                             xValues: [Double]? = nil, xLabel: String = "t", yLabel: String = "") -> LineChart {
        let x = xValues ?? series.indices.map(Double.init)
        var lines = [Series("actual", x: x, y: series, color: .black)]
        for (i, f) in forecasts.enumerated() {
            lines.append(Series(f.name, x: x, y: f.path, color: RGB.palette[i % RGB.palette.count]))
        }
        var chart = LineChart(title: title, xLabel: xLabel, yLabel: yLabel, series: lines)
        chart.showMarkers = false
        return chart
    }
}
