import Foundation
import Testing
import Myelin

private func seq(_ shape: [Int], dtype: DType = .float32) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor((0..<n).map { Double($0) }, shape: shape, dtype: dtype)
}

private func vals(_ shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor((0..<n).map { cos(Double($0) * 0.9 + 0.4) * 1.3 }, shape: shape, dtype: .float64)
}

private func stderrText(_ r: ExitTest.Result?) -> String {
    String(decoding: r?.standardErrorContent ?? [], as: UTF8.self)
}

@Suite struct IndexingTests {
    // MARK: slice

    @Test func sliceValues() {
        let x = seq([10])
        #expect(x.slice(axis: 0, start: 1, end: 8, step: 3).scalars() == [1, 4, 7])
        #expect(x.slice(axis: 0, start: -3).scalars() == [7, 8, 9])
        #expect(x.slice(axis: 0, end: -8).scalars() == [0, 1])
        #expect(x.slice(axis: 0, start: -100, end: 2).scalars() == [0, 1])   // clamped, as Python
        #expect(x.slice(axis: 0, start: 8, end: 100, step: 5).scalars() == [8])
        #expect(x.slice(axis: 0, start: 6, end: 3).shape == [0])
        #expect(x.slice(axis: 0, step: 4).scalars() == [0, 4, 8])
        let m = seq([3, 4])
        let s = m.slice(axis: 1, start: 1, step: 2)
        #expect(s.shape == [3, 2])
        #expect(s.scalars() == [1, 3, 5, 7, 9, 11])
        #expect(m.slice(axis: -2, start: 1, end: 2).scalars() == [4, 5, 6, 7])
        #expect(m.slice(axis: 0).storage === m.storage)  // whole axis: no copy
    }

    @Test func largeSliceSplitAndConcatRoundTrip() {
        // Large enough to run the copy kernel on several threads.
        let x = seq([70, 1000], dtype: .float64)
        let s = x[.all, .stride(3, nil, by: 2)]
        #expect(s.shape == [70, 499])
        let v = s.scalars(as: Double.self)
        var ok = true
        for i in 0..<70 { for j in 0..<499 where v[i * 499 + j] != Double(i * 1000 + 3 + 2 * j) { ok = false } }
        #expect(ok)
        let parts = x.split(sizes: [1, 600, 399], axis: 1)
        #expect(Tensor.concat(parts, axis: 1).scalars(as: Double.self) == x.scalars(as: Double.self))
        #expect(seq([0, 3]).permuted([1, 0]).shape == [3, 0])
    }

    @Test func sliceInt64AndBool() {
        let x = seq([2, 5], dtype: .int64)
        let s = x.slice(axis: 1, start: 0, end: 5, step: 2)
        #expect(s.dtype == .int64)
        #expect(s.integers() == [0, 2, 4, 5, 7, 9])
        let b = Tensor([true, false, true, true], shape: [4])
        #expect(b.slice(axis: 0, start: 1).bools() == [false, true, true])
    }

    // MARK: subscripts

    @Test func subscriptItems() {
        let x = seq([2, 3, 4])  // x[i][j][k] = 12i + 4j + k
        #expect(x[1].shape == [3, 4])
        #expect(x[1].scalars() == (12..<24).map(Float.init))
        #expect(x[-1].scalars() == x[1].scalars())
        #expect(x[0..<1].shape == [1, 3, 4])
        let a = x[.all, 1..<3]
        #expect(a.shape == [2, 2, 4])
        #expect(a.scalars() == [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
        let e = x[.ellipsis, 0]
        #expect(e.shape == [2, 3])
        #expect(e.scalars() == [0, 4, 8, 12, 16, 20])
        #expect(x[1...].shape == [1, 3, 4])
        #expect(x[..<1].scalars() == x[0...0].scalars())
        #expect(x[...0].shape == [1, 3, 4])
        #expect(x[(-1)...].scalars() == x[1..<2].scalars())
        #expect(x[(-2)...(-1)].shape == [2, 3, 4])
        #expect(x[.all, .all, (-2)...].scalars() == [2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23])
        #expect(x[1, 2, 3].shape == [])
        #expect(x[1, 2, 3].item() == 23)
        #expect(x[1, -1].scalars() == [20, 21, 22, 23])
        #expect(x[.all, 2, 1].scalars() == [9, 21])
        let s = x[.all, .all, .stride(0, 4, by: 2)]
        #expect(s.shape == [2, 3, 2])
        #expect(s.scalars() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22])
        #expect(x[.all, .stride(by: 2)].scalars() == x[.all, .stride(0, nil, by: 2)].scalars())
        #expect(x[.all, .stride(1, by: 5)].shape == [2, 1, 4])
        #expect(x[.ellipsis, .stride(-3, -1, by: 1)].scalars() == x[.all, .all, 1..<3].scalars())
        #expect(x[0..<100].shape == [2, 3, 4])  // clamped, as PyTorch
    }

