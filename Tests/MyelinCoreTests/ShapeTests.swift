import Foundation
import Testing
import Myelin

/// 0, 1, 2, ... with the given shape.
private func seq(_ shape: [Int], dtype: DType = .float32) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor((0..<n).map { Double($0) }, shape: shape, dtype: dtype)
}

/// Values for gradient checks: distinct, not integers, mixed signs.
private func vals(_ shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor((0..<n).map { sin(Double($0) * 0.7 + 0.2) * 1.5 }, shape: shape, dtype: .float64)
}

/// A straightforward permute: out[i] = in[j] where out's multi-index is in's permuted.
private func referencePermute(_ v: [Double], _ shape: [Int], _ perm: [Int]) -> [Double] {
    let outShape = perm.map { shape[$0] }
    let inStrides = Shape.strides(shape)
    return (0..<v.count).map { flat in
        var rest = flat, off = 0
        for i in stride(from: outShape.count - 1, through: 0, by: -1) {
            off += (rest % outShape[i]) * inStrides[perm[i]]
            rest /= outShape[i]
        }
        return v[off]
    }
}

private func stderrText(_ r: ExitTest.Result?) -> String {
    String(decoding: r?.standardErrorContent ?? [], as: UTF8.self)
}

@Suite struct ShapeTests {
    // MARK: Free reshapes

    @Test func flattenedShapesAndSharing() {
        let x = seq([2, 3, 4])
        #expect(x.flattened().shape == [24])
        #expect(x.flattened(startAxis: 1).shape == [2, 12])
        #expect(x.flattened(startAxis: 0, endAxis: 1).shape == [6, 4])
        #expect(x.flattened(startAxis: -2, endAxis: -1).shape == [2, 12])
        #expect(x.flattened(startAxis: 1, endAxis: 1).shape == [2, 3, 4])
        #expect(Tensor(scalar: 5.0).flattened().shape == [1])
        #expect(x.flattened().storage === x.storage)
        #expect(x.flattened().scalars() == x.scalars())
    }

    @Test func squeezeAndUnsqueeze() {
        let x = seq([1, 3, 1, 2])
        #expect(x.squeezed().shape == [3, 2])
        #expect(x.squeezed(axes: [0]).shape == [3, 1, 2])
        #expect(x.squeezed(axes: [-2]).shape == [1, 3, 2])
        #expect(x.squeezed(axes: [1]).shape == [1, 3, 1, 2])  // extent 3: left alone, as PyTorch
        #expect(x.squeezed().storage === x.storage)
        #expect(Tensor(scalar: 1.0).squeezed(axes: [0]).shape == [])
        let y = seq([2, 3])
        #expect(y.unsqueezed(axis: 0).shape == [1, 2, 3])
        #expect(y.unsqueezed(axis: 2).shape == [2, 3, 1])
        #expect(y.unsqueezed(axis: -1).shape == [2, 3, 1])
        #expect(y.unsqueezed(axis: -3).shape == [1, 2, 3])
        #expect(y.unsqueezed(axis: 1).storage === y.storage)
        #expect(Tensor(scalar: 2.0).unsqueezed(axis: 0).shape == [1])
    }

    // MARK: Transpose and permute

    @Test func transposeValues() {
        let x = seq([2, 3])
        let t = x.transposed()
        #expect(t.shape == [3, 2])
        #expect(t.scalars() == [0, 3, 1, 4, 2, 5])
        #expect(x.transposed(0, 1).scalars() == [0, 3, 1, 4, 2, 5])
        #expect(x.transposed(-1, -2).scalars() == [0, 3, 1, 4, 2, 5])
        // Batched: [2, 2, 3] swaps the last two per batch.
        let b = seq([2, 2, 3]).transposed()
        #expect(b.shape == [2, 3, 2])
        #expect(b.scalars() == [0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11])
        #expect(seq([4]).transposed().scalars() == [0, 1, 2, 3])
    }

