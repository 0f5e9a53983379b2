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
        require(storage.count == shape.reduce(1, *),
                "Tensor(storage:shape:): \(storage.count) elements cannot have shape \(shape)")
        self.storage = storage
        self.shape = shape
        self.gradNode = nil
    }

    /// A tensor whose elements are not initialised: for kernels that write every element.
    public init(uninitializedShape shape: [Int], dtype: DType) {
        var n = 1, negative = false
        for d in shape { negative = negative || d < 0; n *= d }
        require(!negative, "Tensor: negative extent in shape \(shape)")
        self.storage = TensorStorage(count: n, dtype: dtype)
        self.shape = shape
        self.gradNode = nil
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
        require(dtype == .bool, "bools(): tensor has dtype \(dtype), not bool")
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
        require(count == 1, "item(): tensor of shape \(shape) has \(count) elements, not 1")
        return scalars(as: Float.self)[0]
    }

    /// The single value of a one-element tensor, as a Double.
    public func itemDouble() -> Double {
        require(count == 1, "itemDouble(): tensor of shape \(shape) has \(count) elements, not 1")
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
        require(T.dtype == dtype, "withUnsafeMutablePointer: tensor has dtype \(dtype), not \(T.dtype)")
        makeUnique()
        return try body(storage.pointer(as: T.self))
    }

    /// Reads this tensor's elements.
    public func withUnsafePointer<T: TensorScalar, R>(
        as type: T.Type, _ body: (UnsafePointer<T>) throws -> R
    ) rethrows -> R {
        require(T.dtype == dtype, "withUnsafePointer: tensor has dtype \(dtype), not \(T.dtype)")
        return try withExtendedLifetime(storage) { try body(storage.pointer(as: T.self)) }
    }
}

// MARK: - Construction from Swift values

extension Tensor {
    /// A tensor holding `scalars` with the given shape; float32 unless `dtype` says otherwise.
    /// A count that does not fill `shape` is a programming error (it stops, see `require`); use
    /// `init(validating:shape:dtype:)` for data that may be wrong.
    public init<T: TensorScalar>(_ scalars: [T], shape: [Int]? = nil, dtype: DType? = nil) {
        let shape = shape ?? [scalars.count]
        require(shape.allSatisfy { $0 >= 0 }, "Tensor(_:shape:): negative extent in shape \(shape)")
        require(Self.checkedCount(shape) == scalars.count,
                "Tensor(_:shape:): \(scalars.count) values cannot fill shape \(shape)")
        self.init(copying: scalars, shape: shape, dtype: dtype ?? T.dtype)
    }

    /// A tensor holding `scalars` with the given shape, throwing `TensorError` when the
    /// shape has a negative extent or does not hold exactly `scalars.count` values.
    public init<T: TensorScalar>(validating scalars: [T], shape: [Int], dtype: DType? = nil) throws {
        guard let n = Self.checkedCount(shape) else { throw TensorError.invalidShape(shape) }
        guard n == scalars.count else { throw TensorError.countMismatch(expected: n, found: scalars.count, shape: shape) }
        self.init(copying: scalars, shape: shape, dtype: dtype ?? T.dtype)
    }

    private init<T: TensorScalar>(copying scalars: [T], shape: [Int], dtype target: DType) {
        self.init(uninitializedShape: shape, dtype: target)
        let dst = storage.bytes
        scalars.withUnsafeBytes { src in
            // An empty array may have no base address; there is nothing to copy then.
            guard let base = src.baseAddress else { return }
            Self.castCopy(from: base, T.dtype, to: dst, target, count: scalars.count)
        }
    }

