import Foundation

/// Shape ops that need no arithmetic: reshape (free: shares storage) and expand.
extension Tensor {
    /// The same elements with a new shape; one extent may be -1 (inferred). Shares storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            require(known > 0 && count % known == 0 && newShape.filter({ $0 == -1 }).count == 1,
                    "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
            target[i] = count / known
        }
        require(target.allSatisfy { $0 >= 0 } && Shape.count(target) == count,
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
        require(outShape == target, "expand: shape \(shape) cannot be expanded to \(target)")
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

// MARK: - Checks that keep their message in release builds

// MARK: - Free shape changes (share storage)

extension Tensor {
    /// Merges axes `startAxis...endAxis` into one (PyTorch's `flatten`). Shares storage.
    /// A scalar becomes a one-element vector.
    public func flattened(startAxis: Int = 0, endAxis: Int = -1) -> Tensor {
        if rank == 0 { return reshaped([1]) }
        let s = Shape.normalizeAxis(startAxis, rank: rank, op: "flatten")
        let e = Shape.normalizeAxis(endAxis, rank: rank, op: "flatten")
        require(s <= e, "flatten: startAxis \(startAxis) comes after endAxis \(endAxis) for a tensor of shape \(shape)")
        let merged = Shape.count(Array(shape[s...e]))
        return reshaped(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// Removes axes of extent 1: all of them when `axes` is nil, otherwise those
    /// listed that have extent 1 (others are left alone, as PyTorch's `squeeze(dim)`).
    public func squeezed(axes: [Int]? = nil) -> Tensor {
        if rank == 0 { return self }
        let drop: Set<Int>
        if let axes {
            drop = Set(axes.map { Shape.normalizeAxis($0, rank: rank, op: "squeeze") }.filter { shape[$0] == 1 })
        } else {
            drop = Set(shape.indices.filter { shape[$0] == 1 })
        }
        if drop.isEmpty { return self }
        return reshaped(shape.indices.filter { !drop.contains($0) }.map { shape[$0] })
    }

    /// Inserts an axis of extent 1 at `axis` (−(rank+1)...rank). Shares storage.
    public func unsqueezed(axis: Int) -> Tensor {
        require(axis >= -(rank + 1) && axis <= rank,
                   "unsqueeze: axis \(axis) is out of range for a tensor of rank \(rank) (valid: \(-(rank + 1))...\(rank))")
        let a = axis < 0 ? axis + rank + 1 : axis
        var s = shape
        s.insert(1, at: a)
        return reshaped(s)
    }

    // MARK: Transpose and permute (copy through a tiled kernel)

    /// Swaps axes `a` and `b` (copies).
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        let x = Shape.normalizeAxis(a, rank: rank, op: "transpose")
        let y = Shape.normalizeAxis(b, rank: rank, op: "transpose")
        if x == y || rank < 2 { return self }
        var perm = Array(0..<rank)
        perm.swapAt(x, y)
        return permuted(perm)
    }

    /// Swaps the last two axes (a matrix transpose, batched over leading axes).
    /// Scalars and vectors are returned as they are, as PyTorch's `t()`.
    public func transposed() -> Tensor {
        rank < 2 ? self : transposed(rank - 2, rank - 1)
    }

    /// Reorders the axes: axis `i` of the result is axis `axes[i]` of this tensor (copies).
    public func permuted(_ axes: [Int]) -> Tensor {
        require(axes.count == rank,
                   "permute: \(axes) must list each of the \(rank) axes of a tensor of shape \(shape) once")
        let perm = axes.map { Shape.normalizeAxis($0, rank: rank, op: "permute") }
        require(Set(perm).count == rank, "permute: \(axes) repeats an axis (tensor of shape \(shape))")
        let outShape = perm.map { shape[$0] }
        if count == 0 { return reshaped(outShape) }
        guard let plan = PermutePlan(shape: shape, perm: perm) else { return reshaped(outShape) }
        let out = Tensor(uninitializedShape: outShape, dtype: dtype)
        let src = storage.bytes, dst = out.storage.bytes
        switch dtype.byteSize {
        case 8: plan.run(src.assumingMemoryBound(to: UInt64.self), dst.assumingMemoryBound(to: UInt64.self))
        case 4: plan.run(src.assumingMemoryBound(to: UInt32.self), dst.assumingMemoryBound(to: UInt32.self))
        default: plan.run(src.assumingMemoryBound(to: UInt8.self), dst.assumingMemoryBound(to: UInt8.self))
        }
        withExtendedLifetime(self) {}
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return Autograd.record(out, inputs: [self], name: "permute") { g, _ in [g.permuted(inverse)] }
    }
}

/// A permutation reduced to its essentials: extent-1 axes dropped and input axes
/// that stay adjacent and in order merged, so e.g. [N,C,H,W]→[N,H,W,C] becomes a
/// batched 2-D transpose [N, C, HW]→[N, HW, C].
struct PermutePlan {
    /// Collapsed input extents (row-major) and, per output position, the input dim.
    let dims: [Int]
    let perm: [Int]

    /// nil when the permutation only moves extent-1 axes (a reshape).
    init?(shape: [Int], perm: [Int]) {
        let kept = perm.filter { shape[$0] != 1 }
        // Group runs of output positions whose input axes are consecutive kept axes.
        let keptInputOrder = shape.indices.filter { shape[$0] != 1 }
        var nextKept = [Int: Int]()
        for (i, a) in keptInputOrder.enumerated() where i + 1 < keptInputOrder.count { nextKept[a] = keptInputOrder[i + 1] }
        var groups: [[Int]] = []
        for a in kept {
            if let last = groups.last?.last, nextKept[last] == a { groups[groups.count - 1].append(a) } else { groups.append([a]) }
        }
        if groups.count <= 1 { return nil }
        let byInput = groups.indices.sorted { groups[$0][0] < groups[$1][0] }
        var rankOf = [Int](repeating: 0, count: groups.count)
        for (r, g) in byInput.enumerated() { rankOf[g] = r }
        self.dims = byInput.map { groups[$0].reduce(1) { $0 * shape[$1] } }
        self.perm = groups.indices.map { rankOf[$0] }
    }

    /// Tile edge for the 2-D transpose: 32×32 elements stay in L1 for every element size.
    static let tile = 32

    func run<E>(_ src: UnsafeMutablePointer<E>, _ dst: UnsafeMutablePointer<E>) {
        let k = dims.count
        let inStrides = Shape.strides(dims)
        let outShape = perm.map { dims[$0] }
        let outStrides = Shape.strides(outShape)
        var outStrideOf = [Int](repeating: 0, count: k)
        for (i, p) in perm.enumerated() { outStrideOf[p] = outStrides[i] }
        let total = Shape.count(dims)
        let s = UncheckedSendable(src), d = UncheckedSendable(dst)

        if perm[k - 1] == k - 1 {
            // The innermost input dim stays innermost: copy contiguous rows.
            let inner = dims[k - 1], rows = total / inner
            let outerDims = Array(outShape[..<(k - 1)])
            let outerSrcStrides = perm[..<(k - 1)].map { inStrides[$0] }
            Threading.parallelFor(rows, grain: max(1, Threading.elementwiseGrain / inner)) { r in
                var idx = Self.unravel(r.lowerBound, outerDims)
                var off = zip(idx, outerSrcStrides).reduce(0) { $0 + $1.0 * $1.1 }
                for row in r {
                    (d.value + row * inner).update(from: s.value + off, count: inner)
                    Self.advance(&idx, &off, outerDims, outerSrcStrides)
                }
            }
            return
        }

        // Otherwise a batch of 2-D transposes: input dim `a` is contiguous in the
        // input, dim `b` contiguous in the output; the other dims index the batch.
        let a = k - 1, b = perm[k - 1]
        let na = dims[a], nb = dims[b]
        let lds = inStrides[b], ldo = outStrideOf[a]
        let others = (0..<k).filter { $0 != a && $0 != b }
        let batchDims = others.map { dims[$0] }
        let batchSrc = others.map { inStrides[$0] }, batchDst = others.map { outStrideOf[$0] }
        let batches = Shape.count(batchDims)
        let t = Self.tile
        let tilesB = (nb + t - 1) / t
        let units = batches * tilesB
        Threading.parallelFor(units, grain: max(1, Threading.elementwiseGrain / max(1, t * na))) { r in
            for u in r {
                let batch = u / tilesB, i0 = (u % tilesB) * t
                let idx = Self.unravel(batch, batchDims)
                var sb = 0, db = 0
                for (j, v) in idx.enumerated() { sb += v * batchSrc[j]; db += v * batchDst[j] }
                let i1 = min(nb, i0 + t)
                var j0 = 0
                while j0 < na {
                    let j1 = min(na, j0 + t)
                    for j in j0..<j1 {
                        let sp = s.value + sb + j, dp = d.value + db + j * ldo
                        for i in i0..<i1 { dp[i] = sp[i * lds] }
                    }
                    j0 = j1
                }
            }
        }
    }

    /// Row-major multi-index of `flat` within `dims`.
    @inline(__always) static func unravel(_ flat: Int, _ dims: [Int]) -> [Int] {
        var idx = [Int](repeating: 0, count: dims.count)
        var rest = flat
        for i in stride(from: dims.count - 1, through: 0, by: -1) where dims[i] > 0 {
            idx[i] = rest % dims[i]
            rest /= dims[i]
        }
        return idx
    }

    /// Steps a row-major odometer by one, keeping `offset` = Σ idx·strides.
    @inline(__always) static func advance(_ idx: inout [Int], _ offset: inout Int, _ dims: [Int], _ strides: [Int]) {
        var i = dims.count - 1
        while i >= 0 {
            idx[i] += 1
            offset += strides[i]
            if idx[i] < dims[i] { return }
            offset -= strides[i] * dims[i]
            idx[i] = 0
            i -= 1
        }
    }
}
