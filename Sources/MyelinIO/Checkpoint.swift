import Foundation
import MyelinCore
import MyelinNN

/// Named tensors and named numbers: the state of an optimizer (moments, step counts,
/// learning rate) or of a learning-rate schedule, in a form a checkpoint can hold.
public struct CheckpointPart: Sendable, Equatable {
    public var tensors: [String: Tensor]
    public var scalars: [String: Double]

    public init(tensors: [String: Tensor] = [:], scalars: [String: Double] = [:]) {
        self.tensors = tensors
        self.scalars = scalars
    }

    public var isEmpty: Bool { tensors.isEmpty && scalars.isEmpty }

    /// Same names, shapes, dtypes and bytes; scalars compared bit for bit (NaN equals NaN).
    public static func == (a: CheckpointPart, b: CheckpointPart) -> Bool {
        Checkpoint.sameTensors(a.tensors, b.tensors)
            && a.scalars.mapValues(\.bitPattern) == b.scalars.mapValues(\.bitPattern)
    }
}

/// Everything needed to resume training exactly: the model's state dict, the optimizer's
/// and scheduler's state, the epoch and step reached, the random generator's state and
/// the training configuration.
///
/// On disk it is one safetensors file: tensors named "model/<name>", "optimizer/<name>",
/// "scheduler/<name>", and everything else as strings in `__metadata__` ("format",
/// "format_version", "epoch", "global_step", "rng_state" as comma-separated hex words,
/// "configuration", and the scalars as JSON), so Python can inspect it too.
/// `save` is atomic: a crash or kill during a save leaves the previous file intact.
public struct Checkpoint: Sendable, Equatable {
    /// The "format" metadata value that marks a Myelin checkpoint.
    public static let format = "myelin.checkpoint"
    /// The layout version this build writes, and the newest it reads.
    public static let formatVersion = 1

    public var model: [String: Tensor]
    public var optimizer: CheckpointPart
    public var scheduler: CheckpointPart
    /// Completed epochs.
    public var epoch: Int
    /// Completed optimizer steps over the whole run.
    public var globalStep: Int
    /// The random generator's state words.
    public var rngState: [UInt64]
    /// The training configuration, as JSON text (see `encodeConfiguration`).
    public var configuration: String
    /// Free-form notes (metrics, git revision, ...).
    public var extra: [String: String]

    public init(model: [String: Tensor], optimizer: CheckpointPart = CheckpointPart(), scheduler: CheckpointPart = CheckpointPart(),
                epoch: Int = 0, globalStep: Int = 0, rngState: [UInt64] = [], configuration: String = "{}",
                extra: [String: String] = [:]) {
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.epoch = epoch
        self.globalStep = globalStep
        self.rngState = rngState
        self.configuration = configuration
        self.extra = extra
    }

    /// A checkpoint of `model`'s current state dict.
    public init(model: Module, optimizer: CheckpointPart = CheckpointPart(), scheduler: CheckpointPart = CheckpointPart(),
                epoch: Int = 0, globalStep: Int = 0, rngState: [UInt64] = [], configuration: String = "{}",
                extra: [String: String] = [:]) {
        self.init(model: model.stateDict(), optimizer: optimizer, scheduler: scheduler, epoch: epoch, globalStep: globalStep,
                  rngState: rngState, configuration: configuration, extra: extra)
    }

    // MARK: Configuration

