/// Comparisons (.== .!= .< .<= .> .>=) giving bool tensors, `where`/`select`, and
/// logical and/or/xor/not. Comparisons have no gradient; `where` passes gradients to
/// the operand it selected.

/// A comparison applied element by element.
public protocol ComparisonFunction {
    static func compare<T: Comparable>(_ a: T, _ b: T) -> Bool
}

enum EqualFn: ComparisonFunction { @inlinable static func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a == b } }
enum NotEqualFn: ComparisonFunction { @inlinable static func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a != b } }
enum LessFn: ComparisonFunction { @inlinable static func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a < b } }
enum LessEqualFn: ComparisonFunction { @inlinable static func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a <= b } }
enum GreaterFn: ComparisonFunction { @inlinable static func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a > b } }
enum GreaterEqualFn: ComparisonFunction { @inlinable static func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a >= b } }

/// A comparison fixed to one element type, writing Bool.
public struct ComparisonMapping<T: Comparable, C: ComparisonFunction>: BinaryMapping {
    @inlinable public init() {}
    @inlinable public func map(_ a: T, _ b: T) -> Bool { C.compare(a, b) }
}

/// A logical operation on bools (stored as bytes 0/1).
public protocol LogicalFunction {
    static func apply(_ a: Bool, _ b: Bool) -> Bool
}
enum AndFn: LogicalFunction { @inlinable static func apply(_ a: Bool, _ b: Bool) -> Bool { a && b } }
enum OrFn: LogicalFunction { @inlinable static func apply(_ a: Bool, _ b: Bool) -> Bool { a || b } }
enum XorFn: LogicalFunction { @inlinable static func apply(_ a: Bool, _ b: Bool) -> Bool { a != b } }

public struct LogicalMapping<F: LogicalFunction>: BinaryMapping {
    @inlinable public init() {}
    @inlinable public func map(_ a: Bool, _ b: Bool) -> Bool { F.apply(a, b) }
}

extension Tensor {
    /// The dtype two operands are compared in: their own when equal, else PyTorch's promotion.
    static func comparisonType(_ a: DType, _ b: DType) -> DType {
        a == b ? a : promoted(a, b)
    }

    static func compare<C: ComparisonFunction>(_ c: C.Type, _ a: Tensor, _ b: Tensor, op: String) -> Tensor {
        let outShape = Shape.broadcastOrFail(a.shape, b.shape, op: op)
        let dt = comparisonType(a.dtype, b.dtype)
        let a = a.detached().to(dt), b = b.detached().to(dt)
        let out = Tensor(uninitializedShape: outShape, dtype: .bool)
        let o = out.storage.pointer(as: Bool.self)
        func run<T: TensorScalar & Comparable>(_: T.Type) {
            Kernels.broadcastMap(ComparisonMapping<T, C>(), a.storage.pointer(as: T.self), a.shape,
                                 b.storage.pointer(as: T.self), b.shape, o, outShape)
        }
        switch dt {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        case .int32: run(Int32.self)
        case .int64: run(Int64.self)
        case .bool:
            // Bools compare as 0 < 1.
            Kernels.broadcastMap(ComparisonMapping<UInt8, C>(), UnsafePointer(a.storage.bytes.assumingMemoryBound(to: UInt8.self)), a.shape,
                                 UnsafePointer(b.storage.bytes.assumingMemoryBound(to: UInt8.self)), b.shape, o, outShape)
        }
        withExtendedLifetime((a, b)) {}
        return out
    }

    /// A rank-0 operand for comparing `t` with `v`: float tensors compare in their own
    /// dtype (as PyTorch), integer tensors exactly as integers when `v` is integral,
    /// otherwise in float64.
    static func comparisonScalar(_ v: Double, for t: Tensor) -> Tensor {
        if t.dtype.isFloatingPoint { return Tensor(scalar: v, dtype: t.dtype) }
        if v.rounded() == v, v >= -9.2233720368547758e18, v < 9.2233720368547758e18 {
            if t.dtype == .int32, v >= Double(Int32.min), v <= Double(Int32.max) { return Tensor(scalar: v, dtype: .int32) }
            return Tensor(scalar: v, dtype: .int64)
        }
        return Tensor(scalar: v, dtype: .float64)
    }

