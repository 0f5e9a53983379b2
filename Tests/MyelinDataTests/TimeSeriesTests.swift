import Foundation
import Myelin
import Testing

@Suite("Time series")
struct TimeSeriesTests {
    // MARK: Loading

    @Test func loadsAColumnWithTimeLabels() throws {
        let table = try CSVTable(string: "month,passengers\n1949-01,112\n1949-02,118\n1949-03,132\n", name: "air.csv")
        let s = try TimeSeries(table: table)
        #expect(s.name == "passengers")
        #expect(s.values == [112, 118, 132])
        #expect(s.labels == ["1949-01", "1949-02", "1949-03"])
        #expect(s.missingCount == 0)
        let byName = try TimeSeries(table: table, column: "passengers", timeColumn: "month")
        #expect(byName.values == s.values)
    }

    @Test func interpolatesInnerGapsAndDropsEndGaps() throws {
        let csv = "t,v\n1,\n2,10\n3,NA\n4,\n5,16\n6,nan\n"
        let s = try TimeSeries(table: CSVTable(string: csv, name: "gaps.csv"), gaps: .interpolate)
        // 3 and 4 lie a third and two thirds of the way from 10 to 16; rows 1 and 6 have no neighbour on one side.
        #expect(s.values == [10, 12, 14, 16])
        #expect(s.labels == ["2", "3", "4", "5"])
        #expect(s.missingCount == 4 && s.interpolatedCount == 2)

        let dropped = try TimeSeries(table: CSVTable(string: csv, name: "gaps.csv"), gaps: .drop)
        #expect(dropped.values == [10, 16])
        #expect(dropped.labels == ["2", "5"])

        let e = TestData.dataError { try TimeSeries(table: CSVTable(string: csv, name: "gaps.csv"), gaps: .error) }
        #expect(e?.kind == .missingValue)
        #expect(e?.line == 2)
        #expect(e?.description.contains("gaps.csv") == true)
    }

    @Test func missingColumnIsAClearError() throws {
        let e = TestData.dataError { try TimeSeries(table: CSVTable(string: "t,v\n1,2\n", name: "s.csv"), column: "value") }
        #expect(e?.kind == .invalidArgument)
        #expect(e?.description == "s.csv: has no column \"value\" (columns: t, v)")
    }

    @Test func nonNumericValueIsAClearError() throws {
        let e = TestData.dataError { try TimeSeries(table: CSVTable(string: "t,v\n1,2\n2,abc\n", name: "s.csv")) }
        #expect(e?.kind == .parse)
        #expect(e?.line == 3)
        #expect(e?.column == "\"v\" (column 2)")
        #expect(e?.message.contains("\"abc\" is not a finite number") == true)
        let missingFile = TestData.dataError { try TimeSeries(contentsOf: URL(fileURLWithPath: "/nonexistent/series.csv")) }
        #expect(missingFile?.kind == .notFound)
    }

    @Test func co2HasGapsThatAreFilled() throws {
        let url = TestData.shared.appendingPathComponent("timeseries/co2.csv")
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let s = try TimeSeries(contentsOf: url)
        #expect(s.missingCount > 0)
        let finite = s.values.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(s.values.count == s.labels.count)
    }

    // MARK: Splitting

    @Test func splitIsInTimeOrder() {
        let s = TimeSplit(count: 100, validation: 10, test: 20)
        #expect(s.train == 0..<70 && s.validation == 70..<80 && s.test == 80..<100)
        let f = TimeSplit(count: 144, validationSize: 0.1, testSize: 24)
        #expect(f.test == 120..<144 && f.validation == 106..<120 && f.train == 0..<106)
        #expect(f.train.upperBound == f.validation.lowerBound && f.validation.upperBound == f.test.lowerBound)
    }

    // MARK: Scaling

    @Test func scalerIsFittedOnTheTrainingPartOnly() throws {
        let values: [Double] = [1, 2, 3, 100, 200]
        let split = TimeSplit(count: 5, validation: 0, test: 2)
        let standard = try SeriesScaler(.standard, fitting: values[split.train])
        // Mean 2 and population std √(2/3) of 1, 2, 3: the test values 100 and 200 play no part.
        #expect(standard.shift == 2)
        #expect(abs(standard.scale - (2.0 / 3).squareRoot()) < 1e-15)
        let z = try standard.transform(values)
        #expect(abs(z[0] + 1.0 / (2.0 / 3).squareRoot()) < 1e-12)
        let back = standard.inverse(z)
        #expect(zip(back, values).allSatisfy { abs($0 - $1) < 1e-12 })

        let minMax = try SeriesScaler(.minMax, fitting: values[split.train])
        #expect(try minMax.transform(values) == [0, 0.5, 1, 49.5, 99.5])

        let logged = try SeriesScaler(.none, log: true, fitting: [1, M_E])
        #expect(abs(try logged.transform([M_E * M_E])[0] - 2) < 1e-12)
        #expect(abs(logged.inverse([1])[0] - M_E) < 1e-12)
        #expect(throws: (any Error).self) { try logged.transform([0]) }
        #expect(throws: (any Error).self) { try SeriesScaler(.standard, log: true, fitting: [1, -1]) }
    }

    // MARK: Windowing

    @Test func windowsShapesAndContents() {
        let series = (0..<10).map(Double.init)
        let w = SeriesWindows(series: series, lags: 3, horizon: 2)
        // Origins 3 ... 8: input t−3..<t, target t..<t+2.
        #expect(w.count == 6)
        #expect(w.origins == [3, 4, 5, 6, 7, 8])
        #expect(w.inputs.shape == [6, 3] && w.targets.shape == [6, 2])
        #expect(w.inputs.dtype == .float32)
        let (x, y) = w[0]
        #expect(x.scalars(as: Double.self) == [0, 1, 2])
        #expect(y.scalars(as: Double.self) == [3, 4])
        #expect(w[5].input.scalars(as: Double.self) == [5, 6, 7])
        #expect(w[5].target.scalars(as: Double.self) == [8, 9])
        let b = w.batch([1, 4])
        #expect(b.input.scalars(as: Double.self) == [1, 2, 3, 4, 5, 6])
        #expect(b.target.scalars(as: Double.self) == [4, 5, 7, 8])
    }

    @Test func windowsKeepTargetsInTheirPart() {
        let series = (0..<20).map(Double.init)
        let split = TimeSplit(count: 20, validation: 4, test: 4)
        let test = SeriesWindows(series: series, lags: 5, horizon: 2, targets: split.test)
        // Targets inside 16..<20; inputs reach back into validation.
        #expect(test.origins == [16, 17, 18])
        #expect(test[0].input.scalars(as: Double.self) == [11, 12, 13, 14, 15])
        let train = SeriesWindows(series: series, lags: 5, horizon: 2, targets: split.train, dtype: .float64)
        #expect(train.origins.last == 10)  // target 10, 11: the last that stays in 0..<12
        #expect(train.targets.dtype == .float64)
        #expect(SeriesWindows(series: series, lags: 5, horizon: 6, targets: 14..<18).count == 0)
    }
}
