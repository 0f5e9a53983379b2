import Foundation
import MyelinCore

// Time series for forecasting: loading one column of a CSV file, splitting in
// time order, scaling fitted on the training part only, and windowing into
// (the past p steps → the next k steps) samples.

// MARK: - Loading

/// What to do with missing cells (empty, "NA", "nan", ...) in a series.
public enum SeriesGapPolicy: String, Sendable, CaseIterable {
    /// Throw an error naming the line.
    case error
    /// Fill each gap by linear interpolation between the values on either side
    /// (gaps at the very start or end, which have no value on one side, are dropped).
    case interpolate
    /// Leave the missing rows out (the series then has fewer, unevenly spaced points).
    case drop
}

/// One numeric column of a table as a series in file order, with the time stamps
/// of another column (or row numbers) kept for labels.
public struct TimeSeries: Sendable {
    /// The column's name.
    public let name: String
    /// Where the series came from (a path), for messages.
    public let source: String
    /// The values, in time order.
    public let values: [Double]
    /// The time stamp of each value (the time column's text, or the 1-based row number).
    public let labels: [String]
    /// How many cells were missing (and filled or dropped, as `gaps` said).
    public let missingCount: Int
    /// How many of the missing cells were filled by interpolation.
    public let interpolatedCount: Int

    /// A series from values (labels default to "1", "2", ...).
    public init(name: String, values: [Double], labels: [String]? = nil, source: String = "<values>") {
        require(labels == nil || labels?.count == values.count,
                "TimeSeries: \(labels?.count ?? 0) labels for \(values.count) values; give one label per value")
        self.name = name
        self.source = source
        self.values = values
        self.labels = labels ?? values.indices.map { String($0 + 1) }
        self.missingCount = 0
        self.interpolatedCount = 0
    }

    /// Reads `column` of the CSV file at `url` (see `init(table:column:timeColumn:gaps:)`).
    public init(contentsOf url: URL, column: String? = nil, timeColumn: String? = nil,
                gaps: SeriesGapPolicy = .interpolate) throws {
        try self.init(table: CSVTable(contentsOf: url), column: column, timeColumn: timeColumn, gaps: gaps)
    }

    /// `column` of `table` (default: the last column); time stamps from `timeColumn`
    /// (default: the first column, when it is not the value column). Cells that are not
    /// numbers throw a `DataError` naming the line; missing cells are handled as `gaps` says.
    public init(table: CSVTable, column: String? = nil, timeColumn: String? = nil,
                gaps: SeriesGapPolicy = .interpolate) throws {
        guard let valueName = column ?? table.header.last else {
            throw DataError(.parse, file: table.name, "has no columns")
        }
        let vi = try table.columnIndex(valueName)
        let ti: Int?
        if let timeColumn { ti = try table.columnIndex(timeColumn) } else { ti = vi == 0 ? nil : 0 }
        var values: [Double?] = []
        values.reserveCapacity(table.count)
        for (r, row) in table.rows.enumerated() {
            let raw = row[vi]
            let cell = raw.trimmingCharacters(in: .whitespaces)
            if TabularEncoder.defaultMissingTokens.contains(cell) {
                if gaps == .error {
                    throw DataError(.missingValue, file: table.name, line: table.lineNumbers[r], column: CSVTable.describe(valueName, vi),
                                    "the value is missing (\"\(raw)\"); interpolate or drop missing values")
                }
                values.append(nil)
                continue
            }
            guard let v = Double(cell), v.isFinite else {
                throw DataError(.parse, file: table.name, line: table.lineNumbers[r], column: CSVTable.describe(valueName, vi),
                                "\"\(raw)\" is not a finite number, but a series needs numbers")
            }
            values.append(v)
        }
        let rowLabels = table.rows.indices.map { r in ti.map { table.rows[r][$0] } ?? String(r + 1) }
        var kept: [Double] = [], keptLabels: [String] = []
        var interpolated = 0
        let present = values.indices.filter { values[$0] != nil }
        guard let first = present.first, let last = present.last else {
            throw DataError(.missingValue, file: table.name, column: CSVTable.describe(valueName, vi), "has no values")
        }
        switch gaps {
        case .error, .drop:
            for i in present { kept.append(values[i] ?? 0); keptLabels.append(rowLabels[i]) }
        case .interpolate:
            var previous = first
            for i in first...last {
                if let v = values[i] {
                    kept.append(v)
                    previous = i
                } else {
                    // The next present value exists: `last` is present and i < last.
                    let next = present.first { $0 > i } ?? last
                    let a = values[previous] ?? 0, b = values[next] ?? 0
                    kept.append(a + (b - a) * Double(i - previous) / Double(next - previous))
                    interpolated += 1
                }
                keptLabels.append(rowLabels[i])
            }
        }
        self.name = valueName
        self.source = table.name
        self.values = kept
        self.labels = keptLabels
        self.missingCount = values.count - present.count
        self.interpolatedCount = interpolated
    }

    /// Number of values.
    public var count: Int { values.count }
}

// MARK: - Splitting

/// Train / validation / test parts of a series, in time order: the training part
/// comes first, the test part last, and they do not overlap.
public struct TimeSplit: Sendable, Equatable, CustomStringConvertible {
    public let train: Range<Int>
    public let validation: Range<Int>
    public let test: Range<Int>

    /// The last `test` points for testing, the `validation` points before them for validation, the rest for training.
    public init(count: Int, validation: Int, test: Int) {
        require(validation >= 0 && test >= 1 && validation + test < count,
                "TimeSplit: a series of \(count) points cannot give \(validation) validation and \(test) test points and keep some for training")
        self.train = 0..<(count - test - validation)
        self.validation = (count - test - validation)..<(count - test)
        self.test = (count - test)..<count
    }

