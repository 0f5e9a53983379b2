import Foundation
import MyelinCore

/// A file in the IDX format of MNIST (LeCun et al.): a magic number `00 00 TT DD`
/// (TT the element type, DD the number of dimensions), DD big-endian 32-bit
/// extents, then the elements, big-endian, row-major. Files may be gzip'd; the
/// gzip magic `1f 8b` is detected, whatever the file name.
///
/// Every size is checked: a file that is truncated, too long, or whose header
/// makes no sense throws a `DataError` naming the file and the problem.
public struct IDXFile: Sendable {
    /// The element types of the format.
    public enum ElementType: UInt8, Sendable, CaseIterable {
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E

        public var byteSize: Int {
            switch self {
            case .uint8, .int8: 1
            case .int16: 2
            case .int32, .float32: 4
            case .float64: 8
            }
        }

        public var isInteger: Bool { self != .float32 && self != .float64 }
    }

    public let elementType: ElementType
    public let shape: [Int]
    /// Where the data came from (a path), for messages.
    public let name: String
    private let bytes: [UInt8]
    private let dataOffset: Int

    /// Reads and checks the file at `url` (gzip'd or raw).
    public init(contentsOf url: URL) throws {
        let bytes = try Gzip.contentsOfFile(at: url)
        try self.init(bytes: bytes, name: url.path)
    }

    /// Parses IDX bytes (already inflated, or gzip'd: both are accepted).
    public init(bytes raw: [UInt8], name: String = "<memory>") throws {
        let bytes = Gzip.isGzip(raw) ? try Gzip.decompress(raw, name: name) : raw
        guard bytes.count >= 4 else {
            throw DataError(.truncated, file: name, "is \(bytes.count) bytes long, too short for an IDX header (at least 4 bytes)")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DataError(.corrupt, file: name, String(format: "is not an IDX file: it starts with %02x %02x %02x %02x, not with 00 00 (the IDX magic)",
                                                         bytes[0], bytes[1], bytes[2], bytes[3]))
        }
        guard let type = ElementType(rawValue: bytes[2]) else {
            throw DataError(.corrupt, file: name, String(format: "has unknown IDX element type 0x%02x (known: 08 ubyte, 09 byte, 0b short, 0c int, 0d float, 0e double)", bytes[2]))
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw DataError(.corrupt, file: name, "has an IDX header with 0 dimensions") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw DataError(.truncated, file: name, "ends inside its header: \(rank) dimensions need \(headerSize) header bytes, the file has \(bytes.count)")
        }
        var shape: [Int] = []
        var elements = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let extent = Int(UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3]))
            shape.append(extent)
            let (p, overflow) = elements.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw DataError(.corrupt, file: name, "has impossibly large dimensions \(shape)") }
            elements = p
        }
        let (payload, overflow) = elements.multipliedReportingOverflow(by: type.byteSize)
        guard !overflow else { throw DataError(.corrupt, file: name, "has impossibly large dimensions \(shape)") }
        let found = bytes.count - headerSize
        let dims = shape.map(String.init).joined(separator: "×")
        guard found >= payload else {
            throw DataError(.truncated, file: name,
                            "is truncated: its header announces \(dims) \(type) values (\(payload) bytes of data), but only \(found) bytes follow the header")
        }
        guard found == payload else {
            throw DataError(.corrupt, file: name,
                            "has \(found - payload) bytes after the \(dims) \(type) values its header announces; the file is not a valid IDX file")
        }
        self.elementType = type
        self.shape = shape
        self.name = name
        self.bytes = bytes
        self.dataOffset = headerSize
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// The elements as a tensor of `dtype` (by default int64 for integer files,
    /// float32/float64 for float files), each multiplied by `scale`.
    public func tensor(dtype: DType? = nil, scale: Double = 1) -> Tensor {
        let target = dtype ?? (elementType.isInteger ? .int64 : (elementType == .float64 ? .float64 : .float32))
        require(target != .bool, "IDXFile.tensor: cannot convert \(elementType) data to bool")
        let n = count
        let out = Tensor(uninitializedShape: shape, dtype: target)
        bytes.withUnsafeBufferPointer { buf in
            let p = buf.baseAddress! + dataOffset
            switch target {
            case .float32: convert(p, n, out.storage.pointer(as: Float.self), scale) { Float($0) }
            case .float64: convert(p, n, out.storage.pointer(as: Double.self), scale) { $0 }
            case .int32: convert(p, n, out.storage.pointer(as: Int32.self), scale) { Int32(clamping: Int64(exactly: $0.rounded(.towardZero)) ?? 0) }
            case .int64: convert(p, n, out.storage.pointer(as: Int64.self), scale) { Int64(exactly: $0.rounded(.towardZero)) ?? 0 }
            case .bool: break
            }
        }
        return out
    }

    /// Element `i` of big-endian data.
    @inline(__always)
    private func value(_ p: UnsafePointer<UInt8>, _ i: Int) -> Double {
        switch elementType {
        case .uint8: return Double(p[i])
        case .int8: return Double(Int8(bitPattern: p[i]))
        case .int16: return Double(Int16(bitPattern: UInt16(p[2 * i]) << 8 | UInt16(p[2 * i + 1])))
        case .int32: return Double(Int32(bitPattern: Self.be32(p + 4 * i)))
        case .float32: return Double(Float(bitPattern: Self.be32(p + 4 * i)))
        case .float64:
            let q = p + 8 * i
            return Double(bitPattern: UInt64(Self.be32(q)) << 32 | UInt64(Self.be32(q + 4)))
        }
    }

    @inline(__always) private static func be32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
    }

    private func convert<T>(_ p: UnsafePointer<UInt8>, _ n: Int, _ dst: UnsafeMutablePointer<T>, _ scale: Double, _ f: (Double) -> T) {
        if elementType == .uint8 {
            // The MNIST case: a 256-entry table instead of per-element arithmetic.
            let table = (0..<256).map { f(Double($0) * scale) }
            table.withUnsafeBufferPointer { t in for i in 0..<n { dst[i] = t[Int(p[i])] } }
        } else if scale == 1 {
            for i in 0..<n { dst[i] = f(value(p, i)) }
        } else {
            for i in 0..<n { dst[i] = f(value(p, i) * scale) }
        }
    }

    // MARK: Writing

    /// IDX bytes for `tensor` stored as `type` (values are converted, integers rounded toward zero and clamped).
    public static func encode(_ tensor: Tensor, as type: ElementType) -> [UInt8] {
        require(tensor.rank >= 1 && tensor.rank <= 255, "IDXFile.encode: rank must be 1...255, got shape \(tensor.shape)")
        require(tensor.shape.allSatisfy { $0 <= Int(UInt32.max) }, "IDXFile.encode: extent too large for IDX in shape \(tensor.shape)")
        var out: [UInt8] = [0, 0, type.rawValue, UInt8(tensor.rank)]
        for d in tensor.shape { appendBE32(&out, UInt32(d)) }
        out.reserveCapacity(out.count + tensor.count * type.byteSize)
        for v in tensor.scalars(as: Double.self) {
            switch type {
            case .uint8: out.append(UInt8(clamping: Int(clampedInteger(v))))
            case .int8: out.append(UInt8(bitPattern: Int8(clamping: Int(clampedInteger(v)))))
            case .int16:
                let x = UInt16(bitPattern: Int16(clamping: Int(clampedInteger(v))))
                out.append(UInt8(x >> 8)); out.append(UInt8(x & 0xFF))
            case .int32: appendBE32(&out, UInt32(bitPattern: Int32(clamping: Int(clampedInteger(v)))))
            case .float32: appendBE32(&out, Float(v).bitPattern)
            case .float64:
                let b = v.bitPattern
                appendBE32(&out, UInt32(truncatingIfNeeded: b >> 32)); appendBE32(&out, UInt32(truncatingIfNeeded: b))
            }
        }
        return out
    }

    /// Writes `tensor` as an IDX file (gzip'd when `gzip`).
    public static func write(_ tensor: Tensor, as type: ElementType, to url: URL, gzip: Bool = false) throws {
        let raw = encode(tensor, as: type)
        try Data(gzip ? Gzip.compress(raw) : raw).write(to: url, options: .atomic)
    }

    private static func clampedInteger(_ v: Double) -> Double {
        guard v.isFinite else { return v.isNaN ? 0 : (v > 0 ? 2e9 : -2e9) }
        return Swift.max(-2e9, Swift.min(2e9, v.rounded(.towardZero)))
    }

    private static func appendBE32(_ out: inout [UInt8], _ x: UInt32) {
        out.append(UInt8(x >> 24)); out.append(UInt8((x >> 16) & 0xFF)); out.append(UInt8((x >> 8) & 0xFF)); out.append(UInt8(x & 0xFF))
    }
}

