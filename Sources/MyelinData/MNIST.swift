import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MyelinCore

/// The MNIST handwritten digits (LeCun, Cortes, Burges): 60,000 training and
/// 10,000 test images of 28×28 grey pixels, labels 0–9.
///
/// Samples are `(image [1, 28, 28] float32 in [0, 1], label int64 [])`; batches
/// are gathered by copying rows. The four canonical IDX files (gzip'd or not)
/// are looked for, in order:
/// 1. in `root`, when given (the `--data` folder): the folder itself or its `mnist/`;
/// 2. in `$MYELIN_DATA` (the folder itself or its `mnist/`);
/// 3. in `../shared/data/mnist` relative to the current directory;
/// 4. in the cache folder `~/.cache/myelin/mnist` (`$XDG_CACHE_HOME/myelin/mnist`);
/// 5. else, with `download`, they are fetched from the canonical mirrors into the
///    cache and checked against their published SHA-256 sums.
public struct MNIST: Dataset {
    public enum Split: String, Sendable, CaseIterable {
        case train, test
    }

    public let split: Split
    /// All images, float32 `[N, 1, 28, 28]`.
    public var images: Tensor { data.inputs }
    /// All labels, int64 `[N]`.
    public var labels: Tensor { data.targets }
    /// The folder the files were read from.
    public let folder: URL
    private let data: TensorDataset

    public static let classes = (0...9).map(String.init)

    /// Loads one split.
    /// - Parameters:
    ///   - root: a folder holding the files (or a `mnist/` folder holding them); when it
    ///     is given and the files are not there, this throws rather than looking elsewhere.
    ///   - scaled: pixels divided by 255 into [0, 1] (the default) or left as 0...255.
    ///   - download: fetch the files into the cache when they are nowhere to be found.
    public init(root: URL? = nil, split: Split = .train, scaled: Bool = true, download: Bool = true) throws {
        let folder = try Self.locate(root: root, split: split, download: download)
        try self.init(folder: folder, split: split, scaled: scaled)
    }

    /// Loads one split from the files in `folder` (no searching, no download).
    public init(folder: URL, split: Split, scaled: Bool = true) throws {
        let names = Self.fileNames(split)
        guard let imagesURL = Self.existingFile(names.images, in: folder),
              let labelsURL = Self.existingFile(names.labels, in: folder) else {
            throw DataError(.notFound, file: folder.path,
                            "holds no \(names.images)[.gz] and \(names.labels)[.gz] (the MNIST \(split) files)")
        }
        let images = try IDX.readImages(imagesURL, scaled: scaled)
        let labels = try IDX.readLabels(labelsURL)
        guard images.shape.count == 4, images.shape[1...] == [1, 28, 28] else {
            throw DataError(.corrupt, file: imagesURL.path, "holds images of shape \(images.shape), not [N, 1, 28, 28]: not MNIST")
        }
        guard images.shape[0] == labels.shape[0] else {
            throw DataError(.corrupt, file: labelsURL.path,
                            "holds \(labels.shape[0]) labels, but \(imagesURL.lastPathComponent) holds \(images.shape[0]) images")
        }
        if let bad = labels.integers().first(where: { $0 < 0 || $0 > 9 }) {
            throw DataError(.corrupt, file: labelsURL.path, "holds the label \(bad); MNIST labels are 0...9")
        }
        self.split = split
        self.folder = folder
        self.data = TensorDataset(inputs: images, targets: labels)
    }

    public var count: Int { data.count }
    public subscript(index: Int) -> Example { data[index] }
    public func batch(_ indices: [Int]) -> Batch { data.batch(indices) }

    // MARK: Files

    /// The canonical file names of a split (without `.gz`).
    public static func fileNames(_ split: Split) -> (images: String, labels: String) {
        switch split {
        case .train: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
        case .test: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
        }
    }

    /// SHA-256 of the canonical gzip'd files (as listed in shared/data/README.md).
    public static let sha256: [String: String] = [
        "train-images-idx3-ubyte.gz": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
        "train-labels-idx1-ubyte.gz": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
        "t10k-images-idx3-ubyte.gz": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
        "t10k-labels-idx1-ubyte.gz": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
    ]

    /// Where the canonical files are served, tried in order (torchvision's list).
    public static let mirrors: [URL] = [
        URL(string: "https://ossci-datasets.s3.amazonaws.com/mnist/")!,
        URL(string: "http://yann.lecun.com/exdb/mnist/")!,
    ]

