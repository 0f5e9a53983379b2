import Foundation
import MyelinCore

/// CIFAR-10 (Krizhevsky, 2009), from the "binary version" files: 50,000 training and
/// 10,000 test colour images of 32×32 pixels in 10 classes.
///
/// Samples are `(image [3, 32, 32] float32 in [0, 1], label int64 [])`, as torchvision's
/// `CIFAR10` with `ToTensor()`. The pixels are held as bytes (150 MB for the training
/// set) and converted per batch.
///
/// Files (`cifar-10-batches-bin/`): `data_batch_1.bin` … `data_batch_5.bin` (train),
/// `test_batch.bin` (test), each a run of 3073-byte records: 1 label byte, then 1024
/// red, 1024 green and 1024 blue bytes, each plane 32×32 row-major; class names one
/// per line in `batches.meta.txt`.
///
/// `root` is the folder holding `cifar-10-batches-bin/` (or that folder itself); when
/// nil, `$MYELIN_DATA`, `../shared/data` and the cache `~/.cache/myelin` are searched.
/// With `download`, a missing copy is fetched from `CIFAR10.url` into `root` (or the
/// cache), checked against its MD5 and unpacked.
public struct CIFAR10: Dataset {
    public enum Split: String, Sendable, CaseIterable { case train, test }

    public let split: Split
    /// Class names, by label ("airplane", "automobile", ...).
    public let classes: [String]
    /// The folder the files were read from.
    public let folder: URL
    let store: CIFARStore

    public static let folderName = "cifar-10-batches-bin"
    public static let url = URL(string: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz")!
    public static let md5 = "c32a1d4ab5d03f1284b67883e8d87530"

    public static func fileNames(_ split: Split) -> [String] {
        split == .train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
    }

    public init(root: URL? = nil, split: Split = .train, download: Bool = true) throws {
        let folder = try CIFARStore.locate(root: root, folderName: Self.folderName, required: Self.fileNames(split),
                                           download: download, url: Self.url, md5: Self.md5, dataset: "CIFAR-10")
        try self.init(folder: folder, split: split)
    }

    /// Reads `split` from the files in `folder` (the `cifar-10-batches-bin` folder itself).
    public init(folder: URL, split: Split) throws {
        self.split = split
        self.folder = folder
        store = try CIFARStore(folder: folder, files: Self.fileNames(split), labelBytes: 1, labelIndex: 0, classCount: 10,
                               dataset: "CIFAR-10")
        classes = try CIFARStore.names(folder.appendingPathComponent("batches.meta.txt"), count: 10)
    }

    /// Class name → label.
    public var classToIndex: [String: Int] { Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) }) }
    /// Every label, in file order.
    public var labels: [Int] { store.labels }
    public var count: Int { store.count }
    public subscript(index: Int) -> Example { store.example(index) }
    public func batch(_ indices: [Int]) -> Batch { store.batch(indices) }

    /// Fetches the archive into `root`, checks its MD5 and unpacks `cifar-10-batches-bin/`
    /// there. `url` may be a `file:` URL of a local copy of the archive.
    public static func download(to root: URL, from url: URL = CIFAR10.url, md5: String = CIFAR10.md5, timeout: TimeInterval = 60) throws {
        try CIFARStore.download(to: root, from: url, md5: md5, timeout: timeout)
    }
}

/// CIFAR-100: the same images format with 100 fine classes grouped in 20 coarse
/// superclasses; files `train.bin` and `test.bin` in `cifar-100-binary/`, records of
/// 3074 bytes (coarse label, fine label, then the 3072 pixel bytes as CIFAR-10);
/// names in `fine_label_names.txt` and `coarse_label_names.txt`. See `CIFAR10` for
/// where the files are looked for and downloading.
public struct CIFAR100: Dataset {
    public typealias Split = CIFAR10.Split
    public enum Labels: String, Sendable, CaseIterable { case fine, coarse }

    public let split: Split
    public let labelKind: Labels
    /// Class names of the chosen labels.
    public let classes: [String]
    public let folder: URL
    let store: CIFARStore

    public static let folderName = "cifar-100-binary"
    public static let url = URL(string: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz")!
    public static let md5 = "03b5dce01913d631647c71ecec9e9cb8"

    public static func fileNames(_ split: Split) -> [String] { [split == .train ? "train.bin" : "test.bin"] }

    public init(root: URL? = nil, split: Split = .train, labels: Labels = .fine, download: Bool = true) throws {
        let folder = try CIFARStore.locate(root: root, folderName: Self.folderName, required: Self.fileNames(split),
                                           download: download, url: Self.url, md5: Self.md5, dataset: "CIFAR-100")
        try self.init(folder: folder, split: split, labels: labels)
    }

    public init(folder: URL, split: Split, labels: Labels = .fine) throws {
        self.split = split
        self.folder = folder
        labelKind = labels
        let classCount = labels == .fine ? 100 : 20
        store = try CIFARStore(folder: folder, files: Self.fileNames(split), labelBytes: 2, labelIndex: labels == .fine ? 1 : 0,
                               classCount: classCount, dataset: "CIFAR-100")
        classes = try CIFARStore.names(folder.appendingPathComponent(labels == .fine ? "fine_label_names.txt" : "coarse_label_names.txt"),
                                       count: classCount)
    }

    public var classToIndex: [String: Int] { Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) }) }
    public var labels: [Int] { store.labels }
    public var count: Int { store.count }
    public subscript(index: Int) -> Example { store.example(index) }
    public func batch(_ indices: [Int]) -> Batch { store.batch(indices) }

    public static func download(to root: URL, from url: URL = CIFAR100.url, md5: String = CIFAR100.md5, timeout: TimeInterval = 60) throws {
        try CIFARStore.download(to: root, from: url, md5: md5, timeout: timeout)
    }
}

