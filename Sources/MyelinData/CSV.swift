import Foundation
import MyelinCore

// MARK: - Parsing

/// A CSV file with a header row, parsed as RFC 4180 says: fields separated by
/// a delimiter, quoted fields may hold delimiters, line breaks and doubled
/// quotes (`""`), lines end in LF or CRLF, a UTF-8 byte-order mark is skipped,
/// blank lines are ignored. Every row must have as many fields as the header.
public struct CSVTable: Sendable {
    /// Column names from the header row.
    public let header: [String]
    /// The data rows; each has `header.count` fields.
    public let rows: [[String]]
    /// The 1-based line of the file where each row starts (for messages).
    public let lineNumbers: [Int]
    /// Where the table came from (a path), for messages.
    public let name: String

    /// Reads `url`.
    public init(contentsOf url: URL, delimiter: Character = ",") throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError(.notFound, file: url.path, "no such file")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError(.notFound, file: url.path, "cannot be read (\(error.localizedDescription))")
        }
        let bytes = Gzip.isGzip(data) ? try Gzip.decompress([UInt8](data), name: url.path) : [UInt8](data)
        try self.init(bytes: bytes, name: url.path, delimiter: delimiter)
    }

    /// Parses CSV text.
    public init(string: String, name: String = "<string>", delimiter: Character = ",") throws {
        try self.init(bytes: Array(string.utf8), name: name, delimiter: delimiter)
    }

    /// A table from parts (rows are checked against the header).
    public init(header: [String], rows: [[String]], lineNumbers: [Int]? = nil, name: String = "<table>") throws {
        for (i, r) in rows.enumerated() where r.count != header.count {
            throw DataError(.parse, file: name, line: lineNumbers?[i] ?? i + 2,
                            "has \(r.count) fields, but the header has \(header.count)")
        }
        self.header = header
        self.rows = rows
        self.lineNumbers = lineNumbers ?? rows.indices.map { $0 + 2 }
        self.name = name
    }

    init(bytes: [UInt8], name: String, delimiter: Character) throws {
        guard let d = delimiter.asciiValue, d != UInt8(ascii: "\""), d != 10, d != 13 else {
            throw DataError(.invalidArgument, file: name, "the delimiter must be one ASCII character other than a quote or line break, got \(delimiter.debugDescription)")
        }
        var records = try Self.parse(bytes, name: name, delimiter: d)
        guard !records.isEmpty else { throw DataError(.parse, file: name, "is empty: a header row is needed") }
        let (header, headerLine) = records.removeFirst()
        var seen: [String: Int] = [:]
        for (i, h) in header.enumerated() {
            if let j = seen[h] {
                throw DataError(.parse, file: name, line: headerLine, column: Self.describe(h, i),
                                "repeats the header name of column \(j + 1); column names must be unique")
            }
            seen[h] = i
        }
        var rows: [[String]] = []
        var lines: [Int] = []
        rows.reserveCapacity(records.count)
        lines.reserveCapacity(records.count)
        for (fields, line) in records {
            guard fields.count == header.count else {
                throw DataError(.parse, file: name, line: line,
                                "has \(fields.count) fields, but the header has \(header.count) (\(header.joined(separator: ", ")))")
            }
            rows.append(fields)
            lines.append(line)
        }
        self.header = header
        self.rows = rows
        self.lineNumbers = lines
        self.name = name
    }

    /// Number of data rows.
    public var count: Int { rows.count }

    /// The position of the column called `name`.
    public func columnIndex(_ column: String) throws -> Int {
        guard let i = header.firstIndex(of: column) else {
            throw DataError(.invalidArgument, file: name, "has no column \"\(column)\" (columns: \(header.joined(separator: ", ")))")
        }
        return i
    }

    /// The fields of one column.
    public func column(_ column: String) throws -> [String] {
        let i = try columnIndex(column)
        return rows.map { $0[i] }
    }

    /// The rows at `indices`, as a table (to split before fitting encoders).
    public func rows(_ indices: [Int]) -> CSVTable {
        CSVTable(unchecked: header, rows: indices.map { rows[$0] }, lineNumbers: indices.map { lineNumbers[$0] }, name: name)
    }

    private init(unchecked header: [String], rows: [[String]], lineNumbers: [Int], name: String) {
        self.header = header
        self.rows = rows
        self.lineNumbers = lineNumbers
        self.name = name
    }

    /// `"age" (column 3)`.
    static func describe(_ name: String, _ index: Int) -> String { "\"\(name)\" (column \(index + 1))" }

    /// Records with the line each starts on.
    static func parse(_ input: [UInt8], name: String, delimiter: UInt8) throws -> [([String], Int)] {
        let quote = UInt8(ascii: "\""), cr: UInt8 = 13, lf: UInt8 = 10
        var records: [([String], Int)] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var i = input.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var recordLine = 1
        var fieldStartsRecord = true  // nothing read yet on this record
        let n = input.count

        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        }
        func endRecord() {
            endField()
            // A blank line is one empty field: skip it.
            if !(fields.count == 1 && fields[0].isEmpty) { records.append((fields, recordLine)) }
            fields.removeAll(keepingCapacity: true)
        }

        while i < n {
            let c = input[i]
            if fieldStartsRecord { recordLine = line; fieldStartsRecord = false }
            if c == quote && field.isEmpty {
                // A quoted field: read to the closing quote.
                let startLine = line
                i += 1
                var closed = false
                while i < n {
                    let q = input[i]
                    if q == quote {
                        if i + 1 < n && input[i + 1] == quote { field.append(quote); i += 2; continue }
                        closed = true
                        i += 1
                        break
                    }
                    if q == lf { line += 1 }
                    field.append(q)
                    i += 1
                }
                guard closed else {
                    throw DataError(.parse, file: name, line: startLine, column: "\(fields.count + 1)",
                                    "a quoted field is never closed (a \" is missing before the end of the file)")
                }
                // After the closing quote: a delimiter, a line end or the end of the input.
                if i < n && input[i] != delimiter && input[i] != cr && input[i] != lf {
                    throw DataError(.parse, file: name, line: line, column: "\(fields.count + 1)",
                                    "unexpected character '\(Character(Unicode.Scalar(input[i])))' after a closing quote; a quote inside a quoted field must be doubled (\"\")")
                }
                if i >= n { break }
                continue
            }
            switch c {
            case delimiter:
                endField()
                i += 1
            case cr, lf:
                endRecord()
                i += (c == cr && i + 1 < n && input[i + 1] == lf) ? 2 : 1
                line += 1
                fieldStartsRecord = true
            default:
                field.append(c)
                i += 1
            }
        }
        if !fieldStartsRecord { endRecord() }
        return records
    }
}