    /// JSON text for any Codable configuration (sorted keys, so equal configurations give equal text).
    public static func encodeConfiguration(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = nonConforming
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The configuration decoded as `type`.
    public func configuration<C: Decodable>(as type: C.Type) throws -> C {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = Self.nonConformingDecoding
        return try decoder.decode(type, from: Data(configuration.utf8))
    }

    static let nonConforming = JSONEncoder.NonConformingFloatEncodingStrategy.convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    static let nonConformingDecoding = JSONDecoder.NonConformingFloatDecodingStrategy.convertFromString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

    // MARK: Saving and loading

    /// Writes the checkpoint atomically (temporary file, fsync, rename, fsync of the directory).
    public func save(to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        for (prefix, part) in [("model", model), ("optimizer", optimizer.tensors), ("scheduler", scheduler.tensors)] {
            for (name, t) in part { tensors["\(prefix)/\(name)"] = t }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = Self.nonConforming
        func json(_ v: some Encodable) throws -> String { String(decoding: try encoder.encode(v), as: UTF8.self) }
        let metadata: [String: String] = [
            "format": Self.format,
            "format_version": String(Self.formatVersion),
            "epoch": String(epoch),
            "global_step": String(globalStep),
            "rng_state": rngState.map { String(format: "%016llx", $0) }.joined(separator: ","),
            "configuration": configuration,
            "optimizer_scalars": try json(optimizer.scalars),
            "scheduler_scalars": try json(scheduler.scalars),
            "extra": try json(extra),
        ]
        try SafeTensors.write(tensors, metadata: metadata, to: url)
    }

    /// Reads and validates a checkpoint. A file that is not a Myelin checkpoint, or was
    /// written by a newer format, or has a malformed field, throws a `CheckpointError`
    /// naming the problem; a corrupt file throws `SafeTensors.Error`.
    public static func load(from url: URL) throws -> Checkpoint {
        let path = url.path
        let (tensors, meta) = try SafeTensors.read(contentsOf: url)
        guard meta["format"] == format else {
            let names = tensors.keys.sorted()
            let shown = names.prefix(4).joined(separator: ", ") + (names.count > 4 ? ", ..." : "")
            let why = meta["format"].map { "its metadata says format '\($0)', not '\(format)'" } ?? "it has no 'format' = '\(format)' metadata"
            throw CheckpointError.notACheckpoint(path: path, reason:
                "\(why); it holds \(names.count) tensors\(names.isEmpty ? "" : " (\(shown))"). A plain weights file loads with loadWeights(into:from:)")
        }
        func field(_ key: String) throws -> String {
            guard let v = meta[key] else { throw CheckpointError.missingField(path: path, field: key) }
            return v
        }
        func integer(_ key: String) throws -> Int {
            let s = try field(key)
            guard let v = Int(s), v >= 0 else {
                throw CheckpointError.badField(path: path, field: key, value: s, reason: "not a non-negative integer")
            }
            return v
        }
        let version = try integer("format_version")
        guard version <= formatVersion else { throw CheckpointError.unsupportedVersion(path: path, found: version, supported: formatVersion) }
        guard version >= 1 else { throw CheckpointError.badField(path: path, field: "format_version", value: "0", reason: "versions start at 1") }

        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = nonConformingDecoding
        func decode<T: Decodable>(_ key: String, as: T.Type) throws -> T {
            let s = try field(key)
            do { return try decoder.decode(T.self, from: Data(s.utf8)) } catch {
                throw CheckpointError.badField(path: path, field: key, value: String(s.prefix(80)), reason: "not a JSON \(T.self)")
            }
        }
        let rngText = try field("rng_state")
        var rng: [UInt64] = []
        for word in rngText.split(separator: ",", omittingEmptySubsequences: false) where !rngText.isEmpty {
            guard word.count <= 16, let v = UInt64(word, radix: 16) else {
                throw CheckpointError.badField(path: path, field: "rng_state", value: String(rngText.prefix(80)),
                                               reason: "'\(word)' is not a 64-bit hexadecimal word")
            }
            rng.append(v)
        }
        var ckpt = Checkpoint(model: [:], epoch: try integer("epoch"), globalStep: try integer("global_step"), rngState: rng,
                              configuration: try field("configuration"),
                              extra: meta["extra"] == nil ? [:] : try decode("extra", as: [String: String].self))
        ckpt.optimizer.scalars = try decode("optimizer_scalars", as: [String: Double].self)
        ckpt.scheduler.scalars = try decode("scheduler_scalars", as: [String: Double].self)
        for (name, t) in tensors {
            guard let slash = name.firstIndex(of: "/") else { throw CheckpointError.unknownTensor(path: path, name: name) }
            let key = String(name[name.index(after: slash)...])
            switch name[..<slash] {
            case "model": ckpt.model[key] = t
            case "optimizer": ckpt.optimizer.tensors[key] = t
            case "scheduler": ckpt.scheduler.tensors[key] = t
            default: throw CheckpointError.unknownTensor(path: path, name: name)
            }
        }
        return ckpt
    }

    /// Loads the model part into `model` (see `Module.loadStateDict`).
    @discardableResult
    public func restore(into model: Module, strict: Bool = true) throws -> StateDictReport {
        try model.loadStateDict(self.model, strict: strict)
    }

    // MARK: Equality

    public static func == (a: Checkpoint, b: Checkpoint) -> Bool {
        sameTensors(a.model, b.model) && a.optimizer == b.optimizer && a.scheduler == b.scheduler
            && a.epoch == b.epoch && a.globalStep == b.globalStep && a.rngState == b.rngState
            && a.configuration == b.configuration && a.extra == b.extra
    }

    /// Same names, dtypes, shapes and bytes.
    static func sameTensors(_ a: [String: Tensor], _ b: [String: Tensor]) -> Bool {
        guard Set(a.keys) == Set(b.keys) else { return false }
        for (name, x) in a {
            guard let y = b[name], x.dtype == y.dtype, x.shape == y.shape else { return false }
            let same = withExtendedLifetime((x.storage, y.storage)) {
                memcmp(x.storage.bytes, y.storage.bytes, x.count * x.dtype.byteSize) == 0
            }
            if !same { return false }
        }
        return true
    }
}

/// Why a file could not be loaded as a checkpoint.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case notACheckpoint(path: String, reason: String)
    case unsupportedVersion(path: String, found: Int, supported: Int)
    case missingField(path: String, field: String)
    case badField(path: String, field: String, value: String, reason: String)
    case unknownTensor(path: String, name: String)

    public var description: String {
        switch self {
        case let .notACheckpoint(path, reason): "\(path) is not a Myelin checkpoint: \(reason)"
        case let .unsupportedVersion(path, found, supported):
            "\(path) is a checkpoint of format version \(found), newer than this build reads (up to \(supported)); update Myelin"
        case let .missingField(path, field): "\(path): the checkpoint lacks the '\(field)' metadata field"
        case let .badField(path, field, value, reason): "\(path): checkpoint field '\(field)' = '\(value)' is invalid: \(reason)"
        case let .unknownTensor(path, name):
            "\(path): checkpoint tensor '\(name)' belongs to no part (names start with model/, optimizer/ or scheduler/)"
        }
    }
}
