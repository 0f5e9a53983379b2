import RealModule

/// Floating-point element types the compute kernels are generic over. Kernels are
/// written once for `T: FloatElement` and specialised for Float and Double.
public protocol FloatElement: TensorScalar, BinaryFloatingPoint, Real {}
extension Float: FloatElement {}
extension Double: FloatElement {}

/// A binary function applied element by element, e.g. `a + b`.
public protocol BinaryFunction {
    static func apply<T: FloatElement>(_ a: T, _ b: T) -> T
}

/// A unary function applied element by element, e.g. `exp(x)`.
public protocol UnaryFunction {
    static func apply<T: FloatElement>(_ x: T) -> T
}

/// Drivers that walk broadcast operands and hand contiguous rows to a loop body.
public enum Kernels {
    /// Calls `row(offsetA, strideA, offsetB, strideB, offsetOut, n)` for rows of the
    /// broadcast output, where each operand's inner stride is 0 (broadcast) or 1.
    /// Dimensions are collapsed first so common cases ([N,C] + [C], same shapes,
    /// tensor + scalar) become one or a few long rows.
    @inlinable
    public static func forEachBroadcastRow(
        outShape: [Int], aShape: [Int], bShape: [Int],
        _ row: (_ oa: Int, _ sa: Int, _ ob: Int, _ sb: Int, _ oo: Int, _ n: Int) -> Void
    ) {
        let n = outShape.count
        let total = Shape.count(outShape)
        if total == 0 { return }
        // Per-dimension element strides of each operand in the output's index space (0 = broadcast).
        var sa = [Int](repeating: 0, count: n), sb = [Int](repeating: 0, count: n)
        var acc = 1
        for i in stride(from: aShape.count - 1, through: 0, by: -1) {
            if aShape[i] != 1 { sa[i + n - aShape.count] = acc }
            acc *= aShape[i]
        }
        acc = 1
        for i in stride(from: bShape.count - 1, through: 0, by: -1) {
            if bShape[i] != 1 { sb[i + n - bShape.count] = acc }
            acc *= bShape[i]
        }
        // Collapse adjacent dims when both operands continue contiguously (or both broadcast).
        var dims: [Int] = [], da: [Int] = [], db: [Int] = []
        for i in 0..<n where outShape[i] != 1 {
            if let last = dims.indices.last,
               da[last] == sa[i] * outShape[i], db[last] == sb[i] * outShape[i] {
                dims[last] *= outShape[i]; da[last] = sa[i]; db[last] = sb[i]
            } else {
                dims.append(outShape[i]); da.append(sa[i]); db.append(sb[i])
            }
        }
        if dims.isEmpty { row(0, 0, 0, 0, 0, 1); return }
        let inner = dims.count - 1
        let len = dims[inner], ia = da[inner], ib = db[inner]
        require(ia <= 1 && ib <= 1, "internal: inner broadcast stride must be 0 or 1")
        if inner == 0 { row(0, ia, 0, ib, 0, len); return }
        // Odometer over the outer dims.
        var index = [Int](repeating: 0, count: inner)
        var oa = 0, ob = 0, oo = 0
        let rows = total / len
        for _ in 0..<rows {
            row(oa, ia, ob, ib, oo, len)
            oo += len
            var d = inner - 1
            while d >= 0 {
                index[d] += 1; oa += da[d]; ob += db[d]
                if index[d] < dims[d] { break }
                oa -= da[d] * dims[d]; ob -= db[d] * dims[d]; index[d] = 0
                d -= 1
            }
        }
    }

    /// `out = F(a, b)` with broadcasting, for one float type.
    @inlinable
    public static func binary<T: FloatElement, F: BinaryFunction>(
        _ f: F.Type, _ a: UnsafePointer<T>, _ aShape: [Int], _ b: UnsafePointer<T>, _ bShape: [Int],
        _ out: UnsafeMutablePointer<T>, _ outShape: [Int]
    ) {
        binary(StaticBinary<F>(), a, aShape, b, bShape, out, outShape)
    }

    /// `out = op(a, b)` with broadcasting, for one float type (an op that carries parameters).
    @inlinable
    public static func binary<T: FloatElement, Op: BinaryOperation>(
        _ op: Op, _ a: UnsafePointer<T>, _ aShape: [Int], _ b: UnsafePointer<T>, _ bShape: [Int],
        _ out: UnsafeMutablePointer<T>, _ outShape: [Int]
    ) {
        broadcastMap(FloatBinaryMapping<T, Op>(op: op), a, aShape, b, bShape, out, outShape)
    }