// MARK: - Encoding columns as numbers

/// How a column becomes numbers.
public enum ColumnEncoding: Sendable, Equatable {
    /// Parsed as a number.
    case numeric
    /// A categorical column as one 0/1 column per category.
    case oneHot
    /// A categorical column as the index of its category (0, 1, 2, ...).
    case index
    /// Left out.
    case ignore
}

/// What to do with a row that has a missing value in a column that is used.
public enum MissingValuePolicy: Sendable, Equatable {
    /// Throw an error naming the line and column.
    case error
    /// Leave the row out.
    case dropRow
}

/// Turns a table's columns into a float32 feature matrix and a target tensor.
/// Fitted on one table (the training file), it encodes others the same way:
/// the same columns, the same category order, an error for a category it never saw.
///
/// - Columns whose every present value is a number are `.numeric`; others are
///   categorical: `.oneHot` as features, `.index` as the target (override per
///   column with `encodings`). Categories are sorted unless `categories` gives an order.
/// - Features: float32 `[N, F]` (one-hot columns expand to one column per
///   category, named `"Gender=female"`).
/// - Target: `.index` gives int64 `[N]` (for cross-entropy), `.oneHot` float32
///   `[N, K]`, `.numeric` float32 `[N, 1]` (matching a `Linear(…, 1)` output).
public struct TabularEncoder: Sendable {
    public struct Column: Sendable, Equatable {
        public let name: String
        public let encoding: ColumnEncoding
        /// The categories of a categorical column, in code order.
        public let categories: [String]
    }

    /// The feature columns, in order.
    public let features: [Column]
    /// The target column, if any.
    public let target: Column?
    /// Cells that count as missing (after trimming spaces).
    public let missingTokens: Set<String>
    public let missingValues: MissingValuePolicy