    @Test func subscriptNewAxisAndEllipsis() {
        let x = seq([2, 3])
        #expect(x[.newAxis].shape == [1, 2, 3])
        #expect(x[.ellipsis, .newAxis].shape == [2, 3, 1])
        #expect(x[1, .newAxis].shape == [1, 3])
        #expect(x[.all, .newAxis, 0].shape == [2, 1])
        #expect(x[.all, .newAxis, 0].scalars() == [0, 3])
        #expect(x[.ellipsis].shape == [2, 3])
        #expect(x[.ellipsis].storage === x.storage)
        #expect(x[.newAxis, .ellipsis, 2].scalars() == [2, 5])
        #expect(x[.newAxis, .ellipsis, 2].shape == [1, 2])
        #expect(Tensor(scalar: 3.0)[.newAxis].shape == [1])
        let items: [any TensorIndex] = [1, 0..<2]
        #expect(x.indexed(items).scalars() == [3, 4])
    }

    @Test func subscriptOnInt64() {
        let x = seq([3, 4], dtype: .int64)
        #expect(x[1].integers() == [4, 5, 6, 7])
        #expect(x[.all, .stride(1, 4, by: 2)].integers() == [1, 3, 5, 7, 9, 11])
        #expect(x[2, 3].integers() == [11])
        #expect(x[.all, 3].dtype == .int64)
    }

    // MARK: indexSelect

    @Test func indexSelectValues() {
        let x = seq([4, 3])
        let r = x.indexSelect(axis: 0, indices: Tensor([2, 0, 2]))
        #expect(r.shape == [3, 3])
        #expect(r.scalars() == [6, 7, 8, 0, 1, 2, 6, 7, 8])
        let c = x.indexSelect(axis: 1, indices: Tensor([Int32(2), 1], shape: [2]))
        #expect(c.shape == [4, 2])
        #expect(c.scalars() == [2, 1, 5, 4, 8, 7, 11, 10])
        #expect(x.indexSelect(axis: -1, indices: Tensor([Int]())).shape == [4, 0])
        let i = seq([3, 2], dtype: .int64).indexSelect(axis: 0, indices: Tensor([1, 1]))
        #expect(i.integers() == [2, 3, 2, 3])
        #expect(i.dtype == .int64)
    }

    @Test func indexSelectGradientAddsRepeats() {
        var x = seq([4, 2], dtype: .float64)
        x.requiresGrad = true
        x.indexSelect(axis: 0, indices: Tensor([3, 0, 3, 3])).sum().backward()
        #expect(x.grad?.scalars() == [1, 1, 0, 0, 0, 0, 3, 3])
        let r = checkGradients([vals([4, 3])]) { $0[0].indexSelect(axis: 0, indices: Tensor([2, 0, 2, 1])) }
        #expect(r.passed, "\(r)")
        let r2 = checkGradients([vals([2, 4, 3])]) { $0[0].indexSelect(axis: 1, indices: Tensor([3, 3, 0])) }
        #expect(r2.passed, "\(r2)")
    }

    // MARK: gather and scatterAdd

    @Test func gatherValues() {
        let t = try! Tensor([[1, 2], [3, 4]] as [[Double]])
        let g = t.gather(axis: 1, indices: try! Tensor([[0, 0], [1, 0]] as [[Int]]))
        #expect(g.scalars() == [1, 1, 4, 3])
        let g0 = t.gather(axis: 0, indices: try! Tensor([[1, 0]] as [[Int]]))
        #expect(g0.shape == [1, 2])
        #expect(g0.scalars() == [3, 2])
        // Indices smaller than the input on the other axes; 3-D; int64 data.
        let x = seq([2, 3, 4], dtype: .int64)
        let idx = Tensor([2, 0, 1, 1], shape: [2, 1, 2])
        let h = x.gather(axis: 1, indices: idx)  // h[i][0][k] = x[i][idx[i][0][k]][k]
        #expect(h.shape == [2, 1, 2])
        #expect(h.integers() == [8, 1, 16, 17])
    }

