import Foundation

/// An n-dimensional array of numbers that can record the operations applied to
/// it, so gradients can flow back through them (define-by-run, as PyTorch).
///
/// `Tensor` is a value: copies share storage until one is written. Data are
/// row-major and contiguous; `reshaped` is free, `transposed` copies (a fast
/// kernel) rather than carrying strides through every kernel.
public struct Tensor: @unchecked Sendable {
    /// The bytes. Several tensors may share one storage (copy-on-write).
    public internal(set) var storage: TensorStorage
    /// The extent of each dimension; `[]` for a scalar.
    public internal(set) var shape: [Int]
    /// The autograd node: a leaf that accumulates `.grad`, or the record of the
    /// operation that produced this tensor. `nil` when no gradient is needed.
    var gradNode: GradNode?

    /// Wraps existing storage (no copy). `storage.count` must equal the product of `shape`.
    public init(storage: TensorStorage, shape: [Int]) {
        precondition(storage.count == shape.reduce(1, *),
                     "Tensor(storage:shape:): \(storage.count) elements cannot have shape \(shape)")
        self.storage = storage
        self.shape = shape
        self.gradNode = nil
    }

    /// A tensor whose elements are not initialised: for kernels that write every element.
    public init(uninitializedShape shape: [Int], dtype: DType) {
        self.init(storage: TensorStorage(count: shape.reduce(1, *), dtype: dtype), shape: shape)
    }

    // MARK: Shape and type

    public var dtype: DType { storage.dtype }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of elements (PyTorch's `numel`).
    public var count: Int { storage.count }
    public var isScalar: Bool { shape.isEmpty }

    // MARK: Element access

    /// All elements in row-major order, converted to `T`.
    public func scalars<T: TensorScalar & BinaryFloatingPoint>(as type: T.Type = Float.self) -> [T] {
        let n = count
        switch dtype {
        case .float32: return Self.convert(storage.pointer(as: Float.self), n) { T($0) }
        case .float64: return Self.convert(storage.pointer(as: Double.self), n) { T($0) }
        case .int32: return Self.convert(storage.pointer(as: Int32.self), n) { T($0) }
        case .int64: return Self.convert(storage.pointer(as: Int64.self), n) { T($0) }
        case .bool: return Self.convert(storage.pointer(as: Bool.self), n) { $0 ? 1 : 0 }
        }
    }

    /// All elements as integers (truncating floats, as a cast does).
    public func integers() -> [Int] {
        let n = count
        switch dtype {
        case .float32: return Self.convert(storage.pointer(as: Float.self), n) { Int($0) }
        case .float64: return Self.convert(storage.pointer(as: Double.self), n) { Int($0) }
        case .int32: return Self.convert(storage.pointer(as: Int32.self), n) { Int($0) }
        case .int64: return Self.convert(storage.pointer(as: Int64.self), n) { Int($0) }
        case .bool: return Self.convert(storage.pointer(as: Bool.self), n) { $0 ? 1 : 0 }
        }
    }

    /// The elements of a bool tensor.
    public func bools() -> [Bool] {
        precondition(dtype == .bool, "bools(): tensor has dtype \(dtype), not bool")
        return Array(UnsafeBufferPointer(start: storage.pointer(as: Bool.self), count: count))
    }

    @inline(__always) static func convert<S, T>(_ p: UnsafePointer<S>, _ n: Int, _ f: (S) -> T) -> [T] {
        [T](unsafeUninitializedCapacity: n) { buf, initialized in
            for i in 0..<n { buf[i] = f(p[i]) }
            initialized = n
        }
    }

    /// The single value of a one-element tensor, as a Float (PyTorch's `item()`).
    public func item() -> Float {
        precondition(count == 1, "item(): tensor of shape \(shape) has \(count) elements, not 1")
        return scalars(as: Float.self)[0]
    }

    /// The single value of a one-element tensor, as a Double.
    public func itemDouble() -> Double {
        precondition(count == 1, "itemDouble(): tensor of shape \(shape) has \(count) elements, not 1")
        return scalars(as: Double.self)[0]
    }

    /// Makes the storage unique before an in-place write (copy-on-write).
    public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// Writes to this tensor's elements in place (after making its storage unique).
    /// Not recorded by autograd: use it for optimizer updates and initialisation.
    public mutating func withUnsafeMutablePointer<T: TensorScalar, R>(
        as type: T.Type, _ body: (UnsafeMutablePointer<T>) throws -> R
    ) rethrows -> R {
        precondition(T.dtype == dtype, "withUnsafeMutablePointer: tensor has dtype \(dtype), not \(T.dtype)")
        makeUnique()
        return try body(storage.pointer(as: T.self))
    }

    /// Reads this tensor's elements.
    public func withUnsafePointer<T: TensorScalar, R>(
        as type: T.Type, _ body: (UnsafePointer<T>) throws -> R
    ) rethrows -> R {
        precondition(T.dtype == dtype, "withUnsafePointer: tensor has dtype \(dtype), not \(T.dtype)")
        return try withExtendedLifetime(storage) { try body(storage.pointer(as: T.self)) }
    }
}

// MARK: - Construction from Swift values

extension Tensor {
    /// A tensor holding `scalars` with the given shape; float32 unless `dtype` says otherwise.
    public init<T: TensorScalar>(_ scalars: [T], shape: [Int]? = nil, dtype: DType? = nil) {
        let shape = shape ?? [scalars.count]
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor(_:shape:): negative extent in shape \(shape)")
        precondition(shape.reduce(1, *) == scalars.count,
                     "Tensor(_:shape:): \(scalars.count) values cannot fill shape \(shape)")
        let target = dtype ?? T.dtype
        self.init(uninitializedShape: shape, dtype: target)
        scalars.withUnsafeBufferPointer { src in
            Self.castCopy(from: UnsafeRawPointer(src.baseAddress!), T.dtype, to: storage.bytes, target, count: scalars.count)
        }
    }