    public static let defaultMissingTokens: Set<String> = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "?"]

    /// Fits the encoding on `table`.
    /// - Parameters:
    ///   - target: the column to predict (nil: features only).
    ///   - encodings: per-column choices overriding the defaults (`["Province": .index]`).
    ///   - categories: per-column category orders (`["label": ["malignant", "benign"]]`).
    ///   - ignore: columns to leave out (an id column, say).
    public init(
        fitting table: CSVTable, target: String?, encodings: [String: ColumnEncoding] = [:],
        categories: [String: [String]] = [:], ignore: [String] = [],
        missingValues: MissingValuePolicy = .error, missingTokens: Set<String> = TabularEncoder.defaultMissingTokens
    ) throws {
        self.missingTokens = missingTokens
        self.missingValues = missingValues
        for name in Array(encodings.keys) + Array(categories.keys) + ignore + (target.map { [$0] } ?? []) {
            _ = try table.columnIndex(name)
        }
        func fit(_ index: Int, isTarget: Bool) throws -> Column {
            let name = table.header[index]
            let values = table.rows.map { $0[index].trimmingCharacters(in: .whitespaces) }.filter { !missingTokens.contains($0) }
            let allNumeric = !values.isEmpty && values.allSatisfy { Double($0) != nil }
            let encoding = encodings[name] ?? (allNumeric ? .numeric : (isTarget ? .index : .oneHot))
            switch encoding {
            case .numeric:
                if let i = table.rows.indices.first(where: { r in
                    let v = table.rows[r][index].trimmingCharacters(in: .whitespaces)
                    return !missingTokens.contains(v) && Double(v) == nil
                }) {
                    throw DataError(.parse, file: table.name, line: table.lineNumbers[i], column: CSVTable.describe(name, index),
                                    "\"\(table.rows[i][index])\" is not a number, but the column is numeric")
                }
                return Column(name: name, encoding: .numeric, categories: [])
            case .oneHot, .index:
                let seen = Set(values)
                let order = categories[name] ?? seen.sorted()
                if categories[name] != nil {
                    if let unknown = seen.subtracting(order).sorted().first {
                        throw DataError(.invalidArgument, file: table.name, column: CSVTable.describe(name, index),
                                        "has the category \"\(unknown)\", which is not in the categories given (\(order.joined(separator: ", ")))")
                    }
                }
                return Column(name: name, encoding: encoding, categories: order)
            case .ignore:
                return Column(name: name, encoding: .ignore, categories: [])
            }
        }
        var features: [Column] = []
        for (i, name) in table.header.enumerated() where name != target && !ignore.contains(name) {
            let c = try fit(i, isTarget: false)
            if c.encoding != .ignore { features.append(c) }
        }
        self.features = features
        self.target = try target.map { try fit(table.columnIndex($0), isTarget: true) }
    }

    /// Names of the encoded feature columns (`"age"`, `"Gender=female"`, ...).
    public var featureNames: [String] {
        features.flatMap { c in c.encoding == .oneHot ? c.categories.map { "\(c.name)=\($0)" } : [c.name] }
    }

    /// Number of encoded feature columns.
    public var featureCount: Int { features.reduce(0) { $0 + ($1.encoding == .oneHot ? $1.categories.count : 1) } }

    /// Positions of the numeric features among the encoded columns (the ones to standardise).
    public var numericFeatureIndices: [Int] {
        var out: [Int] = []
        var k = 0
        for c in features {
            if c.encoding == .numeric { out.append(k) }
            k += c.encoding == .oneHot ? c.categories.count : 1
        }
        return out
    }

    /// The target's categories (class names in label order), when it is categorical.
    public var classes: [String]? {
        guard let target, target.encoding == .index || target.encoding == .oneHot else { return nil }
        return target.categories
    }

    /// Encodes `table`: features `[N, F]` and the target (nil without a target column).
    /// With `.dropRow`, rows with a missing value are left out, so N may be below `table.count`.
    public func encode(_ table: CSVTable) throws -> (features: Tensor, target: Tensor?) {
        let featureIndex = try features.map { try table.columnIndex($0.name) }
        let targetIndex = try target.map { try table.columnIndex($0.name) }
        let f = featureCount
        var x: [Float] = []
        x.reserveCapacity(table.count * f)
        var yIndex: [Int64] = [], yFloat: [Float] = []
        var kept = 0

        /// Writes row r's value of `column` through `put`; false when it is missing and the row is dropped.
        func encodeCell(_ r: Int, _ column: Column, _ ci: Int, _ put: (Float) -> Void, _ putIndex: ((Int) -> Void)? = nil) throws -> Bool {
            let raw = table.rows[r][ci]
            let v = raw.trimmingCharacters(in: .whitespaces)
            let place = CSVTable.describe(column.name, ci)
            if missingTokens.contains(v) {
                if missingValues == .dropRow { return false }
                throw DataError(.missingValue, file: table.name, line: table.lineNumbers[r], column: place,
                                "the value is missing (\"\(raw)\"); fill it in, or drop such rows (missingValues: .dropRow)")
            }
            switch column.encoding {
            case .numeric:
                guard let d = Double(v) else {
                    throw DataError(.parse, file: table.name, line: table.lineNumbers[r], column: place,
                                    "\"\(raw)\" is not a number, but the column is numeric")
                }
                put(Float(d))
            case .oneHot, .index:
                guard let k = column.categories.firstIndex(of: v) else {
                    throw DataError(.invalidArgument, file: table.name, line: table.lineNumbers[r], column: place,
                                    "category \"\(v)\" was not seen when the encoder was fitted (known: \(column.categories.joined(separator: ", ")))")
                }
                if let putIndex { putIndex(k); return true }
                if column.encoding == .index { put(Float(k)) } else {
                    for j in 0..<column.categories.count { put(j == k ? 1 : 0) }
                }
            case .ignore: break
            }
            return true
        }

        var row: [Float] = []
        row.reserveCapacity(f)
        rowLoop: for r in 0..<table.count {
            row.removeAll(keepingCapacity: true)
            for (c, ci) in zip(features, featureIndex) {
                guard try encodeCell(r, c, ci, { row.append($0) }) else { continue rowLoop }
            }
            if let target, let ti = targetIndex {
                var targetRow: [Float] = []
                var label = 0
                let ok: Bool
                if target.encoding == .index {
                    ok = try encodeCell(r, target, ti, { _ in }, { label = $0 })
                } else {
                    ok = try encodeCell(r, target, ti, { targetRow.append($0) })
                }
                guard ok else { continue rowLoop }
                if target.encoding == .index { yIndex.append(Int64(label)) } else { yFloat.append(contentsOf: targetRow) }
            }
            x.append(contentsOf: row)
            kept += 1
        }
        let features = Tensor(x, shape: [kept, f], dtype: .float32)
        guard let target else { return (features, nil) }
        switch target.encoding {
        case .index: return (features, Tensor(yIndex, shape: [kept], dtype: .int64))
        case .oneHot: return (features, Tensor(yFloat, shape: [kept, target.categories.count], dtype: .float32))
        default: return (features, Tensor(yFloat, shape: [kept, 1], dtype: .float32))
        }
    }
}

