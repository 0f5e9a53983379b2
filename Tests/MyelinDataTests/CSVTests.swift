import Foundation
import Testing
import Myelin

@Suite struct CSVTests {
    /// A small table in the shape of the lectures' Corona example.
    static let corona = """
        Age,Gender,Province,Temperature,Infected\r
        34,female,Ontario,37.2,no\r
        61,male,Quebec,39.1,yes\r
        "45",male,"British Columbia",38.0,yes\r
        29,female,Ontario,36.8,no\r
        52,female,Quebec,38.4,yes\r

        """

    @Test func quotesCommasNewlinesAndCRLF() throws {
        let t = try CSVTable(string: "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",3\r\n\"two\nlines\",,5\n\nlast,\"\",7", name: "q.csv")
        #expect(t.header == ["a", "b", "c"])
        #expect(t.count == 3)
        #expect(t.rows[0] == ["x, y", "say \"hi\"", "3"])
        #expect(t.rows[1] == ["two\nlines", "", "5"])
        #expect(t.rows[2] == ["last", "", "7"])
        #expect(t.lineNumbers == [2, 3, 6])
    }

    @Test func byteOrderMarkAndOtherDelimiters() throws {
        let t = try CSVTable(string: "\u{FEFF}x;y\n1;2\n", delimiter: ";")
        #expect(t.header == ["x", "y"])
        #expect(t.rows == [["1", "2"]])
    }

    @Test func parseErrorsNameFileLineAndColumn() {
        let short = TestData.dataError { try CSVTable(string: "a,b,c\n1,2,3\n4,5\n", name: "s.csv") }
        #expect(short?.kind == .parse)
        #expect(short?.line == 3)
        #expect(short?.description.hasPrefix("s.csv, line 3: has 2 fields, but the header has 3") == true)
        let open = TestData.dataError { try CSVTable(string: "a,b\n1,\"oops\n2,3\n", name: "o.csv") }
        #expect(open?.line == 2)
        #expect(open?.description.contains("never closed") == true)
        let after = TestData.dataError { try CSVTable(string: "a,b\n\"x\"y,2\n") }
        #expect(after?.line == 2 && after?.column == "1")
        let dup = TestData.dataError { try CSVTable(string: "a,b,a\n1,2,3\n") }
        #expect(dup?.description.contains("\"a\" (column 3)") == true)
        #expect(TestData.dataError { try CSVTable(string: "") }?.kind == .parse)
    }

