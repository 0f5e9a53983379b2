import Foundation
import Myelin

/// Paths and scratch folders for the data tests.
enum TestData {
    /// The repository root, from this file's path (Tests/MyelinDataTests/TestSupport.swift).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// ../shared/data next to the repository (CI and the development machines have it).
    static let shared = repoRoot.appendingPathComponent("../shared/data").standardizedFileURL

    static let mnistFolder = shared.appendingPathComponent("mnist")

    static var hasMNIST: Bool {
        FileManager.default.fileExists(atPath: mnistFolder.appendingPathComponent("train-images-idx3-ubyte.gz").path)
    }

    static func tabular(_ name: String) -> URL { shared.appendingPathComponent("tabular/\(name)") }

    static func hasTabular(_ name: String) -> Bool { FileManager.default.fileExists(atPath: tabular(name).path) }

    /// Both MNIST splits, loaded once for all tests.
    static let mnistTrain: MNIST? = try? MNIST(folder: mnistFolder, split: .train)
    static let mnistTest: MNIST? = try? MNIST(folder: mnistFolder, split: .test)

    /// A fresh empty folder under the system's temporary directory.
    static func scratchFolder(_ label: String = #function) throws -> URL {
        let safe = label.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("myelin-data-tests-\(safe)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Whether two file URLs name the same place (ignoring `..` and a trailing slash).
    static func samePath(_ a: URL?, _ b: URL) -> Bool {
        func norm(_ u: URL) -> String {
            let p = u.standardizedFileURL.path
            return p.count > 1 && p.hasSuffix("/") ? String(p.dropLast()) : p
        }
        guard let a else { return false }
        return norm(a) == norm(b)
    }

    /// The error a throwing expression threw, as a `DataError` (nil when it did not throw one).
    static func dataError<T>(_ body: () throws -> T) -> DataError? {
        do { _ = try body(); return nil } catch let e as DataError { return e } catch { return nil }
    }
}
