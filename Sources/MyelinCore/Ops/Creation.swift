import Foundation

/// Tensors filled with constants.
extension Tensor {
    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        require(shape.allSatisfy { $0 >= 0 }, "zeros: negative extent in shape \(shape)")
        return Tensor(storage: TensorStorage(zeros: Shape.count(shape), dtype: dtype), shape: shape)
    }

    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(shape, 1, dtype: dtype) }

    /// A tensor of `shape` with every element `value`.
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) -> Tensor {
        require(shape.allSatisfy { $0 >= 0 }, "full: negative extent in shape \(shape)")
        let t = Tensor(uninitializedShape: shape, dtype: dtype)
        let n = t.count
        switch dtype {
        case .float32: t.storage.pointer(as: Float.self).update(repeating: Float(value), count: n)
        case .float64: t.storage.pointer(as: Double.self).update(repeating: value, count: n)
        case .int32: t.storage.pointer(as: Int32.self).update(repeating: Int32(value), count: n)
        case .int64: t.storage.pointer(as: Int64.self).update(repeating: Int64(value), count: n)
        case .bool: t.storage.pointer(as: Bool.self).update(repeating: value != 0, count: n)
        }
        return t
    }

    public static func zeros(like t: Tensor) -> Tensor { zeros(t.shape, dtype: t.dtype) }
    public static func ones(like t: Tensor) -> Tensor { ones(t.shape, dtype: t.dtype) }
    public static func full(like t: Tensor, _ value: Double) -> Tensor { full(t.shape, value, dtype: t.dtype) }
}

// MARK: - Ranges and identity matrices

extension Tensor {
    /// `start, start + step, …` up to but excluding `end`: ⌈(end − start) / step⌉
    /// values, as `torch.arange`. Float32 unless `dtype` says otherwise. Values are
    /// computed as `start + i·step` in Double, then converted.
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .float32) -> Tensor {
        require(start.isFinite && end.isFinite && step.isFinite,
                "arange: start (\(start)), end (\(end)) and step (\(step)) must be finite")
        require(step != 0, "arange: step must be non-zero")
        require((end - start) * step >= 0,
                "arange: end (\(end)) lies on the wrong side of start (\(start)) for step \(step)")
        let exact = ((end - start) / step).rounded(.up)
        require(exact < Double(Int.max / 16), "arange: \(exact) elements is too many")
        let n = Int(exact)
        return fromIndex(n, dtype: dtype) { start + Double($0) * step }
    }

    /// `0, 1, …, end − 1` as int64 (`torch.arange(5)`), or another dtype when asked.
    public static func arange(_ end: Int, dtype: DType = .int64) -> Tensor {
        require(end >= 0, "arange: end (\(end)) must be non-negative")
        if dtype == .int64 {
            let t = Tensor(uninitializedShape: [end], dtype: .int64)
            let p = t.storage.pointer(as: Int64.self)
            for i in 0..<end { p[i] = Int64(i) }
            return t
        }
        return fromIndex(end, dtype: dtype) { Double($0) }
    }

    /// `0, step, 2·step, …` below `end` (`torch.arange(2.5)`), float32 unless `dtype` says otherwise.
    public static func arange(_ end: Double, step: Double = 1, dtype: DType = .float32) -> Tensor {
        arange(0, end, step: step, dtype: dtype)
    }

    /// `count` evenly spaced values from `start` to `end`, both included (`torch.linspace`).
    /// The second half is computed back from `end`, so the last value is exactly `end`.
    public static func linspace(_ start: Double, _ end: Double, count: Int, dtype: DType = .float32) -> Tensor {
        require(count >= 0, "linspace: count must be non-negative, got \(count)")
        if count == 1 { return fromIndex(1, dtype: dtype) { _ in start } }
        let step = (end - start) / Double(count - 1)
        let half = count / 2
        return fromIndex(count, dtype: dtype) { i in
            i < half ? start + step * Double(i) : end - step * Double(count - 1 - i)
        }
    }

    /// The n×m matrix with ones on the diagonal (m = n when omitted), as `torch.eye`.
    public static func eye(_ n: Int, _ m: Int? = nil, dtype: DType = .float32) -> Tensor {
        let cols = m ?? n
        require(n >= 0 && cols >= 0, "eye: sizes must be non-negative, got \(n) × \(cols)")
        var t = zeros([n, cols], dtype: dtype)
        let d = Swift.min(n, cols)
        func set<T: TensorScalar>(_ one: T) {
            t.withUnsafeMutablePointer(as: T.self) { p in for i in 0..<d { p[i * cols + i] = one } }
        }
        switch dtype {
        case .float32: set(Float(1))
        case .float64: set(Double(1))
        case .int32: set(Int32(1))
        case .int64: set(Int64(1))
        case .bool: set(true)
        }
        return t
    }

    /// A rank-1 tensor of `n` values `f(i)`, converted to `dtype` (integers truncate toward zero).
    private static func fromIndex(_ n: Int, dtype: DType, _ f: (Int) -> Double) -> Tensor {
        let t = Tensor(uninitializedShape: [n], dtype: dtype)
        switch dtype {
        case .float32: let p = t.storage.pointer(as: Float.self); for i in 0..<n { p[i] = Float(f(i)) }
        case .float64: let p = t.storage.pointer(as: Double.self); for i in 0..<n { p[i] = f(i) }
        case .int32: let p = t.storage.pointer(as: Int32.self); for i in 0..<n { p[i] = Int32(clamping: saturatingInt64(f(i))) }
        case .int64: let p = t.storage.pointer(as: Int64.self); for i in 0..<n { p[i] = saturatingInt64(f(i)) }
        case .bool: let p = t.storage.pointer(as: Bool.self); for i in 0..<n { p[i] = f(i) != 0 }
        }
        return t
    }
}

/// Double → Int64 truncating toward zero, saturating out-of-range values and
/// mapping NaN to 0, where `Int64(_:)` would trap.
@inline(__always) func saturatingInt64(_ x: Double) -> Int64 {
    if x.isNaN { return 0 }
    if x >= 9_223_372_036_854_775_807.0 { return .max }
    if x <= -9_223_372_036_854_775_808.0 { return .min }
    return Int64(x)
}
