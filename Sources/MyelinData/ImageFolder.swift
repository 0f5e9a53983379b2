import Foundation
import MyelinCore
import Synchronization

/// Images sorted into one folder per class (torchvision's `ImageFolder`):
///
///     root/cat/001.png
///     root/cat/kitten/002.jpg     (subfolders of a class folder count for that class)
///     root/dog/003.jpeg
///
/// - Classes are the subfolder names sorted (by Unicode code point, as Python's `sorted`),
///   labelled 0, 1, ...; folders whose names start with "." (`.ipynb_checkpoints`) are
///   skipped, unlike torchvision.
/// - Files are those with an image extension (`png`, `jpg`, `jpeg`, any case), in
///   torchvision's order within each class (by folder, then file name): the sample order
///   is the same on every machine.
/// - Samples are `(image [C, H, W] float32 in [0, 1], label int64 [])`. Images are decoded
///   when a sample is asked for (or once, with `cache`), converted to `channels` (3 by
///   default, as torchvision's loader converts to RGB; 1 for gray), resized to `size` when
///   given, then passed through `transform`.
/// - `transform` draws from `RandomGenerator.default` (as torchvision's transforms draw
///   from the global RNG). For augmentation that is reproducible per epoch, give the
///   random transforms to `DataLoader(transform:)` instead: it seeds them from its seed
///   and the epoch.
/// - Images of different sizes cannot share a batch: give `size`, or a `transform` that
///   ends in a fixed size (`Resize(height:width:)`, `CenterCrop`, `RandomResizedCrop`).
/// - A file that does not decode stops the program with its path and the decoder's
///   message (a data set subscript cannot throw); `validate()` decodes every file first
///   and throws instead.
public struct ImageFolder: Dataset {
    /// One file and its label.
    public struct Sample: Sendable, Equatable {
        public let url: URL
        public let label: Int
    }

    public static let defaultExtensions: Set<String> = ["png", "jpg", "jpeg"]

    public let root: URL
    /// Class names, sorted; the label of `classes[i]` is `i`.
    public let classes: [String]
    public let classToIndex: [String: Int]
    /// Every sample, in order.
    public let samples: [Sample]
    public let transform: (any Transform)?
    public let channels: Int
    public let size: (height: Int, width: Int)?
    private let cache: ImageCache?