    @Test func categoricalColumnsOneHotAndIndex() throws {
        let table = try CSVTable(string: Self.corona, name: "corona.csv")
        let enc = try TabularEncoder(fitting: table, target: "Infected")
        #expect(enc.featureNames == ["Age", "Gender=female", "Gender=male",
                                     "Province=British Columbia", "Province=Ontario", "Province=Quebec", "Temperature"])
        #expect(enc.classes == ["no", "yes"])
        #expect(enc.numericFeatureIndices == [0, 6])
        let (x, y) = try enc.encode(table)
        #expect(x.shape == [5, 7])
        #expect(x.scalars(as: Float.self).prefix(7) == [34, 1, 0, 0, 1, 0, 37.2])
        #expect(x.scalars(as: Float.self)[14..<21] == [45, 0, 1, 1, 0, 0, 38.0])
        #expect(y?.dtype == .int64)
        #expect(y?.integers() == [0, 1, 1, 0, 1])

        let byIndex = try TabularEncoder(fitting: table, target: "Infected", encodings: ["Province": .index, "Gender": .index],
                                         categories: ["Infected": ["yes", "no"]])
        #expect(byIndex.featureNames == ["Age", "Gender", "Province", "Temperature"])
        let (xi, yi) = try byIndex.encode(table)
        #expect(xi.scalars(as: Float.self).prefix(4) == [34, 0, 1, 37.2])
        #expect(yi?.integers() == [1, 0, 0, 1, 0])

        let oneHotTarget = try TabularEncoder(fitting: table, target: "Infected", encodings: ["Infected": .oneHot])
        #expect(try oneHotTarget.encode(table).target?.shape == [5, 2])
        let regression = try TabularEncoder(fitting: table, target: "Temperature", ignore: ["Province"])
        let (xr, yr) = try regression.encode(table)
        #expect(regression.featureNames == ["Age", "Gender=female", "Gender=male", "Infected=no", "Infected=yes"])
        #expect(xr.shape == [5, 5])
        #expect(yr?.shape == [5, 1])
        #expect(yr?.dtype == .float32)
    }

    @Test func encoderFittedOnTrainEncodesTestAlikeAndRejectsUnseenCategories() throws {
        let train = try CSVTable(string: Self.corona, name: "train.csv")
        let test = try CSVTable(string: "Age,Gender,Province,Temperature,Infected\n40,male,Ontario,37,no\n33,female,Yukon,37,no\n", name: "test.csv")
        let enc = try TabularEncoder(fitting: train, target: "Infected")
        let e = TestData.dataError { try enc.encode(test) }
        #expect(e?.kind == .invalidArgument)
        #expect(e?.description.hasPrefix("test.csv, line 3, column \"Province\" (column 3): category \"Yukon\" was not seen") == true)
        let (x, _) = try enc.encode(test.rows([0]))
        #expect(x.scalars(as: Float.self) == [40, 0, 1, 0, 1, 0, 37])
    }

    @Test func missingValuesAreReportedByLineAndColumn() throws {
        let text = "Age,Gender,Infected\n34,female,no\nNA,male,yes\n51,,no\n"
        let t = try CSVTable(string: text, name: "m.csv")
        let e = TestData.dataError { try t.dataset(target: "Infected") }
        #expect(e?.kind == .missingValue)
        #expect(e?.line == 3)
        #expect(e?.column == "\"Age\" (column 1)")
        #expect(e?.description.contains("m.csv, line 3") == true)
        let (d, _) = try t.dataset(target: "Infected", missingValues: .dropRow)
        #expect(d.count == 1)
        let notNumber = TestData.dataError {
            try TabularEncoder(fitting: CSVTable(string: "a,b\n1,x\n2,y\n", name: "n.csv"), target: nil, encodings: ["b": .numeric])
        }
        #expect(notNumber?.line == 2)
        #expect(notNumber?.description.contains("\"x\" is not a number") == true)
        let unknown = TestData.dataError { try t.dataset(target: "Nope") }
        #expect(unknown?.description.contains("no column \"Nope\"") == true)
    }

    // MARK: Standardizer

    @Test func standardizerFitsOnTrainOnly() throws {
        let train = Tensor([1, 10, 3, 20, 5, 30] as [Double], shape: [3, 2])
        let s = Standardizer(fitting: train)
        #expect(s.mean.scalars(as: Double.self) == [3, 20])
        let sd = (8.0 / 3).squareRoot()
        #expect(abs(s.std.scalars(as: Double.self)[0] - sd) < 1e-12)
        let z = s.transform(train)
        #expect(abs(z.scalars(as: Double.self)[0] + 2 / sd) < 1e-6)
        // Validation data use the training statistics, not their own.
        let val = Tensor([3, 20, 3, 20] as [Double], shape: [2, 2])
        #expect(s.transform(val).scalars(as: Double.self) == [0, 0, 0, 0])
        #expect(Standardizer(fitting: val).std.scalars(as: Double.self) == [1, 1])  // constant columns get std 1
        let back = s.inverseTransform(z).scalars(as: Double.self)
        for (a, b) in zip(back, train.scalars(as: Double.self)) { #expect(abs(a - b) < 1e-5) }
        // Only some columns.
        let partial = Standardizer(fitting: train, columns: [1])
        #expect(partial.transform(train).scalars(as: Double.self)[0] == 1)
    }

    @Test func standardizerStateRoundTrips() throws {
        let s = Standardizer(fitting: Tensor([1, 2, 3, 4, 5, 9] as [Float], shape: [3, 2]))
        let saved = s.tensors()
        #expect(saved.keys.sorted() == ["standardizer.mean", "standardizer.std"])
        let r = try Standardizer(tensors: saved)
        let x = Tensor([7, 8], shape: [2])
        #expect(r.transform(x).scalars(as: Float.self) == s.transform(x).scalars(as: Float.self))
        #expect(throws: TensorError.self) { try Standardizer(tensors: [:]) }
        #expect(throws: TensorError.self) { try Standardizer(mean: Tensor([0, 0]), std: Tensor([1, 0])) }
    }

    /// The whole tabular workflow: split, fit the scaler on the training part only, load.
    @Test func tabularWorkflowStandardizesWithTrainingStatistics() throws {
        let table = try CSVTable(string: Self.corona)
        let (data, encoder) = try table.dataset(target: "Infected")
        let (train, val) = trainValidationSplit(data, validationFraction: 0.4, seed: 1)
        let scaler = Standardizer(fitting: train.all().input, columns: encoder.numericFeatureIndices)
        let trainZ = scaler.transform(train)
        // Training features have mean 0 in the standardised columns; one-hot columns are unchanged.
        let z = trainZ.inputs.scalars(as: Float.self)
        let ageMean = (0..<trainZ.count).map { Double(z[$0 * 7]) }.reduce(0, +) / Double(trainZ.count)
        #expect(abs(ageMean) < 1e-5)
        #expect(Set((0..<trainZ.count).map { z[$0 * 7 + 1] }).isSubset(of: [0, 1]))
        let loader = DataLoader(val, batchSize: 2, transform: scaler)
        let first = try #require(Array(loader).first)
        #expect(first.input.shape == [2, 7])
        #expect(first.input.scalars(as: Float.self) == scaler.transform(val.batch([0, 1]).input).scalars(as: Float.self))
    }

    // MARK: Real files

    @Test(.enabled(if: TestData.hasTabular("iris.csv"), "needs ../shared/data/tabular"))
    func iris() throws {
        let table = try CSVTable(contentsOf: TestData.tabular("iris.csv"))
        #expect(table.count == 150)
        let (data, encoder) = try table.dataset(target: "label")
        #expect(encoder.classes == ["setosa", "versicolor", "virginica"])
        #expect(encoder.featureNames == ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"])
        #expect(data.inputs.shape == [150, 4])
        #expect(data.inputs.scalars(as: Float.self).prefix(4) == [5.1, 3.5, 1.4, 0.2])
        let counts = data.targets.integers().reduce(into: [0, 0, 0]) { $0[$1] += 1 }
        #expect(counts == [50, 50, 50])
    }

    @Test(.enabled(if: TestData.hasTabular("breast_cancer.csv"), "needs ../shared/data/tabular"))
    func breastCancer() throws {
        let table = try CSVTable(contentsOf: TestData.tabular("breast_cancer.csv"))
        let (data, encoder) = try table.dataset(target: table.header.last ?? "", categories: [table.header.last ?? "": ["malignant", "benign"]])
        #expect(data.inputs.shape == [569, 30])
        #expect(encoder.classes == ["malignant", "benign"])
        // scikit-learn's counts: 212 malignant (0), 357 benign (1).
        let y = data.targets.integers()
        #expect(y.filter { $0 == 0 }.count == 212)
        #expect(y.filter { $0 == 1 }.count == 357)
        #expect(data.inputs.scalars(as: Float.self)[0] == 17.99)
        let (train, test) = trainValidationSplit(data, validationFraction: 0.2, seed: 0)
        let scaler = Standardizer(fitting: train.all().input)
        let z = scaler.transform(test).inputs
        #expect(z.shape == [114, 30])
        // Test features standardised with training statistics: near, not exactly, mean 0.
        let v = z.scalars(as: Double.self)
        let m0 = (0..<114).map { v[$0 * 30] }.reduce(0, +) / 114
        #expect(abs(m0) < 0.5)
    }
}