extension CSVTable {
    /// This table encoded as a data set of (features, target) rows, with the
    /// encoder (to encode a test file the same way, and to name the classes).
    public func dataset(
        target: String, encodings: [String: ColumnEncoding] = [:], categories: [String: [String]] = [:],
        ignore: [String] = [], missingValues: MissingValuePolicy = .error
    ) throws -> (dataset: TensorDataset, encoder: TabularEncoder) {
        let encoder = try TabularEncoder(fitting: self, target: target, encodings: encodings, categories: categories,
                                         ignore: ignore, missingValues: missingValues)
        let (x, y) = try encoder.encode(self)
        // A target column was given, so `y` is present.
        return (TensorDataset(inputs: x, targets: y ?? Tensor.zeros([x.shape[0]])), encoder)
    }
}

// MARK: - Standardisation

/// z-scores per feature (scikit-learn's `StandardScaler`): `(x - mean) / std`
/// over the last axis, with mean and (population) standard deviation fitted on
/// the training data only and then applied unchanged to validation and test
/// data. A constant feature gets std 1. Its state is two tensors, so it can be
/// saved beside the model's weights.
public struct Standardizer: Transform, Sendable {
    /// Per-feature means, float64 `[F]`.
    public let mean: Tensor
    /// Per-feature standard deviations, float64 `[F]` (never 0).
    public let std: Tensor

