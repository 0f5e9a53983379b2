import ArgumentParser
import Foundation
import Myelin

/// A one-line error for the user: what is wrong, never a stack trace.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `--dataset mnist | digits | cifar10 | cifar100 | folder:PATH | csv:PATH[:TARGET]`.
enum DatasetChoice: ExpressibleByArgument, CustomStringConvertible {
    case mnist
    case digits
    case cifar10
    case cifar100
    /// Images in one folder per class (torchvision's ImageFolder), split into PATH/train and
    /// PATH/test when those exist.
    case folder(path: String)
    case csv(path: String, target: String?)

    init?(argument: String) {
        switch argument.lowercased() {
        case "mnist": self = .mnist
        case "digits": self = .digits
        case "cifar10", "cifar-10": self = .cifar10
        case "cifar100", "cifar-100": self = .cifar100
        case let a where a.hasPrefix("folder:"):
            let path = String(argument.dropFirst(7))
            guard !path.isEmpty else { return nil }
            self = .folder(path: path)
        default:
            guard argument.lowercased().hasPrefix("csv:") else { return nil }
            let rest = String(argument.dropFirst(4))
            // The target follows the last ':' unless that leaves a path ending in ".csv"-less text with a slash.
            if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
                let path = String(rest[..<colon]), target = String(rest[rest.index(after: colon)...])
                guard !path.isEmpty else { return nil }
                self = .csv(path: path, target: target.isEmpty ? nil : target)
            } else {
                guard !rest.isEmpty else { return nil }
                self = .csv(path: rest, target: nil)
            }
        }
    }

    var description: String {
        switch self {
        case .mnist: "mnist"
        case .digits: "digits"
        case .cifar10: "cifar10"
        case .cifar100: "cifar100"
        case let .folder(path): "folder:\(path)"
        case let .csv(path, target): "csv:\(path)" + (target.map { ":\($0)" } ?? "")
        }
    }

    static var allValueStrings: [String] { ["mnist", "digits", "cifar10", "cifar100", "folder:PATH", "csv:PATH[:TARGET]"] }
}

/// How a CSV file's rows become features, saved with the model so `evaluate` and
/// `predict` encode new rows exactly as training did.
struct CSVPreprocessing: Codable {
    struct Column: Codable { var name: String; var encoding: String; var categories: [String] }
    var features: [Column]
    var target: String
    var mean: [Float]
    var std: [Float]

    static func encodingName(_ e: ColumnEncoding) -> String {
        switch e {
        case .numeric: "numeric"
        case .oneHot: "onehot"
        case .index: "index"
        case .ignore: "ignore"
        }
    }
    static func encoding(_ s: String) -> ColumnEncoding {
        switch s {
        case "onehot": .oneHot
        case "index": .index
        case "ignore": .ignore
        default: .numeric
        }
    }

    var standardizer: Standardizer {
        get throws { try Standardizer(mean: Tensor(mean), std: Tensor(std)) }
    }

    /// Encodes the feature columns of `table` (in any column order; other columns ignored).
    func encodeFeatures(_ table: CSVTable) throws -> Tensor {
        var indices: [Int] = []
        for c in features {
            guard let i = table.header.firstIndex(of: c.name) else {
                throw CLIError("\(table.name) has no column \"\(c.name)\" (the model was trained on: \(features.map(\.name).joined(separator: ", ")))")
            }
            indices.append(i)
        }
        let reordered = try CSVTable(header: features.map(\.name), rows: table.rows.map { r in indices.map { r[$0] } },
                                     lineNumbers: table.lineNumbers, name: table.name)
        var encodings: [String: ColumnEncoding] = [:], categories: [String: [String]] = [:]
        for c in features {
            encodings[c.name] = Self.encoding(c.encoding)
            if !c.categories.isEmpty { categories[c.name] = c.categories }
        }
        let encoder = try TabularEncoder(fitting: reordered, target: nil, encodings: encodings, categories: categories)
        let (x, _) = try encoder.encode(reordered)
        return try standardizer.transform(x)
    }
}

