import Foundation
import MyelinCore

/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// mapping names to {dtype, shape, data_offsets}, then the raw little-endian bytes.
/// It holds only numbers, never code (unlike pickle), and PyTorch, JAX and MLX read it.
public enum SafeTensors {
    public enum Error: Swift.Error, CustomStringConvertible {
        case fileTooSmall(path: String, bytes: Int)
        case badHeader(path: String, reason: String)
        case unsupportedDType(name: String, dtype: String)
        case outOfBounds(name: String)
        case unreadable(path: String, reason: String)

        public var description: String {
            switch self {
            case let .fileTooSmall(path, bytes): "\(path): \(bytes) bytes is too small to be a safetensors file (it needs an 8-byte header length)"
            case let .badHeader(path, reason): "\(path): not a valid safetensors header: \(reason)"
            case let .unsupportedDType(name, dtype): "tensor '\(name)' has dtype \(dtype), which Myelin does not read (F32, F64, I32, I64, BOOL)"
            case let .outOfBounds(name): "tensor '\(name)' points outside the file's data section; the file is truncated or corrupt"
            case let .unreadable(path, reason): "cannot read \(path): \(reason)"
            }
        }
    }

    static let codes: [String: DType] = ["F32": .float32, "F64": .float64, "I32": .int32, "I64": .int64, "BOOL": .bool]
    static func code(_ d: DType) -> String { codes.first { $0.value == d }!.key }

    /// Reads every tensor of a safetensors file, and the header's `__metadata__`.
    public static func read(contentsOf url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw Error.unreadable(path: url.path, reason: error.localizedDescription) }
        return try decode(data, path: url.path)
    }

    public static func decode(_ data: Data, path: String = "<data>") throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard data.count >= 8 else { throw Error.fileTooSmall(path: path, bytes: data.count) }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(data.count - 8) else {
            throw Error.badHeader(path: path, reason: "header length \(n) exceeds the file size \(data.count)")
        }
        let headerEnd = 8 + Int(n)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data[data.startIndex + 8 ..< data.startIndex + headerEnd]) } catch {
            throw Error.badHeader(path: path, reason: "header is not JSON")
        }
        guard let header = json as? [String: Any] else { throw Error.badHeader(path: path, reason: "header is not a JSON object") }
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        let body = data.startIndex + headerEnd
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let code = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2
            else { throw Error.badHeader(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets") }
            guard let dtype = codes[code] else { throw Error.unsupportedDType(name: name, dtype: code) }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], body + offsets[1] <= data.endIndex else { throw Error.outOfBounds(name: name) }
            tensors[name] = try Tensor(bytes: data[(body + offsets[0])..<(body + offsets[1])], shape: shape, dtype: dtype)
        }
        return (tensors, metadata)
    }

    /// Encodes tensors (sorted by name, as the reference implementation does).
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            let bytes = t.count * t.dtype.byteSize
            header[name] = ["dtype": code(t.dtype), "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (json.count + 8) % 8 != 0 { json.append(0x20) }  // pad with spaces to 8-byte alignment
        var out = Data(capacity: 8 + json.count + offset)
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names {
            let t = tensors[name]!
            out.append(Data(bytes: t.storage.bytes, count: t.count * t.dtype.byteSize))
        }
        return out
    }

    /// Writes atomically: to a temporary file, then renamed into place.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        try encode(tensors, metadata: metadata).write(to: url, options: .atomic)
    }
}