/// The records of one split: pixel bytes and labels.
struct CIFARStore: Sendable {
    static let pixelBytes = 3072
    let pixels: [UInt8]
    let labels: [Int]

    var count: Int { labels.count }

    init(folder: URL, files: [String], labelBytes: Int, labelIndex: Int, classCount: Int, dataset: String) throws {
        let record = labelBytes + Self.pixelBytes
        var pixels: [UInt8] = [], labels: [Int] = []
        for name in files {
            let url = folder.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw DataError(.notFound, file: url.path, "is missing or unreadable (a \(dataset) file)")
            }
            guard data.count % record == 0, !data.isEmpty else {
                throw DataError(.truncated, file: url.path,
                                "is \(data.count) bytes, not a positive multiple of the \(record)-byte \(dataset) record (\(labelBytes) label byte\(labelBytes > 1 ? "s" : "") + 3072 pixel bytes): the file is truncated or not \(dataset)")
            }
            let n = data.count / record
            pixels.reserveCapacity(pixels.count + n * Self.pixelBytes)
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                let b = raw.bindMemory(to: UInt8.self)
                for r in 0..<n {
                    let label = Int(b[r * record + labelIndex])
                    guard label < classCount else {
                        throw DataError(.corrupt, file: url.path, "record \(r) has the label \(label); \(dataset) labels are 0...\(classCount - 1)")
                    }
                    labels.append(label)
                    pixels.append(contentsOf: UnsafeBufferPointer(rebasing: b[(r * record + labelBytes)..<((r + 1) * record)]))
                }
            }
        }
        self.pixels = pixels
        self.labels = labels
    }

    func example(_ index: Int) -> Example {
        require(index >= 0 && index < count, "CIFAR: index \(index) is out of range for \(count) samples")
        let b = batch([index])
        return (b.input.reshaped([3, 32, 32]), b.target.reshaped([]))
    }

    func batch(_ indices: [Int]) -> Batch {
        var images = Tensor(uninitializedShape: [indices.count, 3, 32, 32], dtype: .float32)
        images.withUnsafeMutablePointer(as: Float.self) { dst in
            pixels.withUnsafeBufferPointer { src in
                for (j, i) in indices.enumerated() {
                    require(i >= 0 && i < count, "CIFAR: index \(i) is out of range for \(count) samples")
                    let s = i * Self.pixelBytes, d = j * Self.pixelBytes
                    for k in 0..<Self.pixelBytes { dst[d + k] = Float(src[s + k]) / 255 }
                }
            }
        }
        return (images, Tensor(indices.map { labels[$0] }))
    }

    /// Non-empty lines of a names file; there must be `count`.
    static func names(_ url: URL, count: Int) throws -> [String] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw DataError(.notFound, file: url.path, "is missing or unreadable (the class names)")
        }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == count else {
            throw DataError(.corrupt, file: url.path, "holds \(names.count) class names, expected \(count)")
        }
        return names
    }

    static func cacheFolder(_ env: [String: String]) -> URL {
        MNIST.cacheFolder(environment: env).deletingLastPathComponent()
    }

    /// The `folderName` folder holding `required`, searched as `CIFAR10` documents;
    /// downloaded into `root` (or the cache) when missing and allowed.
    static func locate(root: URL?, folderName: String, required: [String], download: Bool, url: URL, md5: String,
                       dataset: String) throws -> URL {
        let env = ProcessInfo.processInfo.environment
        let fm = FileManager.default
        var bases: [URL] = []
        if let root { bases = [root] } else {
            if let d = env["MYELIN_DATA"], !d.isEmpty { bases.append(URL(fileURLWithPath: d)) }
            bases.append(URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("../shared/data").standardizedFileURL)
            bases.append(cacheFolder(env))
        }
        let candidates = bases.flatMap { [$0.appendingPathComponent(folderName), $0] }
        if let found = candidates.first(where: { c in required.allSatisfy { fm.fileExists(atPath: c.appendingPathComponent($0).path) } }) {
            return found
        }
        let target = root ?? cacheFolder(env)
        guard download else {
            throw DataError(.notFound, file: dataset,
                            "\(required.joined(separator: ", ")) not found in any of: \(candidates.map(\.path).joined(separator: ", ")). Pass the folder holding \(folderName)/ as root, or allow the download")
        }
        try CIFARStore.download(to: target, from: url, md5: md5, timeout: 60)
        return target.appendingPathComponent(folderName)
    }

    static func download(to root: URL, from url: URL, md5: String, timeout: TimeInterval) throws {
        let name = url.lastPathComponent
        let data: Data
        do {
            data = try MNIST.fetch(url, timeout: timeout)
        } catch let why as MNIST.FetchFailure {
            throw DataError(.download, file: url.absoluteString,
                            "could not be downloaded (\(why.message)). Without internet, fetch \(name) elsewhere, unpack it and pass the folder as root")
        }
        let digest = MD5.hash(data).hex
        guard digest == md5 else {
            throw DataError(.checksumMismatch, file: name,
                            "the downloaded file's MD5 is \(digest), not the published \(md5): it is corrupt or not the canonical file; it was not kept")
        }
        let bytes = try Gzip.decompress([UInt8](data), name: name)
        try Tar.extract(Tar.entries(bytes, name: name), to: root, name: name)
    }
}
