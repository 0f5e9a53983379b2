import ArgumentParser
import Foundation
import Myelin

/// `myelin forecast --data series.csv [--column NAME] [--lags p] [--horizon k] [--season m] [--model ar,mlp] [--plot out.png]`:
/// fits forecasters on the first part of a series and prints their test errors beside the baselines.
struct Forecast: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forecast a time series (CSV column) and compare models with the last-value and seasonal-naive baselines.",
        discussion: """
        The series is split in time order into train / validation / test. Scaling (and the optional log) is fitted \
        on the training part only. AR(p) is fitted by least squares on the training part and forecasts recursively; \
        the MLP maps the last p values (relative to the last one) to the next k directly, trained with MSE (Adam, full batch), keeping the \
        epoch with the lowest validation loss. Every model forecasts k steps from every origin in the test part \
        (rolling origin, using the actual values before it); MAE, RMSE and MAPE are over all those forecasts, \
        in the original units.
        """)

    enum ModelKind: String, CaseIterable { case ar, mlp, lstm }

    @Option(help: "The CSV file.") var data: String
    @Option(help: "The value column (default: the last column).") var column: String?
    @Option(help: "The time column, for the plot's x axis (default: the first column).") var timeColumn: String?
    @Option(help: "Missing values: interpolate, drop or error.") var gaps: String = "interpolate"
    @Option(help: "p: past values each model sees (the AR order).") var lags: Int = 12
    @Option(help: "k: steps forecast from each origin (default: the season).") var horizon: Int?
    @Option(help: "m: the season length for the seasonal-naive baseline (12 monthly, 11 for sunspots' cycle).") var season: Int = 12
    @Option(help: "Models, comma-separated: ar, mlp, lstm.") var model: String = "ar,mlp"
    @Flag(help: "Forecast the log of the series (multiplicative seasonality); errors are in the original units.") var log = false
    @Option(help: "Scaling fitted on the training part: standard, minmax or none.") var scale: String = "standard"
    @Option(help: "Test part: a fraction (< 1) or a number of points.") var testSize: Double = 0.2
    @Option(help: "Validation part (before the test part): a fraction (< 1) or a number of points.") var validationSize: Double = 0.1
    @Option(help: "Least-squares solver for AR: automatic, lapack or householder.") var solver: String = "automatic"
    @Option(help: "MLP: hidden widths, comma-separated.") var hidden: String = "32"
    @Flag(help: "MLP: feed absolute levels (default: each window relative to its last value, so trends extrapolate).") var absoluteWindows = false
    @Option(help: "MLP: training epochs (full batch).") var epochs: Int = 500
    @Option(help: "MLP: Adam learning rate.") var learningRate: Double = 0.01
    @Option(help: "Random seed (MLP initialisation).") var seed: UInt64 = 0
    @Option(help: "Write a PNG of the series with each model's forecast over the test part.") var plot: String?

    func validate() throws {
        if lags < 1 { throw ValidationError("--lags must be at least 1, got \(lags)") }
        if let horizon, horizon < 1 { throw ValidationError("--horizon must be at least 1, got \(horizon)") }
        if season < 1 { throw ValidationError("--season must be at least 1, got \(season)") }
        if testSize <= 0 || validationSize < 0 { throw ValidationError("--test-size must be positive and --validation-size not negative") }
        if epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if SeriesGapPolicy(rawValue: gaps) == nil { throw ValidationError("--gaps must be interpolate, drop or error, not \(gaps)") }
        if SeriesScaler.Kind(rawValue: scale) == nil { throw ValidationError("--scale must be standard, minmax or none, not \(scale)") }
        if LeastSquares.Solver(rawValue: solver) == nil { throw ValidationError("--solver must be automatic, lapack or householder, not \(solver)") }
        _ = try models()
        _ = try hiddenWidths()
    }

    func models() throws -> [ModelKind] {
        try model.split(separator: ",").map { name in
            guard let kind = ModelKind(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ValidationError("--model: unknown model \"\(name)\" (models: ar, mlp, lstm)")
            }
            return kind
        }
    }

    func hiddenWidths() throws -> [Int] {
        let widths = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths.isEmpty, widths.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--hidden must be positive widths joined by commas, such as 32 or 64,32, not \(hidden)")
        }
        return widths.compactMap { $0 }
    }

    func run() throws {
        let kinds = try models()
        let series: TimeSeries
        do {
            series = try TimeSeries(contentsOf: URL(fileURLWithPath: data), column: column, timeColumn: timeColumn,
                                    gaps: SeriesGapPolicy(rawValue: gaps) ?? .interpolate)
        } catch let e as DataError { throw CLIError(e.description) }
        let k = horizon ?? season
        let n = series.count
        let validationCount = TimeSplit.size(validationSize, of: n), testCount = Swift.max(1, TimeSplit.size(testSize, of: n))
        guard testCount >= k, validationCount + testCount + lags + 2 < n else {
            throw CLIError("\(data): \(n) points cannot give a test part of \(testCount) (≥ horizon \(k)), a validation part of \(validationCount) and training for \(lags) lags")
        }
        let split = TimeSplit(count: n, validation: validationCount, test: testCount)
        let scaler: SeriesScaler
        let z: [Double]
        do {
            scaler = try SeriesScaler(SeriesScaler.Kind(rawValue: scale) ?? .standard, log: log, fitting: series.values[split.train])
            z = try scaler.transform(series.values)
        } catch let e as TensorError { throw CLIError("\(data): \(e)") }

        print("series: \(series.name) from \(data), \(n) points (\(series.labels.first ?? "") … \(series.labels.last ?? ""))")
        if series.missingCount > 0 {
            print("missing values: \(series.missingCount) (\(series.interpolatedCount) interpolated linearly, \(series.missingCount - series.interpolatedCount) dropped)")
        }
        print("split: \(split.train.count) train, \(split.validation.count) validation, \(split.test.count) test; "
              + "scaling \(scale)\(log ? " of log(x)" : "") fitted on the training part")
        print("lags p = \(lags), horizon k = \(k), season m = \(season); rolling-origin forecasts from \(Swift.max(0, split.test.count - k + 1)) test origins")

        var forecasters: [any Forecaster] = [LastValueForecaster(), SeasonalNaiveForecaster(season: season)]
        for kind in kinds {
            switch kind {
            case .ar:
                do {
                    let ar = try AutoRegressiveModel(fitting: z[split.train], order: lags,
                                                     solver: LeastSquares.Solver(rawValue: solver) ?? .automatic)
                    let phis = ar.coefficients.map { String(format: "%.3f", $0) }.joined(separator: " ")
                    print("\(ar.name) (scaled units, \(ar.solver == .lapack ? "LAPACK dgels (\(LAPACK.libraryName ?? "?"))" : "Householder QR")): c = \(String(format: "%.4f", ar.intercept)), φ = \(phis)")
                    forecasters.append(ar)
                } catch let e as LeastSquaresError { throw CLIError(e.description) }
            case .mlp, .lstm:
                let g = RandomGenerator(seed: seed)
                let net = kind == .mlp
                    ? WindowNetworkForecaster.mlp(lags: lags, horizon: k, hidden: try hiddenWidths(), relativeToLast: !absoluteWindows, generator: g)
                    : WindowNetworkForecaster.lstm(lags: lags, horizon: k, hidden: try hiddenWidths().first ?? 32,
                                                   relativeToLast: !absoluteWindows, generator: g)
                let trainWindows = SeriesWindows(series: z, lags: lags, horizon: k, targets: split.train)
                let validWindows = SeriesWindows(series: z, lags: lags, horizon: k, targets: split.validation)
                guard trainWindows.count > 0 else {
                    throw CLIError("the training part (\(split.train.count) points) is too short for \(lags) lags and horizon \(k)")
                }
                net.train(on: trainWindows, validation: validWindows, epochs: epochs, learningRate: learningRate)
                let val = net.history["val_loss"].map { String(format: ", validation MSE %.4f", $0[net.bestEpoch - 1]) } ?? ""
                print("\(net.name): \(trainWindows.count) training windows, \(validWindows.count) validation windows; kept epoch \(net.bestEpoch) of \(epochs)\(val)")
                forecasters.append(net)
            }
        }

        var rows: [(String, ForecastMetrics)] = []
        var paths: [(name: String, path: [Double])] = []
        for f in forecasters {
            let eval = ForecastEvaluation(series: z, range: split.test, horizon: k, forecaster: f,
                                          original: series.values, inverse: scaler.inverse)
            rows.append((f.name, eval.metrics))
            paths.append((f.name, eval.piecewisePath(count: n)))
        }
        print("")
        print(Self.table(rows))

        if let plot {
            let chart = ForecastChart.chart(
                title: "\(series.name): \(k)-step forecasts over the test part", series: series.values, forecasts: paths,
                xValues: Self.numericTimes(series.labels), xLabel: series.labels.isEmpty ? "t" : "time", yLabel: series.name)
            do { try chart.write(to: URL(fileURLWithPath: plot), width: 1000, height: 500) } catch {
                throw CLIError("cannot write \(plot): \(error)")
            }
            print("wrote \(plot)")
        }
    }

    static func table(_ rows: [(String, ForecastMetrics)]) -> String {
        let width = Swift.max(20, rows.map(\.0.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        func num(_ v: Double?) -> String {
            guard let v else { return "       n/a" }
            let s = String(format: "%.3f", v)
            return String(repeating: " ", count: Swift.max(0, 10 - s.count)) + s
        }
        var lines = ["\(pad("model", width))        MAE       RMSE    MAPE %", String(repeating: "-", count: width + 32)]
        for (name, m) in rows {
            lines.append("\(pad(name, width)) \(num(m.mae)) \(num(m.rmse)) \(num(m.mape))")
        }
        if let m = rows.first?.1, m.mapeCount < m.count {
            lines.append("(MAPE over the \(m.mapeCount) of \(m.count) forecast points whose actual value is not zero)")
        }
        return lines.joined(separator: "\n")
    }

    /// Time stamps as numbers for the x axis: years ("1700"), year-months ("1949-01" → 1949.0),
    /// dates (19580329 → 1958.24); nil when they are something else.
    static func numericTimes(_ labels: [String]) -> [Double]? {
        var out: [Double] = []
        for raw in labels {
            let s = raw.trimmingCharacters(in: .whitespaces)
            let parts = s.split(separator: "-")
            if parts.count == 2, let y = Double(parts[0]), let m = Double(parts[1]) {
                out.append(y + (m - 1) / 12)
            } else if s.count == 8, let d = Int(s) {
                out.append(Double(d / 10000) + Double((d / 100) % 100 - 1) / 12 + Double(d % 100 - 1) / 365)
            } else if let v = Double(s) {
                out.append(v)
            } else {
                return nil
            }
        }
        return out.count == labels.count ? out : nil
    }
}