/// Readers for the two kinds of IDX file in MNIST-style data sets.
public enum IDX {
    /// Images as float32 `[N, 1, H, W]` (a channel axis is added to `[N, H, W]`
    /// files; `[N, C, H, W]` files keep theirs). With `scaled` (the default),
    /// ubyte pixels are divided by 255 into [0, 1]; otherwise they keep their raw values.
    public static func readImages(_ url: URL, scaled: Bool = true) throws -> Tensor {
        try images(IDXFile(contentsOf: url), scaled: scaled)
    }

    /// Labels as int64 `[N]`.
    public static func readLabels(_ url: URL) throws -> Tensor {
        try labels(IDXFile(contentsOf: url))
    }

    public static func images(_ file: IDXFile, scaled: Bool = true) throws -> Tensor {
        guard file.shape.count == 3 || file.shape.count == 4 else {
            throw DataError(.corrupt, file: file.name,
                            "holds an array of shape \(file.shape); images need 3 dimensions [N, H, W] (or 4: [N, C, H, W])")
        }
        let scale = scaled && file.elementType == .uint8 ? 1.0 / 255 : 1
        let t = file.tensor(dtype: .float32, scale: scale)
        return file.shape.count == 3 ? t.reshaped([file.shape[0], 1, file.shape[1], file.shape[2]]) : t
    }

    public static func labels(_ file: IDXFile) throws -> Tensor {
        guard file.shape.count == 1 else {
            throw DataError(.corrupt, file: file.name, "holds an array of shape \(file.shape); labels need 1 dimension [N]")
        }
        guard file.elementType.isInteger else {
            throw DataError(.corrupt, file: file.name, "holds \(file.elementType) values; labels must be integers")
        }
        return file.tensor(dtype: .int64)
    }
}