    /// `out = m(a, b)` with broadcasting for any element types (comparisons write Bool,
    /// integer arithmetic stays integer). Same shapes and scalar operands run as one flat
    /// loop split over cores; other shapes walk collapsed broadcast rows.
    @inlinable
    public static func broadcastMap<M: BinaryMapping>(
        _ m: M, _ a: UnsafePointer<M.A>, _ aShape: [Int], _ b: UnsafePointer<M.B>, _ bShape: [Int],
        _ out: UnsafeMutablePointer<M.Out>, _ outShape: [Int]
    ) {
        let total = Shape.count(outShape)
        let countA = Shape.count(aShape), countB = Shape.count(bShape)
        if countA == total && countB == total {
            // Same element count (same shape, or shapes differing only by 1s): one flat loop.
            Threading.parallelFor(total) { r in
                for i in r { out[i] = m.map(a[i], b[i]) }
            }
            return
        }
        if countB == 1, countA == total {
            let bv = b[0]
            Threading.parallelFor(total) { r in
                for i in r { out[i] = m.map(a[i], bv) }
            }
            return
        }
        if countA == 1, countB == total {
            let av = a[0]
            Threading.parallelFor(total) { r in
                for i in r { out[i] = m.map(av, b[i]) }
            }
            return
        }
        forEachBroadcastRow(outShape: outShape, aShape: aShape, bShape: bShape) { oa, sa, ob, sb, oo, n in
            let pa = a + oa, pb = b + ob, po = out + oo
            switch (sa, sb) {
            case (1, 1): for i in 0..<n { po[i] = m.map(pa[i], pb[i]) }
            case (1, 0): let bv = pb[0]; for i in 0..<n { po[i] = m.map(pa[i], bv) }
            case (0, 1): let av = pa[0]; for i in 0..<n { po[i] = m.map(av, pb[i]) }
            default: let v = m.map(pa[0], pb[0]); for i in 0..<n { po[i] = v }
            }
        }
    }

    /// `out = F(x)`, for one float type.
    @inlinable
    public static func unary<T: FloatElement, F: UnaryFunction>(
        _ f: F.Type, _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, _ count: Int
    ) {
        unary(StaticUnary<F>(), x, out, count)
    }

    /// `out = op(x)`, for one float type (an op that carries parameters).
    @inlinable
    public static func unary<T: FloatElement, Op: UnaryOperation>(
        _ op: Op, _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, _ count: Int
    ) {
        Threading.parallelFor(count) { r in
            for i in r { out[i] = op.apply(x[i]) }
        }
    }
}

/// A unary float function with parameters (slopes, bounds), e.g. `leakyRelu(negativeSlope:)`.
/// Parameters are stored as Double and converted per type; the conversion is loop-invariant.
public protocol UnaryOperation {
    func apply<T: FloatElement>(_ x: T) -> T
}

/// A binary float function with parameters.
public protocol BinaryOperation {
    func apply<T: FloatElement>(_ a: T, _ b: T) -> T
}

/// An element-wise map between fixed element types, run by `Kernels.broadcastMap`.
public protocol BinaryMapping {
    associatedtype A
    associatedtype B
    associatedtype Out
    func map(_ a: A, _ b: B) -> Out
}

/// Adapts a static `UnaryFunction` to `UnaryOperation`.
public struct StaticUnary<F: UnaryFunction>: UnaryOperation {
    @inlinable public init() {}
    @inlinable public func apply<T: FloatElement>(_ x: T) -> T { F.apply(x) }
}

/// Adapts a static `BinaryFunction` to `BinaryOperation`.
public struct StaticBinary<F: BinaryFunction>: BinaryOperation {
    @inlinable public init() {}
    @inlinable public func apply<T: FloatElement>(_ a: T, _ b: T) -> T { F.apply(a, b) }
}

/// A float `BinaryOperation` fixed to one element type.
public struct FloatBinaryMapping<T: FloatElement, Op: BinaryOperation>: BinaryMapping {
    public let op: Op
    @inlinable public init(op: Op) { self.op = op }
    @inlinable public func map(_ a: T, _ b: T) -> T { op.apply(a, b) }
}

/// A binary function on integers (wrapping on overflow, as PyTorch's integer tensors).
public protocol IntegerBinaryFunction: BinaryFunction {
    static func applyInteger<I: FixedWidthInteger>(_ a: I, _ b: I) -> I
}