    /// - Parameters:
    ///   - channels: 1 (gray, by luma), 3 (RGB) or 4 (RGBA); nil keeps each file's own.
    ///   - size: resize every image (bilinear) to this size after decoding.
    ///   - cache: keep decoded (converted, resized, untransformed) images in memory.
    public init(root: URL, transform: (any Transform)? = nil, channels: Int? = 3, size: (height: Int, width: Int)? = nil,
                cache: Bool = false, extensions: Set<String> = ImageFolder.defaultExtensions) throws {
        if let channels { require((1...4).contains(channels), "ImageFolder: channels must be 1...4 (or nil), got \(channels)") }
        if let size { require(size.height > 0 && size.width > 0, "ImageFolder: size must be positive, got \(size)") }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(.notFound, file: root.path, "is not a folder (ImageFolder needs a folder holding one subfolder per class)")
        }
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: root.path).filter { name in
                var d: ObjCBool = false
                return !name.hasPrefix(".") && fm.fileExists(atPath: root.appendingPathComponent(name).path, isDirectory: &d) && d.boolValue
            }.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        } catch {
            throw DataError(.notFound, file: root.path, "cannot be listed (\(error.localizedDescription))")
        }
        guard !names.isEmpty else {
            throw DataError(.notFound, file: root.path, "holds no class folders: ImageFolder expects root/<class>/<image>.png")
        }
        let exts = Set(extensions.map { $0.lowercased() })
        var samples: [Sample] = [], empty: [String] = []
        for (label, name) in names.enumerated() {
            let files = Self.imageFiles(in: root.appendingPathComponent(name), extensions: exts)
            if files.isEmpty { empty.append(name) }
            samples += files.map { Sample(url: $0, label: label) }
        }
        guard empty.isEmpty else {
            throw DataError(.notFound, file: root.path,
                            "the class folder\(empty.count > 1 ? "s" : "") \(empty.map { "\"\($0)\"" }.joined(separator: ", ")) hold\(empty.count > 1 ? "" : "s") no image files (extensions \(exts.sorted().joined(separator: ", ")), any case)")
        }
        self.root = root
        classes = names
        classToIndex = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        self.samples = samples
        self.transform = transform
        self.channels = channels ?? 0
        self.size = size
        self.cache = cache ? ImageCache() : nil
    }

    /// Files under `folder` (recursively) with one of `extensions`, in torchvision's order:
    /// by folder path, then by name within a folder (`sorted(os.walk(...))`, then `sorted(fnames)`).
    static func imageFiles(in folder: URL, extensions: Set<String>) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey],
                                                         options: [.skipsHiddenFiles]) else { return [] }
        var out: [(dir: String, name: String, url: URL)] = []
        let base = folder.standardizedFileURL.path
        for case let url as URL in walker where extensions.contains(url.pathExtension.lowercased()) {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let dir = url.deletingLastPathComponent().standardizedFileURL.path
            out.append((dir.hasPrefix(base) ? String(dir.dropFirst(base.count)) : dir, url.lastPathComponent, url))
        }
        func less(_ a: String, _ b: String) -> Bool { a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) }
        return out.sorted { $0.dir != $1.dir ? less($0.dir, $1.dir) : less($0.name, $1.name) }.map(\.url)
    }

    public var count: Int { samples.count }

    /// Labels of every sample, in order (torchvision's `targets`).
    public var targets: [Int] { samples.map(\.label) }

    /// Sample `index`'s image, decoded, converted and resized (before `transform`).
    public func image(at index: Int) throws -> Tensor {
        require(index >= 0 && index < count, "ImageFolder: index \(index) is out of range for \(count) samples")
        if let cached = cache?.get(index) { return cached }
        var x = try ImageFile.read(contentsOf: samples[index].url)
        if channels > 0 { x = ImageFile.converted(x, channels: channels) }
        if let size { x = ImageFile.resized(x, height: size.height, width: size.width) }
        cache?.set(index, x)
        return x
    }

    /// Decodes every file; throws the first failure (a `DataError` naming the file).
    public func validate() throws {
        for i in 0..<count { _ = try image(at: i) }
    }

    public subscript(index: Int) -> Example {
        let x: Tensor
        do { x = try image(at: index) } catch {
            requirementFailure("ImageFolder: \(error)")
        }
        return (transform.map { $0(x) } ?? x, Tensor(scalar: Double(samples[index].label), dtype: .int64))
    }

    /// Stacks the samples; images of different sizes fail with their paths and the fix.
    public func batch(_ indices: [Int]) -> Batch {
        let examples = indices.map { self[$0] }
        if let first = examples.first, let odd = examples.firstIndex(where: { $0.input.shape != first.input.shape }) {
            requirementFailure(
                "ImageFolder: images in one batch must share a size, but \(samples[indices[0]].url.path) gives \(first.input.shape) and \(samples[indices[odd]].url.path) gives \(examples[odd].input.shape); pass size: (height, width) or a transform that resizes or crops to a fixed size (Resize(height:width:), CenterCrop, RandomResizedCrop)")
        }
        return (Batching.stack(examples.map(\.input), what: "inputs"), Batching.stack(examples.map(\.target), what: "targets"))
    }
}

/// Decoded images shared by the copies of an `ImageFolder`.
final class ImageCache: Sendable {
    private let images = Mutex<[Int: Tensor]>([:])
    func get(_ i: Int) -> Tensor? { images.withLock { $0[i] } }
    func set(_ i: Int, _ t: Tensor) { images.withLock { $0[i] = t } }
}