    @Test func scatterAddValues() {
        let src = Tensor((1...10).map(Double.init), shape: [2, 5])
        let idx = try! Tensor([[0, 1, 2, 0, 0], [2, 0, 0, 1, 2]] as [[Int]])
        let out = Tensor.zeros([3, 5]).scatterAdd(axis: 0, indices: idx, source: src)
        #expect(out.scalars() == [1, 7, 8, 4, 5,
                                  0, 2, 0, 9, 0,
                                  6, 0, 3, 0, 10])
        // Onto a non-zero input along axis 1, with repeated targets accumulating.
        let base = Tensor.ones([2, 3])
        let s = base.scatterAdd(axis: 1, indices: try! Tensor([[2, 2], [0, 1]] as [[Int]]),
                                source: try! Tensor([[5, 6], [7, 8]] as [[Double]]))
        #expect(s.scalars() == [1, 1, 12, 8, 9, 1])
        #expect(base.scalars() == [1, 1, 1, 1, 1, 1])  // the input is not modified
        // Integer counting (a histogram).
        let labels = Tensor([2, 0, 2, 2, 1])
        let counts = Tensor.zeros([3], dtype: .int64).scatterAdd(axis: 0, indices: labels, source: Tensor([1, 1, 1, 1, 1]))
        #expect(counts.integers() == [1, 1, 3])
        #expect(counts.dtype == .int64)
    }

    @Test func gradientsOfGatherAndScatterAdd() {
        let idx = try! Tensor([[0, 2], [1, 1], [3, 0]] as [[Int]])
        let r1 = checkGradients([vals([3, 4])]) { $0[0].gather(axis: 1, indices: idx) }
        #expect(r1.passed, "\(r1)")
        let idx0 = try! Tensor([[2, 0, 2], [2, 1, 0]] as [[Int]])
        let r2 = checkGradients([vals([3, 4])]) { $0[0].gather(axis: 0, indices: idx0) }
        #expect(r2.passed, "\(r2)")
        // scatterAdd: gradients to both the input and the source.
        let si = Tensor([4, 1, 4, 0, 2, 2, 3, 4], shape: [2, 4])
        let r3 = checkGradients([vals([2, 5]), vals([2, 4]) * 0.5]) { $0[0].scatterAdd(axis: 1, indices: si, source: $0[1]) }
        #expect(r3.passed, "\(r3)")
        // A source larger than the indices: its unreached elements get zero gradient.
        let r4 = checkGradients([vals([3, 2]), vals([2, 3])]) {
            $0[0].scatterAdd(axis: 0, indices: Tensor([2, 0], shape: [1, 2]), source: $0[1])
        }
        #expect(r4.passed, "\(r4)")
        let s = vals([2, 3]).requiringGrad()
        Tensor.zeros([3, 2], dtype: .float64).scatterAdd(axis: 0, indices: Tensor([2, 0], shape: [1, 2]), source: s).sum().backward()
        #expect(s.grad?.scalars() == [1, 1, 0, 0, 0, 0])
    }

    // MARK: padded

    @Test func paddedValues() {
        let x = seq([2, 3])
        let p = x.padded([(0, 1), (1, 2)], value: 9)
        #expect(p.shape == [3, 6])
        #expect(p.scalars() == [9, 0, 1, 2, 9, 9,
                                9, 3, 4, 5, 9, 9,
                                9, 9, 9, 9, 9, 9])
        // F.pad order (last axis first) gives the same.
        #expect(x.padded(last: [(1, 2), (0, 1)], value: 9).scalars() == p.scalars())
        // Only leading axes given: trailing axes untouched.
        #expect(x.padded([(1, 0)]).scalars() == [0, 0, 0, 0, 1, 2, 3, 4, 5])
        // Negative widths crop, as F.pad.
        #expect(x.padded(last: [(-1, 1)]).scalars() == [1, 2, 0, 4, 5, 0])
        let i = seq([2], dtype: .int64).padded([(2, 1)], value: -1)
        #expect(i.dtype == .int64)
        #expect(i.integers() == [-1, -1, 0, 1, -1])
        #expect(x.padded([]).storage === x.storage)
    }

    @Test func gradientOfPadded() {
        let r = checkGradients([vals([2, 3])]) { $0[0].padded([(1, 2), (0, 1)], value: 0.5) }
        #expect(r.passed, "\(r)")
        let r2 = checkGradients([vals([2, 3, 2])]) { $0[0].padded(last: [(-1, 1), (1, -1)]) }
        #expect(r2.passed, "\(r2)")
    }

    // MARK: Gradients through slicing

    @Test func gradientsOfSliceAndSubscripts() {
        let x = vals([4, 6])
        let cases: [(String, (Tensor) -> Tensor)] = [
            ("slice step", { $0.slice(axis: 1, start: 1, end: 6, step: 2) }),
            ("slice negative", { $0.slice(axis: 0, start: -3, end: -1) }),
            ("int", { $0[2] }),
            ("range", { $0[1..<3] }),
            ("all+range", { $0[.all, 2...] }),
            ("stride", { $0[.all, .stride(0, 6, by: 3)] }),
            ("ellipsis", { $0[.ellipsis, -1] }),
            ("newAxis", { $0[.newAxis, 1..<2, .newAxis] }),
            ("scalar", { $0[3, 5] }),
        ]
        for (name, f) in cases {
            let r = checkGradients([x]) { f($0[0]) }
            #expect(r.passed, "\(name): \(r)")
        }
        var y = seq([3, 4], dtype: .float64)
        y.requiresGrad = true
        (y[.all, .stride(1, 4, by: 2)] * 2).sum().backward()
        #expect(y.grad?.scalars() == [0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2])
    }

    // MARK: oneHot

    @Test func oneHotValues() {
        let o = Tensor([2, 0, 1]).oneHot(classes: 3)
        #expect(o.dtype == .float32)
        #expect(o.shape == [3, 3])
        #expect(o.scalars() == [0, 0, 1, 1, 0, 0, 0, 1, 0])
        let o2 = Tensor([Int32(3), 0, 0, 1], shape: [2, 2]).oneHot(classes: 4)
        #expect(o2.shape == [2, 2, 4])
        #expect(o2.scalars() == [0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0])
    }

    // MARK: Errors

    @Test func subscriptIndexOutOfRangeNamesAxisIndexAndExtent() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3])[0, 5]
        }
        #expect(stderrText(r).contains("subscript: index 5 is out of range for axis 1 with extent 3"))
    }

    @Test func subscriptNegativeIndexOutOfRange() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3])[-3]
        }
        #expect(stderrText(r).contains("subscript: index -3 is out of range for axis 0 with extent 2"))
    }

    @Test func subscriptTooManyIndices() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3])[0, 1, 0]
        }
        #expect(stderrText(r).contains("subscript: 3 indices for a tensor of rank 2"))
    }

    @Test func sliceStepMustBePositive() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([4]).slice(axis: 0, step: 0)
        }
        #expect(stderrText(r).contains("slice: step must be positive, not 0"))
    }

    @Test func indexSelectOutOfRangeNamesIndex() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([4, 3]).indexSelect(axis: 1, indices: Tensor([0, 3]))
        }
        #expect(stderrText(r).contains("indexSelect: index 3 (at flat position 1 of the indices) is out of range for axis 1 with extent 3"))
    }

    @Test func indexSelectNeedsIntegerIndices() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([4, 3]).indexSelect(axis: 0, indices: Tensor([0.0, 1.0]))
        }
        #expect(stderrText(r).contains("indexSelect: indices must be int32 or int64, not float32"))
    }

    @Test func gatherOutOfRangeNamesIndex() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).gather(axis: 1, indices: Tensor([0, -1], shape: [2, 1]))
        }
        #expect(stderrText(r).contains("gather: index -1 (at flat position 1 of the indices) is out of range for axis 1 with extent 3"))
    }

    @Test func scatterAddDtypeMismatch() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([3]).scatterAdd(axis: 0, indices: Tensor([0]), source: Tensor.ones([1], dtype: .float64))
        }
        #expect(stderrText(r).contains("scatterAdd: source has dtype float64 but the input has dtype float32"))
    }

    @Test func oneHotValueOutOfRange() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor([1, 4]).oneHot(classes: 3)
        }
        #expect(stderrText(r).contains("oneHot: value 4 (at flat position 1) is out of range for 3 classes"))
    }

    @Test func padCropBeyondExtent() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).padded([(0, 0), (-2, -2)])
        }
        #expect(stderrText(r).contains("pad: widths (-2, -2) on axis 1 remove more than its extent 3"))
    }
}