    public static func .== (a: Tensor, b: Tensor) -> Tensor { compare(EqualFn.self, a, b, op: "eq") }
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { compare(NotEqualFn.self, a, b, op: "ne") }
    public static func .< (a: Tensor, b: Tensor) -> Tensor { compare(LessFn.self, a, b, op: "lt") }
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { compare(LessEqualFn.self, a, b, op: "le") }
    public static func .> (a: Tensor, b: Tensor) -> Tensor { compare(GreaterFn.self, a, b, op: "gt") }
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { compare(GreaterEqualFn.self, a, b, op: "ge") }

    public static func .== (a: Tensor, b: Double) -> Tensor { compare(EqualFn.self, a, comparisonScalar(b, for: a), op: "eq") }
    public static func .!= (a: Tensor, b: Double) -> Tensor { compare(NotEqualFn.self, a, comparisonScalar(b, for: a), op: "ne") }
    public static func .< (a: Tensor, b: Double) -> Tensor { compare(LessFn.self, a, comparisonScalar(b, for: a), op: "lt") }
    public static func .<= (a: Tensor, b: Double) -> Tensor { compare(LessEqualFn.self, a, comparisonScalar(b, for: a), op: "le") }
    public static func .> (a: Tensor, b: Double) -> Tensor { compare(GreaterFn.self, a, comparisonScalar(b, for: a), op: "gt") }
    public static func .>= (a: Tensor, b: Double) -> Tensor { compare(GreaterEqualFn.self, a, comparisonScalar(b, for: a), op: "ge") }

    public static func .== (a: Double, b: Tensor) -> Tensor { compare(EqualFn.self, comparisonScalar(a, for: b), b, op: "eq") }
    public static func .!= (a: Double, b: Tensor) -> Tensor { compare(NotEqualFn.self, comparisonScalar(a, for: b), b, op: "ne") }
    public static func .< (a: Double, b: Tensor) -> Tensor { compare(LessFn.self, comparisonScalar(a, for: b), b, op: "lt") }
    public static func .<= (a: Double, b: Tensor) -> Tensor { compare(LessEqualFn.self, comparisonScalar(a, for: b), b, op: "le") }
    public static func .> (a: Double, b: Tensor) -> Tensor { compare(GreaterFn.self, comparisonScalar(a, for: b), b, op: "gt") }
    public static func .>= (a: Double, b: Tensor) -> Tensor { compare(GreaterEqualFn.self, comparisonScalar(a, for: b), b, op: "ge") }

    // MARK: Logical ops (non-bool operands count as true where non-zero, as PyTorch)

    static func logical<F: LogicalFunction>(_ f: F.Type, _ a: Tensor, _ b: Tensor, op: String) -> Tensor {
        let outShape = Shape.broadcastOrFail(a.shape, b.shape, op: op)
        let a = a.detached().to(.bool), b = b.detached().to(.bool)
        let out = Tensor(uninitializedShape: outShape, dtype: .bool)
        Kernels.broadcastMap(LogicalMapping<F>(), a.storage.pointer(as: Bool.self), a.shape,
                             b.storage.pointer(as: Bool.self), b.shape, out.storage.pointer(as: Bool.self), outShape)
        withExtendedLifetime((a, b)) {}
        return out
    }

    public func logicalAnd(_ other: Tensor) -> Tensor { Tensor.logical(AndFn.self, self, other, op: "logicalAnd") }
    public func logicalOr(_ other: Tensor) -> Tensor { Tensor.logical(OrFn.self, self, other, op: "logicalOr") }
    public func logicalXor(_ other: Tensor) -> Tensor { Tensor.logical(XorFn.self, self, other, op: "logicalXor") }
    public func logicalNot() -> Tensor { Tensor.logical(XorFn.self, self, Tensor(scalar: 1, dtype: .bool), op: "logicalNot") }

