import Foundation

/// Shape ops that need no arithmetic: reshape (free: shares storage) and expand.
extension Tensor {
    /// The same elements with a new shape; one extent may be -1 (inferred). Shares storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0 && newShape.filter({ $0 == -1 }).count == 1,
                         "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
            target[i] = count / known
        }
        precondition(target.allSatisfy { $0 >= 0 } && Shape.count(target) == count,
                     "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if target == shape { return self }
        var out = Tensor(storage: storage, shape: target)
        out.gradNode = nil
        let inShape = shape
        return Autograd.record(out, inputs: [self], name: "reshape") { g, _ in [g.reshaped(inShape)] }
    }

    public func reshaped(_ dims: Int...) -> Tensor { reshaped(dims) }

    /// Broadcasts to `target` (NumPy rules), materialising the copy; the gradient sums back.
    public func expanded(to target: [Int]) -> Tensor {
        if target == shape { return self }
        let outShape = Shape.broadcastOrFail(shape, target, op: "expand")
        precondition(outShape == target, "expand: shape \(shape) cannot be expanded to \(target)")
        let out = Tensor(uninitializedShape: target, dtype: dtype)
        let src = storage.bytes, dst = out.storage.bytes
        switch dtype.byteSize {
        case 8: Self.broadcastCopy(src.assumingMemoryBound(to: UInt64.self), shape, dst.assumingMemoryBound(to: UInt64.self), target)
        case 4: Self.broadcastCopy(src.assumingMemoryBound(to: UInt32.self), shape, dst.assumingMemoryBound(to: UInt32.self), target)
        default: Self.broadcastCopy(src.assumingMemoryBound(to: UInt8.self), shape, dst.assumingMemoryBound(to: UInt8.self), target)
        }
        withExtendedLifetime(self) {}
        let inShape = shape
        return Autograd.record(out, inputs: [self], name: "expand") { g, _ in [g.sumToShape(inShape)] }
    }

    static func broadcastCopy<E>(_ src: UnsafePointer<E>, _ srcShape: [Int], _ dst: UnsafeMutablePointer<E>, _ dstShape: [Int]) {
        Kernels.forEachBroadcastRow(outShape: dstShape, aShape: srcShape, bShape: []) { oa, sa, _, _, oo, n in
            if sa == 1 { (dst + oo).update(from: src + oa, count: n) } else { (dst + oo).update(repeating: src[oa], count: n) }
        }
    }
}