    @Test func permuteHandComputed() {
        // For shape [2, 3, 4], x[i][j][k] = 12i + 4j + k.
        let x = seq([2, 3, 4])
        let p = x.permuted([1, 2, 0])  // p[j][k][i] = x[i][j][k]
        #expect(p.shape == [3, 4, 2])
        let v = p.scalars()
        #expect(Array(v[0..<6]) == [0, 12, 1, 13, 2, 14])  // j=0, k=0..2, i=0..1
        let at: Int = 2 * 8 + 3 * 2 + 1
        #expect(v[at] == 23)  // p[2][3][1] = x[1][2][3] = 12 + 8 + 3
        let q = x.permuted([1, 0, 2])  // contiguous rows of 4 move as blocks
        #expect(Array(q.scalars()[0..<8]) == [0, 1, 2, 3, 12, 13, 14, 15])
    }

    @Test func permuteMatchesReferenceForManyLayouts() {
        let shapes: [[Int]] = [[2, 3, 1, 4], [3, 5, 7], [1, 4, 1, 6], [37, 70], [3, 33, 65]]
        for shape in shapes {
            let x = seq(shape)
            let v = x.scalars(as: Double.self)
            var perms: [[Int]] = [[]]
            for _ in shape { perms = perms.flatMap { p in shape.indices.filter { !p.contains($0) }.map { p + [$0] } } }
            for perm in perms {
                let y = x.permuted(perm)
                #expect(y.shape == perm.map { shape[$0] })
                #expect(y.scalars(as: Double.self) == referencePermute(v, shape, perm), "shape \(shape) perm \(perm)")
            }
        }
    }

    @Test func largeTransposeIsTiledCorrectly() {
        // Big enough to split over threads and to leave partial tiles at the edges.
        let x = seq([300, 517])
        let t = x.transposed()
        let v = t.scalars(as: Double.self)
        var ok = true
        for i in 0..<517 { for j in 0..<300 where v[i * 300 + j] != Double(j * 517 + i) { ok = false } }
        #expect(ok)
        #expect(t.transposed().scalars() == x.scalars())
    }

    @Test func shapeOpsOnIntegerAndBoolTensors() {
        let x = seq([2, 3], dtype: .int64)
        #expect(x.transposed().dtype == .int64)
        #expect(x.transposed().integers() == [0, 3, 1, 4, 2, 5])
        #expect(x.permuted([1, 0]).integers() == [0, 3, 1, 4, 2, 5])
        #expect(x.flattened().integers() == [0, 1, 2, 3, 4, 5])
        #expect(x.unsqueezed(axis: 1).squeezed().shape == [2, 3])
        #expect(x.expanded(to: [2, 2, 3]).integers() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5])
        let big = Tensor([Int64(1) << 40, -7, 3, Int64.max], shape: [2, 2])
        #expect(big.transposed().integers() == [1 << 40, 3, -7, Int(Int64.max)])
        let i32 = seq([2, 3], dtype: .int32)
        #expect(i32.transposed().integers() == [0, 3, 1, 4, 2, 5])
        #expect(i32.transposed().dtype == .int32)
        let b = Tensor([true, false, false, true, true, false], shape: [2, 3])
        #expect(b.transposed().bools() == [true, true, false, true, false, false])
        let c = Tensor.concat([x, seq([1, 3], dtype: .int64)])
        #expect(c.dtype == .int64)
        #expect(c.integers() == [0, 1, 2, 3, 4, 5, 0, 1, 2])
        let s = Tensor.stack([x, x], axis: 2)
        #expect(s.shape == [2, 3, 2])
        #expect(s.integers() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
        let parts = x.split(sizes: [1, 2], axis: 1)
        #expect(parts[1].integers() == [1, 2, 4, 5])
        #expect(parts[1].dtype == .int64)
        #expect(x.chunked(2)[1].integers() == [3, 4, 5])
        #expect(b.chunked(3, axis: 1)[2].bools() == [false, false])
    }

    // MARK: Concat, stack, split, chunk