    /// `$XDG_CACHE_HOME/myelin/mnist`, or `~/.cache/myelin/mnist`.
    public static func cacheFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("myelin").appendingPathComponent("mnist")
    }

    /// The folder holding `split`'s files, searched as the type's documentation
    /// says; nil when none does. `root` is searched alone when given.
    public static func find(
        root: URL?, split: Split = .train,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) -> URL? {
        candidates(root: root, environment: environment, currentDirectory: currentDirectory)
            .first { hasFiles(split, in: $0) }
    }

    /// Where `find` looks, in order.
    public static func candidates(
        root: URL?, environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) -> [URL] {
        func withSubfolder(_ u: URL) -> [URL] { [u, u.appendingPathComponent("mnist"), u.appendingPathComponent("MNIST/raw")] }
        if let root { return withSubfolder(root) }
        var out: [URL] = []
        if let env = environment["MYELIN_DATA"], !env.isEmpty { out += withSubfolder(URL(fileURLWithPath: env)) }
        out.append(currentDirectory.appendingPathComponent("../shared/data/mnist").standardizedFileURL)
        out.append(cacheFolder(environment: environment))
        return out
    }

    /// Finds the folder, downloading into the cache when allowed and needed.
    static func locate(root: URL?, split: Split, download: Bool) throws -> URL {
        let env = ProcessInfo.processInfo.environment
        if let found = find(root: root, split: split, environment: env) { return found }
        let names = fileNames(split)
        let wanted = "\(names.images)[.gz] and \(names.labels)[.gz]"
        if let root {
            throw DataError(.notFound, file: root.path,
                            "holds no MNIST \(split) files (\(wanted)), nor does its mnist/ folder; check the --data folder")
        }
        let searched = candidates(root: nil, environment: env).map(\.path).joined(separator: ", ")
        guard download else {
            throw DataError(.notFound, file: "MNIST",
                            "the \(split) files (\(wanted)) are not in any of: \(searched). Pass the folder that holds them with --data <folder> or set MYELIN_DATA")
        }
        let cache = cacheFolder(environment: env)
        do {
            try Self.download(split: split, to: cache)
        } catch let error as DataError {
            var e = error
            e.message += ". The files were not found locally either (looked in: \(searched))"
            throw e
        }
        return cache
    }

    static func hasFiles(_ split: Split, in folder: URL) -> Bool {
        let names = fileNames(split)
        return existingFile(names.images, in: folder) != nil && existingFile(names.labels, in: folder) != nil
    }

    /// `name.gz` or `name` in `folder`, whichever exists (gzip preferred: it is the canonical file).
    static func existingFile(_ name: String, in folder: URL) -> URL? {
        let fm = FileManager.default
        for candidate in [name + ".gz", name] {
            let u = folder.appendingPathComponent(candidate)
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: u.path, isDirectory: &isDir), !isDir.boolValue { return u }
        }
        return nil
    }

    // MARK: Download

    /// Fetches `split`'s two gzip'd files into `folder` from the first mirror that
    /// serves them, checks each against its SHA-256, and moves it into place only
    /// then (a failed or corrupt download leaves nothing behind). Mirrors may be
    /// `file:` URLs of a local copy. Without a network it fails at once, saying
    /// to pass `--data`.
    public static func download(split: Split, to folder: URL, mirrors: [URL] = MNIST.mirrors, timeout: TimeInterval = 30) throws {
        let names = fileNames(split)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw DataError(.download, file: folder.path, "cannot create the cache folder (\(error.localizedDescription))")
        }
        for name in [names.images + ".gz", names.labels + ".gz"] {
            let destination = folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: destination.path),
               (try? SHA256.hash(fileAt: destination).hex) == sha256[name] { continue }
            var failures: [String] = []
            var fetched: Data?
            for mirror in mirrors {
                let url = mirror.appendingPathComponent(name)
                do {
                    fetched = try fetch(url, timeout: timeout)
                    break
                } catch let why as FetchFailure {
                    failures.append("\(url.absoluteString): \(why.message)")
                    // No route to any host: the other mirrors will fail the same way.
                    if why.offline { break }
                }
            }
            guard let data = fetched else {
                throw DataError(.download, file: name,
                                "could not be downloaded (\(failures.joined(separator: "; "))). Without internet, pass the folder holding the MNIST files with --data <folder> or set MYELIN_DATA")
            }
            let digest = SHA256.hash(data).hex
            guard let expected = sha256[name] else {
                throw DataError(.download, file: name, "has no published SHA-256 to check it against")
            }
            guard digest == expected else {
                throw DataError(.checksumMismatch, file: name,
                                "the downloaded file's SHA-256 is \(digest), not the published \(expected): it is corrupt or not the canonical file; it was not kept")
            }
            let temporary = folder.appendingPathComponent(".\(name).\(ProcessInfo.processInfo.processIdentifier).part")
            do {
                try data.write(to: temporary)
                _ = try? FileManager.default.removeItem(at: destination)
                try FileManager.default.moveItem(at: temporary, to: destination)
            } catch {
                try? FileManager.default.removeItem(at: temporary)
                throw DataError(.download, file: destination.path, "cannot be written (\(error.localizedDescription))")
            }
        }
    }

    struct FetchFailure: Error {
        let message: String
        /// The network is unreachable (as opposed to one server answering badly).
        let offline: Bool
    }

    /// The bytes at `url`: a local read for `file:` URLs, else one HTTP GET.
    static func fetch(_ url: URL, timeout: TimeInterval) throws -> Data {
        if url.isFileURL {
            do { return try Data(contentsOf: url) } catch {
                throw FetchFailure(message: "cannot read it (\(error.localizedDescription))", offline: false)
            }
        }
        final class Result: @unchecked Sendable {
            let lock = NSLock()
            var value: Swift.Result<Data, FetchFailure> = .failure(FetchFailure(message: "no answer", offline: false))
        }
        let result = Result()
        let done = DispatchSemaphore(value: 0)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        config.timeoutIntervalForResource = timeout * 20
        let session = URLSession(configuration: config)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: url) { data, response, error in
            let outcome: Swift.Result<Data, FetchFailure>
            if let error {
                let code = (error as? URLError)?.code
                let offline = code == .notConnectedToInternet
                outcome = .failure(FetchFailure(message: error.localizedDescription, offline: offline))
            } else if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                outcome = .failure(FetchFailure(message: "HTTP status \(http.statusCode)", offline: false))
            } else if let data {
                outcome = .success(data)
            } else {
                outcome = .failure(FetchFailure(message: "empty response", offline: false))
            }
            result.lock.lock()
            result.value = outcome
            result.lock.unlock()
            done.signal()
        }
        task.resume()
        done.wait()
        result.lock.lock()
        defer { result.lock.unlock() }
        return try result.value.get()
    }
}