    public static func .& (a: Tensor, b: Tensor) -> Tensor { a.logicalAnd(b) }
    public static func .| (a: Tensor, b: Tensor) -> Tensor { a.logicalOr(b) }
    public static func .^ (a: Tensor, b: Tensor) -> Tensor { a.logicalXor(b) }
    public static prefix func .! (a: Tensor) -> Tensor { a.logicalNot() }
}

// MARK: - where / select

extension Kernels {
    /// Calls `row(oc, sc, oa, sa, ob, sb, oo, n)` for rows of a three-operand broadcast, as
    /// `forEachBroadcastRow` does for two: each operand's inner stride is 0 or 1.
    @inlinable
    public static func forEachBroadcastRow3(
        outShape: [Int], _ s0: [Int], _ s1: [Int], _ s2: [Int],
        _ row: (_ o0: Int, _ t0: Int, _ o1: Int, _ t1: Int, _ o2: Int, _ t2: Int, _ oo: Int, _ n: Int) -> Void
    ) {
        let n = outShape.count
        let total = Shape.count(outShape)
        if total == 0 { return }
        func strides(_ s: [Int]) -> [Int] {
            var st = [Int](repeating: 0, count: n), acc = 1
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                if s[i] != 1 { st[i + n - s.count] = acc }
                acc *= s[i]
            }
            return st
        }
        let st = [strides(s0), strides(s1), strides(s2)]
        var dims: [Int] = [], ds: [[Int]] = [[], [], []]
        for i in 0..<n where outShape[i] != 1 {
            if let last = dims.indices.last, (0..<3).allSatisfy({ ds[$0][last] == st[$0][i] * outShape[i] }) {
                dims[last] *= outShape[i]
                for k in 0..<3 { ds[k][last] = st[k][i] }
            } else {
                dims.append(outShape[i])
                for k in 0..<3 { ds[k].append(st[k][i]) }
            }
        }
        if dims.isEmpty { row(0, 0, 0, 0, 0, 0, 0, 1); return }
        let inner = dims.count - 1
        let len = dims[inner]
        let i0 = ds[0][inner], i1 = ds[1][inner], i2 = ds[2][inner]
        var index = [Int](repeating: 0, count: inner)
        var o = [0, 0, 0], oo = 0
        for _ in 0..<(total / len) {
            row(o[0], i0, o[1], i1, o[2], i2, oo, len)
            oo += len
            var d = inner - 1
            while d >= 0 {
                index[d] += 1
                for k in 0..<3 { o[k] += ds[k][d] }
                if index[d] < dims[d] { break }
                for k in 0..<3 { o[k] -= ds[k][d] * dims[d] }
                index[d] = 0
                d -= 1
            }
        }
    }

    /// out = c ? a : b, element by element with broadcasting; E is any element of the right width.
    @inlinable
    public static func select<E>(
        _ c: UnsafePointer<Bool>, _ cShape: [Int], _ a: UnsafePointer<E>, _ aShape: [Int],
        _ b: UnsafePointer<E>, _ bShape: [Int], _ out: UnsafeMutablePointer<E>, _ outShape: [Int]
    ) {
        let total = Shape.count(outShape)
        if Shape.count(cShape) == total, Shape.count(aShape) == total, Shape.count(bShape) == total {
            let cs = UncheckedSendable(c), as_ = UncheckedSendable(a), bs = UncheckedSendable(b), os = UncheckedSendable(out)
            Threading.parallelFor(total) { r in
                let c = cs.value, a = as_.value, b = bs.value, out = os.value
                for i in r { out[i] = c[i] ? a[i] : b[i] }
            }
            return
        }
        forEachBroadcastRow3(outShape: outShape, cShape, aShape, bShape) { oc, sc, oa, sa, ob, sb, oo, n in
            for i in 0..<n { out[oo + i] = c[oc + i * sc] ? a[oa + i * sa] : b[ob + i * sb] }
        }
    }
}