    @Test func concatValues() {
        let a = seq([2, 2]), b = seq([2, 3]) + 10
        let c = Tensor.concat([a, b], axis: 1)
        #expect(c.shape == [2, 5])
        #expect(c.scalars() == [0, 1, 10, 11, 12, 2, 3, 13, 14, 15])
        #expect(Tensor.concat([a, b], axis: -1).scalars() == c.scalars())
        let d = Tensor.concat([a, seq([1, 2]) + 5, a], axis: 0)
        #expect(d.shape == [5, 2])
        #expect(d.scalars() == [0, 1, 2, 3, 5, 6, 0, 1, 2, 3])
        // Middle axis of a 3-D tensor, an empty piece, and promotion to float64.
        let e = Tensor.concat([seq([2, 1, 2]), seq([2, 0, 2]), seq([2, 2, 2], dtype: .float64) + 100], axis: 1)
        #expect(e.shape == [2, 3, 2])
        #expect(e.dtype == .float64)
        #expect(e.scalars() == [0, 1, 100, 101, 102, 103, 2, 3, 104, 105, 106, 107])
    }

    @Test func stackValues() {
        let a = seq([2, 3]), b = seq([2, 3]) + 10
        #expect(Tensor.stack([a, b]).shape == [2, 2, 3])
        #expect(Tensor.stack([a, b]).scalars() == a.scalars() + b.scalars())
        let s1 = Tensor.stack([a, b], axis: 1)
        #expect(s1.shape == [2, 2, 3])
        #expect(s1.scalars() == [0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15])
        let s2 = Tensor.stack([a, b], axis: -1)
        #expect(s2.shape == [2, 3, 2])
        #expect(s2.scalars() == [0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15])
        let scalars = Tensor.stack([Tensor(scalar: 1.0), Tensor(scalar: 2.0)])
        #expect(scalars.shape == [2])
        #expect(scalars.scalars() == [1, 2])
    }

    @Test func splitAndChunkValues() {
        let x = seq([5, 2])
        let p = x.split(sizes: [2, 0, 3])
        #expect(p.map(\.shape) == [[2, 2], [0, 2], [3, 2]])
        #expect(p[0].scalars() == [0, 1, 2, 3])
        #expect(p[2].scalars() == [4, 5, 6, 7, 8, 9])
        let q = x.split(sizes: [1, 1], axis: 1)
        #expect(q[1].shape == [5, 1])
        #expect(q[1].scalars() == [1, 3, 5, 7, 9])
        // torch.chunk: ceil(extent / n) per piece, last smaller, maybe fewer pieces.
        #expect(seq([5]).chunked(4).map(\.shape) == [[2], [2], [1]])
        #expect(seq([6]).chunked(4).map(\.shape) == [[2], [2], [2]])
        #expect(seq([2]).chunked(4).map(\.shape) == [[1], [1]])
        #expect(seq([0]).chunked(3).map(\.shape) == [[0], [0], [0]])
        let c = seq([2, 7]).chunked(3, axis: 1)
        #expect(c.map(\.shape) == [[2, 3], [2, 3], [2, 1]])
        #expect(c[2].scalars() == [6, 13])
        #expect(c[1].scalars() == [3, 4, 5, 10, 11, 12])
    }

    // MARK: Gradients

    @Test func gradientsOfFreeReshapes() {
        let x = vals([2, 3, 4])
        for (name, f) in [
            ("reshape", { (t: Tensor) in t.reshaped([4, -1]) }),
            ("flatten", { (t: Tensor) in t.flattened(startAxis: 1) }),
            ("squeeze", { (t: Tensor) in t.reshaped([2, 1, 3, 4]).squeezed() }),
            ("unsqueeze", { (t: Tensor) in t.unsqueezed(axis: 1) * 2 }),
        ] {
            let r = checkGradients([x]) { f($0[0]) }
            #expect(r.passed, "\(name): \(r)")
        }
    }

    @Test func gradientOfExpandWithBroadcasting() {
        let r = checkGradients([vals([3, 1])]) { $0[0].expanded(to: [2, 3, 4]) }
        #expect(r.passed, "\(r)")
        let r2 = checkGradients([vals([4])]) { $0[0].expanded(to: [3, 4]) }
        #expect(r2.passed, "\(r2)")
    }