/// A data set ready for training and testing a classifier.
struct LoadedData {
    var name: String
    /// The part to train on (a validation split is taken from it).
    var train: any Dataset
    /// Held-out test samples.
    var test: any Dataset
    /// One sample's input shape.
    var sampleShape: [Int]
    var classNames: [String]
    var csv: CSVPreprocessing?
    var classes: Int { classNames.count }
}

enum DataSources {
    /// The seed of the fixed test split of data sets without one (digits, CSV), so
    /// `train` and `evaluate` hold out the same rows whatever `--seed` is.
    static let testSplitSeed: UInt64 = 20_240_601
    static let testFraction = 0.2

    /// The data set, with its images resized to `resize` ([H, W], bilinear) when given.
    static func load(_ choice: DatasetChoice, dataDir: String?, csvPreprocessing: CSVPreprocessing? = nil,
                     resize: [Int]? = nil) throws -> LoadedData {
        let data = try load(choice, dataDir: dataDir, csvPreprocessing: csvPreprocessing, folderSize: resize)
        guard let resize, resize.count == 2 else { return data }
        guard data.sampleShape.count == 3 else {
            throw CLIError("--resize applies to images, but \(data.name) has samples of shape \(data.sampleShape)")
        }
        if Array(data.sampleShape.suffix(2)) == resize { return data }
        func resized(_ set: any Dataset) -> any Dataset {
            let all = set.all()
            let x = upsample2d(all.input, size: IntPair(resize[0], resize[1]), mode: .bilinear)
            return TensorDataset(inputs: x, targets: all.target)
        }
        var out = data
        out.train = resized(data.train)
        out.test = resized(data.test)
        out.sampleShape = [data.sampleShape[0]] + resize
        out.name += " resized to \(resize[0])×\(resize[1])"
        return out
    }

