import Foundation

/// Tensors filled with constants.
extension Tensor {
    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        precondition(shape.allSatisfy { $0 >= 0 }, "zeros: negative extent in shape \(shape)")
        return Tensor(storage: TensorStorage(zeros: Shape.count(shape), dtype: dtype), shape: shape)
    }

    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(shape, 1, dtype: dtype) }

    /// A tensor of `shape` with every element `value`.
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) -> Tensor {
        precondition(shape.allSatisfy { $0 >= 0 }, "full: negative extent in shape \(shape)")
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