    @Test func gradientsOfTransposeAndPermute() {
        let x = vals([2, 3, 4])
        let r1 = checkGradients([x]) { $0[0].transposed(0, 2) }
        #expect(r1.passed, "\(r1)")
        let r2 = checkGradients([x]) { $0[0].transposed() }
        #expect(r2.passed, "\(r2)")
        let r3 = checkGradients([x]) { $0[0].permuted([1, 2, 0]) }
        #expect(r3.passed, "\(r3)")
        let r4 = checkGradients([vals([2, 1, 3, 2])]) { $0[0].permuted([3, 0, 2, 1]) }
        #expect(r4.passed, "\(r4)")
        // Permute feeding arithmetic with broadcasting.
        let r5 = checkGradients([x, vals([2])]) { $0[0].permuted([2, 1, 0]) * $0[1] }
        #expect(r5.passed, "\(r5)")
    }

    @Test func gradientsOfConcatAndStack() {
        let a = vals([2, 3]), b = vals([2, 2])
        let r1 = checkGradients([a, b]) { Tensor.concat([$0[0], $0[1], $0[0]], axis: 1) }
        #expect(r1.passed, "\(r1)")
        let r2 = checkGradients([a, vals([1, 3])]) { Tensor.concat([$0[0], $0[1]]) }
        #expect(r2.passed, "\(r2)")
        let r3 = checkGradients([a, a * 2]) { Tensor.stack([$0[0], $0[1]], axis: 1) }
        #expect(r3.passed, "\(r3)")
        // Only one input needs a gradient: the other is an integer-free constant.
        let r4 = checkGradients([a]) { Tensor.stack([$0[0], Tensor.ones([2, 3], dtype: .float64)], axis: -1) }
        #expect(r4.passed, "\(r4)")
    }

    @Test func gradientsOfSplitAndChunk() {
        let x = vals([5, 2])
        // Weight pieces differently so a gradient routed to the wrong piece shows.
        let r1 = checkGradients([x]) { t in
            let p = t[0].split(sizes: [2, 3])
            return Tensor.concat([p[0] * 3, p[1] * -2])
        }
        #expect(r1.passed, "\(r1)")
        let r2 = checkGradients([vals([2, 7])]) { t in
            let p = t[0].chunked(3, axis: 1)
            return Tensor.concat(p.enumerated().map { $0.element * Double($0.offset + 1) }, axis: 1)
        }
        #expect(r2.passed, "\(r2)")
        // Only some pieces used: the others get zero gradient.
        let r3 = checkGradients([x]) { t in t[0].chunked(2)[1] }
        #expect(r3.passed, "\(r3)")
    }

    @Test func backwardThroughTransposeGivesTransposedGradient() {
        var x = seq([2, 3], dtype: .float64)
        x.requiresGrad = true
        let w = seq([3, 2], dtype: .float64)
        (x.transposed() * w).sum().backward()
        #expect(x.grad?.scalars() == [0, 2, 4, 1, 3, 5])
    }

    // MARK: Errors name the op and what was wrong

    @Test func permuteRepeatedAxisFails() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).permuted([0, 0])
        }
        #expect(stderrText(r).contains("permute: [0, 0] repeats an axis"))
    }

    @Test func transposeAxisOutOfRangeFails() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).transposed(0, 2)
        }
        #expect(stderrText(r).contains("transpose: axis 2 is out of range for a tensor of rank 2"))
    }

    @Test func concatShapeMismatchFails() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.concat([Tensor.zeros([2, 3]), Tensor.zeros([2, 4])], axis: 0)
        }
        #expect(stderrText(r).contains("concat: tensor 1 has shape [2, 4], which does not match tensor 0's shape [2, 3] outside axis 0"))
    }

    @Test func stackShapeMismatchFails() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.stack([Tensor.zeros([2]), Tensor.zeros([3])])
        }
        #expect(stderrText(r).contains("stack: tensor 1 has shape [3] but tensor 0 has shape [2]"))
    }

    @Test func splitSizesMustSumToExtent() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([5, 2]).split(sizes: [2, 2])
        }
        #expect(stderrText(r).contains("split: sizes [2, 2] must be non-negative and sum to 5, the extent of axis 0"))
    }

    @Test func unsqueezeAxisOutOfRangeFails() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).unsqueezed(axis: 4)
        }
        #expect(stderrText(r).contains("unsqueeze: axis 4 is out of range for a tensor of rank 2 (valid: -3...2)"))
    }
}