    /// Fits on `x` (`[N, F]`). With `columns`, only those features are
    /// standardised; the others pass through (mean 0, std 1), e.g. one-hot codes.
    public init(fitting x: Tensor, columns: [Int]? = nil) {
        require(x.rank == 2, "Standardizer: fits on a [samples, features] tensor, got shape \(x.shape)")
        let (n, f) = (x.shape[0], x.shape[1])
        require(n > 0, "Standardizer: cannot fit on 0 samples")
        if let columns, let bad = columns.first(where: { $0 < 0 || $0 >= f }) {
            requirementFailure("Standardizer: column \(bad) is out of range for \(f) features")
        }
        let values = x.scalars(as: Double.self)
        var mean = [Double](repeating: 0, count: f), std = [Double](repeating: 1, count: f)
        for j in columns ?? Array(0..<f) {
            var s = 0.0
            for i in 0..<n { s += values[i * f + j] }
            let m = s / Double(n)
            var ss = 0.0
            for i in 0..<n { let d = values[i * f + j] - m; ss += d * d }
            let sd = (ss / Double(n)).squareRoot()
            mean[j] = m
            std[j] = sd > 1e-12 * Swift.max(1, abs(m)) ? sd : 1
        }
        self.mean = Tensor(mean, shape: [f], dtype: .float64)
        self.std = Tensor(std, shape: [f], dtype: .float64)
    }

    /// From saved statistics.
    public init(mean: Tensor, std: Tensor) throws {
        guard mean.rank == 1, mean.shape == std.shape else {
            throw TensorError.invalidValue("Standardizer: mean \(mean.shape) and std \(std.shape) must be vectors of one length")
        }
        let s = std.scalars(as: Double.self)
        guard s.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw TensorError.invalidValue("Standardizer: every std must be positive and finite")
        }
        self.mean = mean.to(.float64).detached()
        self.std = std.to(.float64).detached()
    }

    /// From the tensors `tensors(prefix:)` wrote.
    public init(tensors: [String: Tensor], prefix: String = "standardizer.") throws {
        guard let m = tensors[prefix + "mean"], let s = tensors[prefix + "std"] else {
            throw TensorError.invalidValue("Standardizer: \(prefix)mean and \(prefix)std are needed, found keys \(tensors.keys.sorted())")
        }
        try self.init(mean: m, std: s)
    }

    /// The state as named tensors (for a safetensors file).
    public func tensors(prefix: String = "standardizer.") -> [String: Tensor] {
        [prefix + "mean": mean, prefix + "std": std]
    }

    /// Number of features.
    public var featureCount: Int { mean.count }

    /// `(x - mean) / std` over the last axis of `x` (`[F]` or `[N, F]` or more); keeps a float
    /// `x`'s dtype, and gives float32 for integer input.
    public func transform(_ x: Tensor) -> Tensor { apply(x, inverse: false) }

    /// `x * std + mean`.
    public func inverseTransform(_ x: Tensor) -> Tensor { apply(x, inverse: true) }

    public func callAsFunction(_ x: Tensor, generator: RandomGenerator) -> Tensor { transform(x) }

    /// The whole data set with its inputs standardised.
    public func transform(_ dataset: some Dataset) -> TensorDataset {
        let all = dataset.all()
        return TensorDataset(inputs: transform(all.input), targets: all.target)
    }

    private func apply(_ input: Tensor, inverse: Bool) -> Tensor {
        // Integer features are standardised into float32.
        let x = input.dtype.isFloatingPoint ? input : input.to(.float32)
        let f = featureCount
        require(x.rank >= 1 && x.shape[x.rank - 1] == f,
                "Standardizer: fitted on \(f) features, but the input has shape \(x.shape)")
        let m = mean.scalars(as: Double.self), s = std.scalars(as: Double.self)
        let out = Tensor(uninitializedShape: x.shape, dtype: x.dtype)
        func run<T: FloatElement>(_: T.Type) {
            let scale = (0..<f).map { T(inverse ? s[$0] : 1 / s[$0]) }
            let shift = (0..<f).map { T(m[$0]) }
            let src = x.storage.pointer(as: T.self), dst = out.storage.pointer(as: T.self)
            for r in 0..<(x.count / Swift.max(f, 1)) {
                let o = r * f
                for j in 0..<f {
                    dst[o + j] = inverse ? src[o + j] * scale[j] + shift[j] : (src[o + j] - shift[j]) * scale[j]
                }
            }
        }
        withExtendedLifetime(x) { x.dtype == .float64 ? run(Double.self) : run(Float.self) }
        return out
    }
}