/// An integer function fixed to one element type.
public struct IntegerBinaryMapping<I: FixedWidthInteger, F: IntegerBinaryFunction>: BinaryMapping {
    @inlinable public init() {}
    @inlinable public func map(_ a: I, _ b: I) -> I { F.applyInteger(a, b) }
}

extension Tensor {
    /// The float dtype two operands compute in (PyTorch's type promotion, restricted to what Myelin computes in).
    static func promoted(_ a: DType, _ b: DType) -> DType {
        if a == .float64 || b == .float64 { return .float64 }
        if a == .float32 || b == .float32 { return .float32 }
        if a == b { return a }
        return .int64
    }

    /// Applies a broadcasting binary float function; both operands are cast to a common float dtype.
    /// Integer operands stay integer when `F` also has an integer form (add, sub, mul).
    public static func applyBinary<F: BinaryFunction>(_ f: F.Type, _ a: Tensor, _ b: Tensor, op: String) -> Tensor {
        // The dynamic cast runs only for integer operands, so float calls pay nothing for it.
        let dt = promoted(a.dtype, b.dtype)
        if dt == .int64 || dt == .int32, let integerForm = F.self as? any IntegerBinaryFunction.Type {
            return applyIntegerBinary(integerForm, a, b, dtype: dt, op: op)
        }
        return applyBinary(StaticBinary<F>(), a, b, op: op)
    }

    /// Applies a broadcasting binary float operation (one that carries parameters).
    public static func applyBinary<Op: BinaryOperation>(_ f: Op, _ a: Tensor, _ b: Tensor, op: String) -> Tensor {
        let outShape = Shape.broadcastOrFail(a.shape, b.shape, op: op)
        var dt = promoted(a.dtype, b.dtype)
        if !dt.isFloatingPoint { dt = .float32 }
        let a = a.dtype == dt ? a : a.detached().to(dt), b = b.dtype == dt ? b : b.detached().to(dt)
        var out = Tensor(uninitializedShape: outShape, dtype: dt)
        switch dt {
        case .float64:
            Kernels.binary(f, a.storage.pointer(as: Double.self), a.shape, b.storage.pointer(as: Double.self), b.shape,
                           out.storage.pointer(as: Double.self), outShape)
        default:
            Kernels.binary(f, a.storage.pointer(as: Float.self), a.shape, b.storage.pointer(as: Float.self), b.shape,
                           out.storage.pointer(as: Float.self), outShape)
        }
        withExtendedLifetime((a, b)) {}
        out.gradNode = nil
        return out
    }

    static func applyIntegerBinary<F: IntegerBinaryFunction>(_ f: F.Type, _ a: Tensor, _ b: Tensor, dtype dt: DType, op: String) -> Tensor {
        let outShape = Shape.broadcastOrFail(a.shape, b.shape, op: op)
        let a = a.to(dt), b = b.to(dt)
        let out = Tensor(uninitializedShape: outShape, dtype: dt)
        if dt == .int32 {
            Kernels.broadcastMap(IntegerBinaryMapping<Int32, F>(), a.storage.pointer(as: Int32.self), a.shape,
                                 b.storage.pointer(as: Int32.self), b.shape, out.storage.pointer(as: Int32.self), outShape)
        } else {
            Kernels.broadcastMap(IntegerBinaryMapping<Int64, F>(), a.storage.pointer(as: Int64.self), a.shape,
                                 b.storage.pointer(as: Int64.self), b.shape, out.storage.pointer(as: Int64.self), outShape)
        }
        withExtendedLifetime((a, b)) {}
        return out
    }

    /// Applies a unary float function (integer inputs are computed in float32).
    public func applyUnary<F: UnaryFunction>(_ f: F.Type) -> Tensor {
        applyUnary(StaticUnary<F>())
    }

    /// Applies a unary float operation that carries parameters (integer inputs are computed in float32).
    public func applyUnary<Op: UnaryOperation>(_ f: Op) -> Tensor {
        let x = dtype.isFloatingPoint ? self : self.to(.float32)
        let out = Tensor(uninitializedShape: shape, dtype: x.dtype)
        switch x.dtype {
        case .float64: Kernels.unary(f, x.storage.pointer(as: Double.self), out.storage.pointer(as: Double.self), count)
        default: Kernels.unary(f, x.storage.pointer(as: Float.self), out.storage.pointer(as: Float.self), count)
        }
        withExtendedLifetime(x) {}
        return out
    }
}