    /// A size given as a fraction of the series (< 1) or as a number of points (≥ 1).
    public static func size(_ value: Double, of count: Int) -> Int {
        value < 1 ? Int((Double(count) * value).rounded()) : Int(value)
    }

    /// Sizes as fractions of the series (< 1) or numbers of points (≥ 1).
    public init(count: Int, validationSize: Double, testSize: Double) {
        require(validationSize >= 0 && testSize > 0, "TimeSplit: sizes must be positive, got validation \(validationSize), test \(testSize)")
        self.init(count: count, validation: Self.size(validationSize, of: count), test: Swift.max(1, Self.size(testSize, of: count)))
    }

    public var description: String {
        "train \(train.lowerBound)..<\(train.upperBound), validation \(validation.lowerBound)..<\(validation.upperBound), test \(test.lowerBound)..<\(test.upperBound)"
    }
}

// MARK: - Scaling

/// An affine map `(x - shift) / scale` fitted on the training part of a series only
/// (standardisation or min-max to [0, 1]), optionally after a natural log (for
/// multiplicative seasonality, as in the lectures: the log turns growing swings into constant ones).
public struct SeriesScaler: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Mean 0 and (population) standard deviation 1 on the training part.
        case standard
        /// Minimum 0 and maximum 1 on the training part.
        case minMax = "minmax"
        /// No scaling.
        case none
    }

    public let kind: Kind
    /// Whether values are logged before scaling (they must then be positive).
    public let log: Bool
    public let shift: Double
    public let scale: Double

    /// Fits on `training` (the training part only, so nothing leaks from the future).
    public init(_ kind: Kind, log: Bool = false, fitting training: some Collection<Double>) throws {
        require(!training.isEmpty, "SeriesScaler: cannot fit on an empty training part")
        if log, let bad = training.first(where: { $0 <= 0 }) {
            throw TensorError.invalidValue("SeriesScaler: a log transform needs positive values, the training part has \(bad)")
        }
        let x = training.map { log ? Foundation.log($0) : $0 }
        self.kind = kind
        self.log = log
        switch kind {
        case .standard:
            let m = x.reduce(0, +) / Double(x.count)
            let sd = (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count)).squareRoot()
            shift = m
            scale = sd > 1e-12 * Swift.max(1, abs(m)) ? sd : 1
        case .minMax:
            let lo = x.min() ?? 0, hi = x.max() ?? 1
            shift = lo
            scale = hi - lo > 1e-12 * Swift.max(1, abs(lo)) ? hi - lo : 1
        case .none:
            shift = 0
            scale = 1
        }
    }

    /// Scales values (throws when a log is taken of a value ≤ 0).
    public func transform(_ values: [Double]) throws -> [Double] {
        if log, let bad = values.first(where: { $0 <= 0 }) {
            throw TensorError.invalidValue("SeriesScaler: a log transform needs positive values, got \(bad)")
        }
        return values.map { ((log ? Foundation.log($0) : $0) - shift) / scale }
    }

    /// Maps scaled values back to the original units.
    public func inverse(_ values: [Double]) -> [Double] {
        values.map { let v = $0 * scale + shift; return log ? Foundation.exp(v) : v }
    }
}

// MARK: - Windowing

/// A series cut into supervised samples: input the `lags` values before t
/// (oldest first), target the `horizon` values from t on. Only samples whose target
/// lies entirely in `targets` are made, so a validation or test set never trains
/// on its own future while its inputs may reach back into earlier parts (which a
/// forecaster would know at that time).
///
/// Sample i: input `[lags]`, target `[horizon]` (float32 by default).
public struct SeriesWindows: Dataset {
    public let lags: Int
    public let horizon: Int
    /// The series position of each sample's first target value.
    public let origins: [Int]
    /// All inputs `[count, lags]` and targets `[count, horizon]`.
    public let inputs: Tensor
    public let targets: Tensor

    /// Windows over `series` whose targets lie in `targets` (default: the whole series).
    public init(series: [Double], lags: Int, horizon: Int, targets range: Range<Int>? = nil, dtype: DType = .float32) {
        require(lags >= 1 && horizon >= 1, "SeriesWindows: lags (\(lags)) and horizon (\(horizon)) must be at least 1")
        let r = range ?? 0..<series.count
        require(r.lowerBound >= 0 && r.upperBound <= series.count,
                "SeriesWindows: target range \(r) is outside the series of \(series.count) points")
        let first = Swift.max(r.lowerBound, lags), last = r.upperBound - horizon
        let origins = first <= last ? Array(first...last) : []
        var x: [Double] = [], y: [Double] = []
        x.reserveCapacity(origins.count * lags)
        y.reserveCapacity(origins.count * horizon)
        for t in origins {
            x.append(contentsOf: series[(t - lags)..<t])
            y.append(contentsOf: series[t..<(t + horizon)])
        }
        self.lags = lags
        self.horizon = horizon
        self.origins = origins
        self.inputs = Tensor(x, shape: [origins.count, lags], dtype: dtype)
        self.targets = Tensor(y, shape: [origins.count, horizon], dtype: dtype)
    }

    public var count: Int { origins.count }

    public subscript(index: Int) -> Example {
        require(index >= 0 && index < count, "SeriesWindows: index \(index) is out of range for \(count) windows")
        return (inputs[index], targets[index])
    }

    public func batch(_ indices: [Int]) -> Batch {
        TensorDataset(inputs: inputs, targets: targets).batch(indices)
    }
}
