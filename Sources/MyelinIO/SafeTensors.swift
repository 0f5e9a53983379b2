import Foundation
import MyelinCore

/// The safetensors format (https://github.com/huggingface/safetensors):
///
///     [8 bytes]  N, the header length, unsigned little-endian
///     [N bytes]  a JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]},
///                plus an optional "__metadata__" map of strings to strings;
///                padded with spaces so that the data start 8-byte aligned
///     [rest]     the data section: raw little-endian elements, row-major; offsets are
///                relative to its start, contiguous, and cover it exactly
///
/// It holds only numbers, never code (unlike pickle); PyTorch, JAX and MLX read it.
///
/// Reading checks every length and offset before touching data, and throws an `Error`
/// naming the tensor and the numbers. Element types Myelin has no tensor type for are
/// widened on read: F16, BF16, F8_E4M3 and F8_E5M2 become float32; I8, U8, I16 and U16
/// become int32; U32 and U64 become int64 (U64 values above Int64.max are rejected).
public enum SafeTensors {
    /// Headers above this size are refused (the reference implementation's limit).
    public static let maxHeaderLength = 100_000_000

    /// What went wrong, and in which file.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var path: String
        public var problem: Problem
        public var description: String { "\(path): \(problem)" }
    }

    public enum Problem: Equatable, Sendable, CustomStringConvertible {
        case fileTooSmall(bytes: Int)
        case headerTooLarge(length: UInt64, limit: Int)
        case headerBeyondFile(length: UInt64, available: Int)
        case headerNotJSON(reason: String)
        case badMetadata(reason: String)
        case badEntry(name: String, reason: String)
        case unsupportedDType(name: String, dtype: String)
        case badOffsets(name: String, begin: Int, end: Int)
        case sizeMismatch(name: String, dtype: String, shape: [Int], expectedBytes: Int, spanBytes: Int)
        case overlap(name: String, begin: Int, previous: String, previousEnd: Int)
        case gap(name: String, begin: Int, previous: String?, previousEnd: Int)
        case truncated(name: String, end: Int, dataBytes: Int)
        case trailingBytes(covered: Int, dataBytes: Int)
        case invalidValue(name: String, reason: String)
        case unreadable(reason: String)

        public var description: String {
            switch self {
            case let .fileTooSmall(bytes):
                "\(bytes) bytes is too small to be a safetensors file (it needs at least an 8-byte header length)"
            case let .headerTooLarge(length, limit):
                "header length \(length) is larger than the limit of \(limit) bytes; the file is corrupt or not safetensors"
            case let .headerBeyondFile(length, available):
                "header length \(length) runs past the end of the file, which has only \(available) bytes after the length field; the file is truncated or not safetensors"
            case let .headerNotJSON(reason):
                "the header is not a JSON object: \(reason)"
            case let .badMetadata(reason):
                "__metadata__ must map strings to strings: \(reason)"
            case let .badEntry(name, reason):
                "tensor '\(name)': \(reason)"
            case let .unsupportedDType(name, dtype):
                "tensor '\(name)' has dtype \(dtype), which Myelin does not read (it reads F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL)"
            case let .badOffsets(name, begin, end):
                "tensor '\(name)' has data_offsets [\(begin), \(end)]: the end is before the start"
            case let .sizeMismatch(name, dtype, shape, expected, span):
                "tensor '\(name)' of dtype \(dtype) and shape \(shape) needs \(expected) bytes, but its data_offsets span \(span) bytes"
            case let .overlap(name, begin, previous, previousEnd):
                "tensor '\(name)' starts at byte \(begin) of the data section, inside '\(previous)', which ends at byte \(previousEnd): the tensors overlap"
            case let .gap(name, begin, previous, previousEnd):
                "tensor '\(name)' starts at byte \(begin) of the data section, but " +
                    (previous.map { "'\($0)' ends at byte \(previousEnd)" } ?? "the data section starts at byte 0") +
                    ": the offsets leave a gap"
            case let .truncated(name, end, dataBytes):
                "tensor '\(name)' ends at byte \(end) of the data section, but the file holds only \(dataBytes) data bytes: the file is truncated"
            case let .trailingBytes(covered, dataBytes):
                "the tensors cover \(covered) bytes of the data section, but it holds \(dataBytes): \(dataBytes - covered) bytes belong to no tensor"
            case let .invalidValue(name, reason):
                "tensor '\(name)': \(reason)"
            case let .unreadable(reason):
                "cannot read the file: \(reason)"
            }
        }
    }

    /// One tensor as the header describes it (before any data is read).
    public struct TensorInfo: Equatable, Sendable {
        public var name: String
        /// The file's dtype code ("F32", "BF16", ...).
        public var dtype: String
        public var shape: [Int]
        /// Byte range inside the data section.
        public var dataOffsets: Range<Int>
        /// The Myelin dtype the tensor has once read.
        public var readAs: DType
    }

    // MARK: Element types

    enum Conversion { case copy, f16, bf16, f8e4m3, f8e5m2, i8, u8, i16, u16, u32, u64, bool }

    /// File dtype code -> (bytes per element, Myelin dtype, conversion).
    static let fileTypes: [String: (size: Int, dtype: DType, conversion: Conversion)] = [
        "F64": (8, .float64, .copy), "F32": (4, .float32, .copy),
        "F16": (2, .float32, .f16), "BF16": (2, .float32, .bf16),
        "F8_E4M3": (1, .float32, .f8e4m3), "F8_E5M2": (1, .float32, .f8e5m2),
        "I64": (8, .int64, .copy), "I32": (4, .int32, .copy),
        "I16": (2, .int32, .i16), "I8": (1, .int32, .i8),
        "U64": (8, .int64, .u64), "U32": (4, .int64, .u32),
        "U16": (2, .int32, .u16), "U8": (1, .int32, .u8),
        "BOOL": (1, .bool, .bool),
    ]

    /// The file dtype code Myelin writes for a tensor dtype.
    public static func code(for dtype: DType) -> String {
        switch dtype {
        case .float32: "F32"
        case .float64: "F64"
        case .int32: "I32"
        case .int64: "I64"
        case .bool: "BOOL"
        }
    }

    // MARK: Reading

    /// Reads every tensor of a safetensors file, and the header's `__metadata__`.
    /// The file is memory-mapped, so a large file is copied once, straight into tensors.
    public static func read(contentsOf url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try decode(try mapped(url), path: url.path)
    }

    /// The header of a file: its tensors' names, dtypes, shapes and offsets, and its
    /// metadata, validated as `read` does, without reading the data.
    public static func inspect(contentsOf url: URL) throws -> (tensors: [TensorInfo], metadata: [String: String]) {
        let data = try mapped(url)
        let parsed = try data.withUnsafeBytes { try parseHeader($0, path: url.path) }
        return (parsed.tensors, parsed.metadata)
    }

    /// Decodes a safetensors file held in memory.
    public static func decode(_ data: Data, path: String = "<data>") throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try data.withUnsafeBytes { raw in
            let parsed = try parseHeader(raw, path: path)
            var tensors: [String: Tensor] = [:]
            for info in parsed.tensors {
                let start = parsed.dataStart + info.dataOffsets.lowerBound
                let bytes = UnsafeRawBufferPointer(rebasing: raw[start ..< start + info.dataOffsets.count])
                tensors[info.name] = try makeTensor(info, bytes, path: path)
            }
            return (tensors, parsed.metadata)
        }
    }

    private static func mapped(_ url: URL) throws -> Data {
        do { return try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw Error(path: url.path, problem: .unreadable(reason: error.localizedDescription))
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct RawEntry: Decodable {
        let dtype: String
        let shape: [Whole]
        let data_offsets: [Whole]
    }

    /// An integer in the header. Foundation's decoder reports 1.5 or 1e30 read as Int as
    /// "not valid JSON" with no location, so integers are checked here, with the path.
    private struct Whole: Decodable {
        let value: Int
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { value = i; return }
            var found = "a non-number"
            if let d = try? c.decode(Double.self) {
                found = "\(d)"
            } else if let b = try? c.decode(Bool.self) {
                found = "\(b)"
            } else if let t = try? c.decode(String.self) {
                found = "the string \"\(t)\""
            }
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath, debugDescription: "found \(found)"))
        }
    }

    /// The header as decoded (key order does not matter: validation sorts by offset).
    private struct RawHeader: Decodable {
        var metadata: [String: String] = [:]
        var entries: [(String, RawEntry)] = []
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            for key in c.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try c.decode([String: String].self, forKey: key)
                } else {
                    entries.append((key.stringValue, try c.decode(RawEntry.self, forKey: key)))
                }
            }
        }
    }

    /// Turns a decoding failure into a message that names the tensor and the field.
    private static func explain(_ error: DecodingError) -> Problem {
        let (context, what): (DecodingError.Context, String) = switch error {
        case let .keyNotFound(key, c): (c, "has no '\(key.stringValue)' field (every tensor needs dtype, shape and data_offsets)")
        case let .typeMismatch(type, c):
            (c, type == Int.self ? "must be an integer (\(c.debugDescription))" : "must be a \(type == String.self ? "string" : "\(type)")")
        case let .valueNotFound(type, c): (c, "a value is null where \(type) is expected")
        case let .dataCorrupted(c): (c, c.debugDescription)
        @unknown default: (DecodingError.Context(codingPath: [], debugDescription: ""), "\(error)")
        }
        guard let first = context.codingPath.first?.stringValue else { return .headerNotJSON(reason: what) }
        // "shape[0]", "data_offsets[1]", "dtype": the field inside the entry.
        let field = context.codingPath.dropFirst().map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        let named = field.hasPrefix(".") ? String(field.dropFirst()) : field
        if first == "__metadata__" { return .badMetadata(reason: named.isEmpty ? what : "'\(named)' \(what)") }
        return .badEntry(name: first, reason: named.isEmpty ? what : "'\(named)' \(what)")
    }

    private struct Parsed { var tensors: [TensorInfo]; var metadata: [String: String]; var dataStart: Int }

    /// Validates the length field, the JSON header and every offset against the file size.
    private static func parseHeader(_ raw: UnsafeRawBufferPointer, path: String) throws -> Parsed {
        func fail(_ p: Problem) -> Error { Error(path: path, problem: p) }
        guard raw.count >= 8 else { throw fail(.fileTooSmall(bytes: raw.count)) }
        let n = raw.loadUnaligned(as: UInt64.self).littleEndian
        guard n <= UInt64(maxHeaderLength) else { throw fail(.headerTooLarge(length: n, limit: maxHeaderLength)) }
        guard n <= UInt64(raw.count - 8) else { throw fail(.headerBeyondFile(length: n, available: raw.count - 8)) }
        let headerEnd = 8 + Int(n)
        let json = Data(UnsafeRawBufferPointer(rebasing: raw[8 ..< headerEnd]))
        guard json.first == UInt8(ascii: "{") else {
            throw fail(.headerNotJSON(reason: n == 0 ? "it is empty" : "it does not start with '{'"))
        }
        let header: RawHeader
        do { header = try JSONDecoder().decode(RawHeader.self, from: json) } catch let error as DecodingError {
            if case let .dataCorrupted(c) = error, c.codingPath.isEmpty {
                throw fail(.headerNotJSON(reason: "invalid JSON (\(c.underlyingError.map { "\($0)" } ?? c.debugDescription))"))
            }
            throw fail(explain(error))
        } catch {
            throw fail(.headerNotJSON(reason: "\(error)"))
        }

        let dataBytes = raw.count - headerEnd
        var infos: [TensorInfo] = []
        for (name, e) in header.entries {
            guard let type = fileTypes[e.dtype] else { throw fail(.unsupportedDType(name: name, dtype: e.dtype)) }
            let shape = e.shape.map(\.value), offsets = e.data_offsets.map(\.value)
            guard offsets.count == 2 else {
                throw fail(.badEntry(name: name, reason: "data_offsets must be [begin, end], not \(offsets)"))
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= 0 else { throw fail(.badEntry(name: name, reason: "data_offsets \(offsets) are negative")) }
            guard begin <= end else { throw fail(.badOffsets(name: name, begin: begin, end: end)) }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw fail(.badEntry(name: name, reason: "shape \(shape) has a negative extent")) }
            var bytes = type.size
            for d in shape {
                let (m, overflow) = bytes.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail(.badEntry(name: name, reason: "shape \(shape) is too large to address")) }
                bytes = m
            }
            guard bytes == end - begin else {
                throw fail(.sizeMismatch(name: name, dtype: e.dtype, shape: shape, expectedBytes: bytes, spanBytes: end - begin))
            }
            infos.append(TensorInfo(name: name, dtype: e.dtype, shape: shape, dataOffsets: begin ..< end, readAs: type.dtype))
        }
        // The reference requires the tensors to tile the data section exactly.
        infos.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name) }
        var cursor = 0
        var previous: String?
        for info in infos {
            let r = info.dataOffsets
            if r.lowerBound < cursor, let previous {
                throw fail(.overlap(name: info.name, begin: r.lowerBound, previous: previous, previousEnd: cursor))
            }
            if r.lowerBound > cursor { throw fail(.gap(name: info.name, begin: r.lowerBound, previous: previous, previousEnd: cursor)) }
            guard r.upperBound <= dataBytes else { throw fail(.truncated(name: info.name, end: r.upperBound, dataBytes: dataBytes)) }
            cursor = r.upperBound
            previous = info.name
        }
        guard cursor == dataBytes else { throw fail(.trailingBytes(covered: cursor, dataBytes: dataBytes)) }
        return Parsed(tensors: infos, metadata: header.metadata, dataStart: headerEnd)
    }

    /// Copies (and if needed widens) one tensor's bytes into a new tensor. Host is little-endian.
    private static func makeTensor(_ info: TensorInfo, _ src: UnsafeRawBufferPointer, path: String) throws -> Tensor {
        let t = Tensor(uninitializedShape: info.shape, dtype: info.readAs)
        guard let type = fileTypes[info.dtype], let base = src.baseAddress else { return t }
        let n = t.count
        let dst = t.storage.bytes
        func widen<S, D>(_: S.Type, _: D.Type, _ f: (S) -> D) {
            let d = dst.assumingMemoryBound(to: D.self)
            for i in 0..<n { d[i] = f(base.loadUnaligned(fromByteOffset: i * MemoryLayout<S>.stride, as: S.self)) }
        }
        switch type.conversion {
        case .copy: memcpy(dst, base, src.count)
        case .f16: widen(UInt16.self, Float.self, floatFromHalf)
        case .bf16: widen(UInt16.self, Float.self) { Float(bitPattern: UInt32($0) << 16) }
        case .f8e4m3: widen(UInt8.self, Float.self, floatFromE4M3)
        case .f8e5m2: widen(UInt8.self, Float.self) { floatFromHalf(UInt16($0) << 8) }
        case .i8: widen(Int8.self, Int32.self) { Int32($0) }
        case .u8: widen(UInt8.self, Int32.self) { Int32($0) }
        case .i16: widen(Int16.self, Int32.self) { Int32($0) }
        case .u16: widen(UInt16.self, Int32.self) { Int32($0) }
        case .u32: widen(UInt32.self, Int64.self) { Int64($0) }
        case .u64:
            for i in 0..<n where base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) > UInt64(Int64.max) {
                throw Error(path: path, problem: .invalidValue(name: info.name, reason: "U64 element \(i) is \(base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)), above Int64.max, so it cannot be read as int64"))
            }
            memcpy(dst, base, src.count)
        case .bool:
            let b = base.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n where b[i] > 1 {
                throw Error(path: path, problem: .invalidValue(name: info.name, reason: "byte \(b[i]) at element \(i) is not a bool (0 or 1)"))
            }
            memcpy(dst, base, src.count)
        }
        return t
    }

    /// IEEE binary16 bits to Float (exact), including subnormals, infinities and NaN.
    static func floatFromHalf(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int(h >> 10) & 0x1F
        let mant = UInt32(h & 0x3FF)
        switch exp {
        case 0:
            let magnitude = Float(mant) * 0x1p-24  // subnormal: mant × 2^-24
            return Float(bitPattern: magnitude.bitPattern | sign)
        case 31: return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        default: return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
        }
    }

    /// float8 e4m3fn (as PyTorch's float8_e4m3fn): bias 7, no infinities, S.1111.111 is NaN.
    static func floatFromE4M3(_ b: UInt8) -> Float {
        let negative = b & 0x80 != 0
        let exp = Int(b >> 3) & 0xF
        let mant = Int(b & 0x7)
        let v: Float
        if exp == 15 && mant == 7 { v = .nan } else if exp == 0 { v = Float(mant) * 0x1p-9 } else {
            v = Float(8 + mant) * Float(sign: .plus, exponent: exp - 10, significand: 1)
        }
        return negative ? -v : v
    }

    // MARK: Writing

    /// The header bytes (length field + space-padded JSON) and the order the data follow.
    /// Data are ordered by element size, largest first, then by name (as the reference
    /// does), so every tensor starts aligned to its element size; JSON keys are sorted.
    static func header(for tensors: [String: Tensor], metadata: [String: String], path: String) throws -> (bytes: [UInt8], order: [String]) {
        if tensors["__metadata__"] != nil {
            throw Error(path: path, problem: .badEntry(name: "__metadata__", reason: "the name __metadata__ is reserved for the metadata map"))
        }
        let order = tensors.keys.sorted { a, b in
            let (sa, sb) = (tensors[a]?.dtype.byteSize ?? 0, tensors[b]?.dtype.byteSize ?? 0)
            return sa != sb ? sa > sb : a < b
        }
        var offsets: [String: (Int, Int)] = [:]
        var offset = 0
        for name in order {
            guard let t = tensors[name] else { continue }
            let bytes = t.count * t.dtype.byteSize
            offsets[name] = (offset, offset + bytes)
            offset += bytes
        }
        var json = "{"
        var first = true
        func key(_ k: String) {
            json += (first ? "" : ",") + jsonString(k) + ":"
            first = false
        }
        if !metadata.isEmpty {
            key("__metadata__")
            json += "{" + metadata.sorted { $0.key < $1.key }.map { jsonString($0.key) + ":" + jsonString($0.value) }.joined(separator: ",") + "}"
        }
        for name in tensors.keys.sorted() {
            guard let t = tensors[name], let (b, e) = offsets[name] else { continue }
            key(name)
            json += "{\"dtype\":\"\(code(for: t.dtype))\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(b),\(e)]}"
        }
        json += "}"
        var body = Array(json.utf8)
        while body.count % 8 != 0 { body.append(0x20) }  // pad with spaces: data start 8-byte aligned
        var out = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { out[i] = UInt8(truncatingIfNeeded: UInt64(body.count) >> (8 * UInt64(i))) }
        return (out + body, order)
    }

    /// A JSON string literal (quotes, backslashes and control characters escaped).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// The whole file in memory (for small files, tests and network use).
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        let (head, order) = try header(for: tensors, metadata: metadata, path: "<data>")
        var out = Data(capacity: head.count + order.reduce(0) { $0 + (tensors[$1].map { $0.count * $0.dtype.byteSize } ?? 0) })
        out.append(contentsOf: head)
        for name in order {
            guard let t = tensors[name] else { continue }
            withExtendedLifetime(t.storage) { out.append(contentsOf: UnsafeRawBufferPointer(start: t.storage.bytes, count: t.count * t.dtype.byteSize)) }
        }
        return out
    }

    /// Writes a file atomically (see `AtomicFile`), streaming each tensor's bytes
    /// straight from its storage: no copy of the whole file is built in memory.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let (head, order) = try header(for: tensors, metadata: metadata, path: url.path)
        try AtomicFile.write(to: url) { w in
            try w.write(head)
            for name in order {
                guard let t = tensors[name] else { continue }
                try withExtendedLifetime(t.storage) {
                    try w.write(UnsafeRawBufferPointer(start: t.storage.bytes, count: t.count * t.dtype.byteSize))
                }
            }
        }
    }
}