extension Tensor {
    static func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard condition.dtype == .bool else {
            requirementFailure("where: condition must be a bool tensor (from a comparison), not \(condition.dtype) (shape \(condition.shape))")
        }
        let ab = Shape.broadcast(a.shape, b.shape)
        guard let ab, let outShape = Shape.broadcast(condition.shape, ab) else {
            requirementFailure("where: condition shape \(condition.shape), a shape \(a.shape) and b shape \(b.shape) cannot be broadcast together")
        }
        let dt = comparisonType(a.dtype, b.dtype)
        let av = a.dtype == dt ? a.detached() : a.detached().to(dt)
        let bv = b.dtype == dt ? b.detached() : b.detached().to(dt)
        let cv = condition.detached()
        let out = Tensor(uninitializedShape: outShape, dtype: dt)
        let c = UnsafePointer(cv.storage.pointer(as: Bool.self))
        func run<E>(_: E.Type) {
            Kernels.select(c, cv.shape, UnsafePointer(av.storage.bytes.assumingMemoryBound(to: E.self)), av.shape,
                           UnsafePointer(bv.storage.bytes.assumingMemoryBound(to: E.self)), bv.shape,
                           out.storage.bytes.assumingMemoryBound(to: E.self), outShape)
        }
        // Selection copies bits, so only the element width matters.
        switch dt.byteSize {
        case 8: run(UInt64.self)
        case 4: run(UInt32.self)
        default: run(UInt8.self)
        }
        withExtendedLifetime((cv, av, bv)) {}
        guard dt.isFloatingPoint else { return out }
        let aShape = a.shape, bShape = b.shape
        return Autograd.record(out, inputs: [a, b], name: "where") { g, needs in
            let zero = Tensor(scalar: 0, dtype: g.dtype)
            return [needs[0] ? select(cv, g, zero).sumToShape(aShape) : nil,
                    needs[1] ? select(cv, zero, g).sumToShape(bShape) : nil]
        }
    }
}

extension Tensor {
    /// `Tensor.where(c, a, b)`, as `torch.where`; the same as the free function `select(_:_:_:)`.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor { select(condition, a, b) }
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Double) -> Tensor { select(condition, a, scalar(b, like: a)) }
    public static func `where`(_ condition: Tensor, _ a: Double, _ b: Tensor) -> Tensor { select(condition, scalar(a, like: b), b) }
}

/// Elements of `a` where `condition` is true and of `b` elsewhere; all three broadcast
/// together. The gradient flows to `a` where the condition holds and to `b` elsewhere.
/// `where` is a Swift keyword, so a bare call needs backticks: `` `where`(c, a, b) ``;
/// `select(c, a, b)` and `Tensor.where(c, a, b)` are the same function without them.
public func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor { Tensor.select(condition, a, b) }
public func `where`(_ condition: Tensor, _ a: Tensor, _ b: Double) -> Tensor {
    Tensor.select(condition, a, Tensor.scalar(b, like: a))
}
public func `where`(_ condition: Tensor, _ a: Double, _ b: Tensor) -> Tensor {
    Tensor.select(condition, Tensor.scalar(a, like: b), b)
}

/// The same as `where(_:_:_:)` without backticks.
public func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor { Tensor.select(condition, a, b) }
public func select(_ condition: Tensor, _ a: Tensor, _ b: Double) -> Tensor { Tensor.select(condition, a, Tensor.scalar(b, like: a)) }
public func select(_ condition: Tensor, _ a: Double, _ b: Tensor) -> Tensor { Tensor.select(condition, Tensor.scalar(a, like: b), b) }