    /// A float32 tensor from Double literals (`Tensor([1.5, 2.5])`), as PyTorch's default dtype.
    public init(_ scalars: [Double], shape: [Int]? = nil) {
        self.init(scalars, shape: shape, dtype: .float32)
    }

    /// An int64 tensor from integer literals (`Tensor([1, 2, 3])`), as `torch.tensor`.
    public init(_ scalars: [Int], shape: [Int]? = nil) {
        self.init(scalars.map { Int64($0) }, shape: shape, dtype: .int64)
    }

    /// A rank-0 tensor.
    public init(scalar: Float) { self.init([scalar], shape: []) }
    public init(scalar: Double, dtype: DType = .float32) { self.init([scalar], shape: [], dtype: dtype) }

    /// Nested Swift arrays: `try Tensor([[1, 2], [3, 4]])`. Throws when rows differ in length.
    public init(_ rows: [[Double]], dtype: DType = .float32) throws {
        try self.init(nested: rows, dtype: dtype)
    }
    public init(_ planes: [[[Double]]], dtype: DType = .float32) throws {
        try self.init(nested: planes, dtype: dtype)
    }
    public init(_ rows: [[Int]], dtype: DType = .int64) throws {
        try self.init(nested: rows, dtype: dtype)
    }

    /// A tensor from arbitrarily nested arrays of numbers (`[[[Float]]]`, `[Any]` from JSON, ...).
    /// Throws `TensorError.raggedArray` when the rows are not all the same length and
    /// `TensorError.unsupportedElement` when a leaf is not a number.
    public init(nested: Any, dtype: DType = .float32) throws {
        var shape: [Int] = []
        var values: [Double] = []
        try Self.flatten(nested, depth: 0, shape: &shape, into: &values, path: "")
        self.init(values, shape: shape, dtype: dtype)
    }

    private static func flatten(_ v: Any, depth: Int, shape: inout [Int], into out: inout [Double], path: String) throws {
        if let array = v as? [Any] {
            if depth == shape.count {
                // The first path down fixes the shape; an array found deeper later is ragged.
                if !out.isEmpty { throw TensorError.raggedArray(path: path, expected: nil, found: array.count) }
                shape.append(array.count)
            } else if shape[depth] != array.count {
                throw TensorError.raggedArray(path: path, expected: shape[depth], found: array.count)
            }
            for (i, e) in array.enumerated() {
                try flatten(e, depth: depth + 1, shape: &shape, into: &out, path: path + "[\(i)]")
            }
            return
        }
        guard depth == shape.count else {
            throw TensorError.raggedArray(path: path, expected: shape[depth], found: 0)
        }
        switch v {
        case let x as Double: out.append(x)
        case let x as Float: out.append(Double(x))
        case let x as Int: out.append(Double(x))
        case let x as Int32: out.append(Double(x))
        case let x as Int64: out.append(Double(x))
        case let x as Bool: out.append(x ? 1 : 0)
        default: throw TensorError.unsupportedElement(path: path, type: String(describing: type(of: v)))
        }
    }