    /// The number of elements of `shape`, or nil when an extent is negative or the
    /// product overflows.
    static func checkedCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = p
        }
        return n
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
    /// The first element at each depth fixes the shape; then it throws
    /// `TensorError.raggedArray` for a row of another length, `.mixedDepth` for a
    /// number where an array belongs (or the reverse), `.unsupportedElement` for a
    /// leaf that is not a number, and `.invalidValue` for NaN, infinity or an
    /// out-of-range value bound for an integer dtype. Integers reach integer dtypes exactly.
    public init(nested: Any, dtype: DType = .float32) throws {
        var shape: [Int] = []
        var probe = nested
        while let array = probe as? [Any] {
            shape.append(array.count)
            guard let first = array.first else { break }
            probe = first
        }
        var sink = LeafSink(dtype: dtype, capacity: Shape.count(shape))
        try Self.collect(nested, depth: 0, shape: shape, path: "", into: &sink)
        switch sink.storage {
        case .doubles(let v): self.init(v, shape: shape, dtype: dtype)
        case .ints(let v): self.init(v, shape: shape, dtype: dtype)
        }
    }

    /// Leaves gathered in the type that converts to `dtype` without loss.
    private struct LeafSink {
        enum Values { case doubles([Double]), ints([Int64]) }
        let dtype: DType
        var storage: Values
        init(dtype: DType, capacity: Int) {
            self.dtype = dtype
            if dtype == .int32 || dtype == .int64 {
                var v: [Int64] = []; v.reserveCapacity(capacity); storage = .ints(v)
            } else {
                var v: [Double] = []; v.reserveCapacity(capacity); storage = .doubles(v)
            }
        }
        mutating func append(_ leaf: Leaf, path: String) throws {
            switch storage {
            case .doubles(var v):
                storage = .doubles([])  // keep `v` uniquely referenced while appending
                switch leaf {
                case .int(let i): v.append(Double(i))
                case .double(let d): v.append(d)
                }
                storage = .doubles(v)
            case .ints(var v):
                storage = .ints([])
                let i: Int64
                switch leaf {
                case .int(let x): i = x
                case .double(let d):
                    guard d.isFinite, d > -9_223_372_036_854_775_808.0 - 1, d < 9_223_372_036_854_775_808.0 else {
                        throw TensorError.invalidValue("element \(Self.describe(path)) is \(d), which has no \(dtype) value")
                    }
                    i = Int64(d)  // truncates toward zero, as torch.tensor(..., dtype=int64)
                }
                if dtype == .int32 && Int32(exactly: i) == nil {
                    throw TensorError.invalidValue("element \(Self.describe(path)) is \(i), which does not fit in int32")
                }
                v.append(i)
                storage = .ints(v)
            }
        }
        static func describe(_ path: String) -> String { path.isEmpty ? "at the top level" : path }
    }

    private enum Leaf { case int(Int64), double(Double) }

    private static func collect(_ v: Any, depth: Int, shape: [Int], path: String, into sink: inout LeafSink) throws {
        if depth < shape.count {
            guard let array = v as? [Any] else {
                throw TensorError.mixedDepth(path: path, expected: "an array of \(shape[depth])", found: describeKind(v))
            }
            guard array.count == shape[depth] else {
                throw TensorError.raggedArray(path: path, expected: shape[depth], found: array.count)
            }
            for (i, e) in array.enumerated() {
                try collect(e, depth: depth + 1, shape: shape, path: path + "[\(i)]", into: &sink)
            }
            return
        }
        if let array = v as? [Any] {
            throw TensorError.mixedDepth(path: path, expected: "a number", found: "an array of \(array.count)")
        }
        guard let leaf = leaf(v) else {
            throw TensorError.unsupportedElement(path: path, type: String(describing: type(of: v)))
        }
        try sink.append(leaf, path: path)
    }

    private static func describeKind(_ v: Any) -> String {
        leaf(v) == nil ? "a \(type(of: v))" : "a number"
    }

    private static func leaf(_ v: Any) -> Leaf? {
        switch v {
        case let x as Int: return .int(Int64(x))
        case let x as Double: return .double(x)
        case let x as Float: return .double(Double(x))
        case let x as Int64: return .int(x)
        case let x as Int32: return .int(Int64(x))
        case let x as Int16: return .int(Int64(x))
        case let x as Int8: return .int(Int64(x))
        case let x as UInt8: return .int(Int64(x))
        case let x as UInt16: return .int(Int64(x))
        case let x as UInt32: return .int(Int64(x))
        case let x as UInt64: return Int64(exactly: x).map { .int($0) } ?? .double(Double(x))
        case let x as UInt: return Int64(exactly: x).map { .int($0) } ?? .double(Double(x))
        case let x as Bool: return .int(x ? 1 : 0)
        case let x as NSNumber:  // JSONSerialization
            let d = x.doubleValue
            if let i = Int64(exactly: d), x.int64Value == i { return .int(i) }
            return .double(d)
        default: return nil
        }
    }

    /// A tensor read from raw little-endian bytes (a file, a network buffer).
    /// Throws when the shape has a negative extent, when the byte count does not
    /// match the shape and dtype, and when a bool byte is neither 0 nor 1.
    public init(bytes: some Collection<UInt8>, shape: [Int], dtype: DType) throws {
        guard let n = Self.checkedCount(shape) else { throw TensorError.invalidShape(shape) }
        let (expected, overflow) = n.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw TensorError.invalidShape(shape) }
        guard bytes.count == expected else {
            throw TensorError.byteCountMismatch(expected: expected, found: bytes.count, shape: shape, dtype: dtype)
        }
        if dtype == .bool, let (i, b) = bytes.enumerated().first(where: { $0.element > 1 }) {
            throw TensorError.invalidValue("byte \(b) at index \(i) is not a bool (0 or 1)")
        }
        self.init(uninitializedShape: shape, dtype: dtype)
        let dst = UnsafeMutableRawBufferPointer(start: storage.bytes, count: expected)
        dst.copyBytes(from: bytes)
    }

    /// Converting copy between element types (memcpy when they are the same). Float to
    /// integer truncates toward zero and saturates (NaN becomes 0) instead of trapping.
    static func castCopy(from src: UnsafeRawPointer, _ s: DType, to dst: UnsafeMutableRawPointer, _ d: DType, count n: Int) {
        if s == d { memcpy(dst, src, n * s.byteSize); return }
        func read<S: TensorScalar>(_: S.Type, _ f: (S) -> Double) {
            let sp = src.assumingMemoryBound(to: S.self)
            switch d {
            case .float32: let dp = dst.assumingMemoryBound(to: Float.self); for i in 0..<n { dp[i] = Float(f(sp[i])) }
            case .float64: let dp = dst.assumingMemoryBound(to: Double.self); for i in 0..<n { dp[i] = f(sp[i]) }
            case .int32: let dp = dst.assumingMemoryBound(to: Int32.self); for i in 0..<n { dp[i] = Int32(clamping: saturatingInt64(f(sp[i]))) }
            case .int64: let dp = dst.assumingMemoryBound(to: Int64.self); for i in 0..<n { dp[i] = saturatingInt64(f(sp[i])) }
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
/// Misuse inside tensor arithmetic stops with a message instead (see `require`).
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// A row whose length differs from the first row at its depth (`expected`).
    case raggedArray(path: String, expected: Int?, found: Int)
    /// A number where an array belongs, or an array where a number belongs.
    case mixedDepth(path: String, expected: String, found: String)
    /// A leaf that is not a number (a String, a Date, ...).
    case unsupportedElement(path: String, type: String)
    case byteCountMismatch(expected: Int, found: Int, shape: [Int], dtype: DType)
    /// A flat array whose count does not fill the shape.
    case countMismatch(expected: Int, found: Int, shape: [Int])
    /// A negative extent, or a shape too large to count.
    case invalidShape([Int])
    case invalidValue(String)

    public var description: String {
        switch self {
        case let .raggedArray(path, expected, found):
            let at = path.isEmpty ? "the top level" : "element \(path)"
            if let expected {
                return "ragged nested array: \(at) has \(found) entries where the first row at that depth has \(expected); every row must be the same length"
            }
            return "ragged nested array: \(at) mixes numbers and arrays; every row must be the same depth"
        case let .mixedDepth(path, expected, found):
            let at = path.isEmpty ? "the top level" : "element \(path)"
            return "nested array of mixed depth: \(at) is \(found) where \(expected) was expected; every row must be the same depth"
        case let .unsupportedElement(path, type):
            let at = path.isEmpty ? "the top-level value" : "nested array element \(path)"
            return "\(at) is a \(type), not a number"
        case let .byteCountMismatch(expected, found, shape, dtype):
            return "\(found) bytes cannot hold a \(dtype) tensor of shape \(shape), which needs \(expected) bytes"
        case let .countMismatch(expected, found, shape):
            return "\(found) values cannot fill shape \(shape), which holds \(expected)"
        case let .invalidShape(shape):
            return "invalid shape \(shape): extents must be non-negative and their product must fit in Int"
        case let .invalidValue(message):
            return "invalid value: \(message)"
        }
    }
}