    static func load(_ choice: DatasetChoice, dataDir: String?, csvPreprocessing: CSVPreprocessing?,
                     folderSize: [Int]?) throws -> LoadedData {
        switch choice {
        case .cifar10, .cifar100:
            // Looked up in --data, MYELIN_DATA and the cache; downloaded (MD5-checked) where there is internet.
            let root = dataDir.map { URL(fileURLWithPath: $0) }
            if choice.description == "cifar10" {
                let train = try CIFAR10(root: root, split: .train), test = try CIFAR10(root: root, split: .test)
                return LoadedData(name: "CIFAR-10 (\(train.folder.path))", train: train, test: test, sampleShape: [3, 32, 32],
                                  classNames: train.classes)
            }
            let train = try CIFAR100(root: root, split: .train), test = try CIFAR100(root: root, split: .test)
            return LoadedData(name: "CIFAR-100 (\(train.folder.path))", train: train, test: test, sampleShape: [3, 32, 32],
                              classNames: train.classes)
        case let .folder(path):
            let root = URL(fileURLWithPath: path)
            // Photos come in many sizes and a batch needs one: the size is asked for up front.
            guard let folderSize, folderSize.count == 2 else {
                throw CLIError("folder:\(path) needs --resize HxW (e.g. --resize 64x64): the images of a batch must share a size")
            }
            let size = (height: folderSize[0], width: folderSize[1])
            let fm = FileManager.default
            let train: any Dataset, test: any Dataset, classes: [String], first: Tensor
            if fm.fileExists(atPath: root.appendingPathComponent("train").path) && fm.fileExists(atPath: root.appendingPathComponent("test").path) {
                let tr = try ImageFolder(root: root.appendingPathComponent("train"), size: size)
                let te = try ImageFolder(root: root.appendingPathComponent("test"), size: size)
                guard tr.classes == te.classes else {
                    throw CLIError("\(path): train/ has classes \(tr.classes) but test/ has \(te.classes)")
                }
                try tr.validate()
                try te.validate()
                (train, test, classes) = (tr, te, tr.classes)
                first = tr[0].input
            } else {
                let all = try ImageFolder(root: root, size: size)
                try all.validate()
                (train, test) = trainValidationSplit(all, validationFraction: testFraction, seed: testSplitSeed)
                classes = all.classes
                first = all[0].input
            }
            guard classes.count >= 2 else { throw CLIError("\(path): a classifier needs at least 2 class folders, found \(classes)") }
            return LoadedData(name: "\(root.lastPathComponent) (\(classes.count) classes)", train: train, test: test,
                              sampleShape: first.shape, classNames: classes)
        case .mnist:
            let root = dataDir.map { URL(fileURLWithPath: $0) }
            if let root, !FileManager.default.fileExists(atPath: root.path) {
                throw CLIError("--data \(root.path): no such folder")
            }
            let train = try MNIST(root: root, split: .train, download: false)
            let test = try MNIST(root: root, split: .test, download: false)
            return LoadedData(name: "MNIST (\(train.folder.path))", train: train, test: test, sampleShape: [1, 28, 28],
                              classNames: MNIST.classes)
        case .digits:
            let (images, labels) = try embeddedDigits()
            let all = TensorDataset(inputs: images, targets: labels)
            let (train, test) = trainValidationSplit(all, validationFraction: testFraction, seed: testSplitSeed)
            return LoadedData(name: "UCI digits (embedded, 8×8)", train: train, test: test, sampleShape: [1, 8, 8],
                              classNames: (0...9).map(String.init))
        case let .csv(path, target):
            let url = URL(fileURLWithPath: path)
            guard FileManager.default.fileExists(atPath: url.path) else { throw CLIError("\(path): no such file") }
            let table = try CSVTable(contentsOf: url)
            guard let targetName = target ?? table.header.last else { throw CLIError("\(path) has no columns") }
            _ = try table.columnIndex(targetName)
            // The test rows are fixed by their own seed; the encoder and standardisation are fitted on the rest.
            let order = RandomGenerator(seed: testSplitSeed).permutation(table.count)
            let nTest = Int((Double(table.count) * testFraction).rounded())
            let testRows = Array(order[..<nTest]), trainRows = Array(order[nTest...])
            let trainTable = table.rows(trainRows)
            let encoder = try TabularEncoder(fitting: table, target: targetName, encodings: [targetName: .index])
            let (xAll, yAll) = try encoder.encode(table)
            guard let yAll else { throw CLIError("\(path): no target column \(targetName)") }
            let classNames = encoder.classes ?? []
            guard classNames.count >= 2 else {
                throw CLIError("\(path): the target column \"\(targetName)\" has \(classNames.count) class(es); a classifier needs at least 2")
            }
            _ = trainTable
            let trainIdx = Tensor(trainRows), testIdx = Tensor(testRows)
            let xTrain = xAll.indexSelect(axis: 0, indices: trainIdx)
            let standardizer: Standardizer
            if let pre = csvPreprocessing { standardizer = try pre.standardizer } else { standardizer = Standardizer(fitting: xTrain) }
            let pre = CSVPreprocessing(
                features: encoder.features.map { .init(name: $0.name, encoding: CSVPreprocessing.encodingName($0.encoding), categories: $0.categories) },
                target: targetName, mean: standardizer.mean.scalars(as: Float.self), std: standardizer.std.scalars(as: Float.self))
            let x = standardizer.transform(xAll)
            let train = TensorDataset(inputs: x.indexSelect(axis: 0, indices: trainIdx), targets: yAll.indexSelect(axis: 0, indices: trainIdx))
            let test = TensorDataset(inputs: x.indexSelect(axis: 0, indices: testIdx), targets: yAll.indexSelect(axis: 0, indices: testIdx))
            return LoadedData(name: "\(url.lastPathComponent) (target \(targetName))", train: train, test: test,
                              sampleShape: [x.shape[1]], classNames: classNames, csv: pre)
        }
    }

    /// The UCI digits embedded in the executable: images [1797, 1, 8, 8] in [0, 1], labels int64.
    static func embeddedDigits() throws -> (Tensor, Tensor) {
        guard let url = Bundle.module.url(forResource: "digits", withExtension: "csv") else {
            throw CLIError("the digits.csv resource is missing from the build")
        }
        let table = try CSVTable(contentsOf: url)
        let encoder = try TabularEncoder(fitting: table, target: "label", encodings: ["label": .index],
                                         categories: ["label": (0...9).map(String.init)])
        let (features, target) = try encoder.encode(table)
        guard let labels = target else { throw CLIError("digits.csv has no label column") }
        return ((features / 16).reshaped([-1, 1, 8, 8]), labels)
    }
}