    /// A tensor read from raw little-endian bytes (a file, a network buffer).
    /// Throws when the byte count does not match the shape and dtype.
    public init(bytes: some Collection<UInt8>, shape: [Int], dtype: DType) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError.invalidShape(shape) }
        let expected = shape.reduce(1, *) * dtype.byteSize
        guard bytes.count == expected else {
            throw TensorError.byteCountMismatch(expected: expected, found: bytes.count, shape: shape, dtype: dtype)
        }
        self.init(uninitializedShape: shape, dtype: dtype)
        let dst = UnsafeMutableRawBufferPointer(start: storage.bytes, count: expected)
        _ = dst.copyBytes(from: bytes) as Void?
        if dtype == .bool {
            let p = storage.bytes.assumingMemoryBound(to: UInt8.self)
            for i in 0..<expected where p[i] > 1 {
                throw TensorError.invalidValue("byte \(p[i]) at index \(i) is not a bool (0 or 1)")
            }
        }
    }

    /// Converting copy between element types (memcpy when they are the same).
    static func castCopy(from src: UnsafeRawPointer, _ s: DType, to dst: UnsafeMutableRawPointer, _ d: DType, count n: Int) {
        if s == d { memcpy(dst, src, n * s.byteSize); return }
        func read<S: TensorScalar>(_: S.Type, _ f: (S) -> Double) {
            let sp = src.assumingMemoryBound(to: S.self)
            switch d {
            case .float32: let dp = dst.assumingMemoryBound(to: Float.self); for i in 0..<n { dp[i] = Float(f(sp[i])) }
            case .float64: let dp = dst.assumingMemoryBound(to: Double.self); for i in 0..<n { dp[i] = f(sp[i]) }
            case .int32: let dp = dst.assumingMemoryBound(to: Int32.self); for i in 0..<n { dp[i] = Int32(truncatingIfNeeded: Int64(f(sp[i]))) }
            case .int64: let dp = dst.assumingMemoryBound(to: Int64.self); for i in 0..<n { dp[i] = Int64(f(sp[i])) }
            case .bool: let dp = dst.assumingMemoryBound(to: Bool.self); for i in 0..<n { dp[i] = f(sp[i]) != 0 }
            }
        }
        switch s {
        case .float32: read(Float.self) { Double($0) }
        case .float64: read(Double.self) { $0 }
        case .int32: read(Int32.self) { Double($0) }
        case .int64: read(Int64.self) { Double($0) }
        case .bool: read(Bool.self) { $0 ? 1 : 0 }
        }
    }

    /// This tensor converted to another element type (a differentiable cast between float types).
    public func to(_ target: DType) -> Tensor {
        if target == dtype { return self }
        var out = Tensor(uninitializedShape: shape, dtype: target)
        Self.castCopy(from: storage.bytes, dtype, to: out.storage.bytes, target, count: count)
        if target.isFloatingPoint && dtype.isFloatingPoint {
            let source = dtype
            out = Autograd.record(out, inputs: [self], name: "to") { g, _ in [g.to(source)] }
        }
        return out
    }
}

/// Errors for things a user's data can get wrong (files, byte buffers, arrays).
/// Misuse inside tensor arithmetic is a precondition failure instead.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case raggedArray(path: String, expected: Int?, found: Int)
    case unsupportedElement(path: String, type: String)
    case byteCountMismatch(expected: Int, found: Int, shape: [Int], dtype: DType)
    case invalidShape([Int])
    case invalidValue(String)

    public var description: String {
        switch self {
        case let .raggedArray(path, expected, found):
            let at = path.isEmpty ? "the top level" : "element \(path)"
            if let expected { return "ragged nested array: \(at) has \(found) entries where its siblings have \(expected); every row must be the same length" }
            return "ragged nested array: \(at) mixes numbers and arrays; every row must be the same depth"
        case let .unsupportedElement(path, type):
            return "nested array element \(path) is a \(type), not a number"
        case let .byteCountMismatch(expected, found, shape, dtype):
            return "\(found) bytes cannot hold a \(dtype) tensor of shape \(shape), which needs \(expected) bytes"
        case let .invalidShape(shape):
            return "invalid shape \(shape): extents must be non-negative"
        case let .invalidValue(message):
            return "invalid value: \(message)"
        }
    }
}
