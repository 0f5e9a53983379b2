import Foundation
import Testing
import Myelin

/// A naive reduction written independently of the library: walks every element and
/// folds it into the output slot its index maps to (reduced axes dropped).
private func naiveReduce(_ values: [Double], shape: [Int], axes: [Int], initial: Double,
                         _ f: (Double, Double) -> Double) -> [Double] {
    let keptDims = shape.indices.filter { !axes.contains($0) }
    let outCount = keptDims.map { shape[$0] }.reduce(1, *)
    var out = [Double](repeating: initial, count: outCount)
    var index = [Int](repeating: 0, count: shape.count)
    for v in values {
        var o = 0
        for d in keptDims { o = o * shape[d] + index[d] }
        out[o] = f(out[o], v)
        var d = shape.count - 1
        while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
    }
    return out
}

private func close(_ a: [Double], _ b: [Double], tol: Double = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in
        (x.isNaN && y.isNaN) || x == y || Swift.abs(x - y) <= tol * Swift.max(1, Swift.abs(y))
    }
}

/// Distinct, irregular values (no ties) so max/min gradients are well defined.
private func sample(_ shape: [Int], dtype: DType = .float32, seed: Double = 0) -> (Tensor, [Double]) {
    let n = shape.reduce(1, *)
    let v: [Double] = (0..<n).map { i in
        let t = Double(i)
        return 2 * Foundation.sin(t * 1.37 + seed) + t * 0.001
    }
    return (Tensor(v, shape: shape, dtype: dtype), v)
}

@Suite struct ReductionTests {
    // MARK: values

    @Test func sumHandValues() throws {
        let x = try Tensor([[1, 2, 3], [4, 5, 6]] as [[Double]])
        #expect(x.sum().scalars() == [21])
        #expect(x.sum().shape == [])
        #expect(x.sum(axis: 0).scalars() == [5, 7, 9])
        #expect(x.sum(axis: 1).scalars() == [6, 15])
        #expect(x.sum(axis: -1, keepDims: true).shape == [2, 1])
        #expect(x.sum(axes: [0, 1], keepDims: true).shape == [1, 1])
        #expect(x.sum(axes: [-2, -1]).scalars() == [21])
        // [2, 2, 2] with values 0..7: axes [0, 2] are not adjacent.
        let y = Tensor((0..<8).map(Double.init), shape: [2, 2, 2])
        #expect(y.sum(axes: [0, 2]).scalars() == [10, 18])
        #expect(y.sum(axes: [2, 0], keepDims: true).shape == [1, 2, 1])
        #expect(y.sum(axes: [-1, 0]).shape == [2])
    }

    @Test(arguments: [DType.float32, .float64])
    func reductionsMatchNaive(dtype: DType) {
        let shapes: [[Int]] = [[5], [3, 4], [2, 3, 4], [3, 1, 5, 2], [4, 2, 1, 3, 2]]
        for shape in shapes {
            let (x, v) = sample(shape, dtype: dtype)
            let rank = shape.count
            var axisSets: [[Int]] = (0..<rank).map { [$0] } + [Array(0..<rank)]
            if rank >= 3 { axisSets += [[0, 2], [0, rank - 1], [1, 2], [0, 1]] }
            if rank >= 4 { axisSets += [[0, 2, 3], [1, 3]] }
            for axes in axisSets {
                let n = Double(axes.map { shape[$0] }.reduce(1, *))
                let sums = naiveReduce(v, shape: shape, axes: axes, initial: 0, +)
                let negAxes = axes.map { $0 - rank }  // the same axes, written negatively
                for keep in [false, true] {
                    let s = x.sum(axes: negAxes, keepDims: keep)
                    #expect(s.dtype == dtype)
                    #expect(s.shape == (keep ? shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
                                              : shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)))
                    #expect(close(s.scalars(as: Double.self), sums), "sum \(shape) \(axes)")
                    #expect(close(x.mean(axes: axes, keepDims: keep).scalars(as: Double.self), sums.map { $0 / n }))
                    #expect(close(x.max(axes: axes, keepDims: keep).scalars(as: Double.self),
                                  naiveReduce(v, shape: shape, axes: axes, initial: -.infinity, Swift.max)))
                    #expect(close(x.min(axes: negAxes, keepDims: keep).scalars(as: Double.self),
                                  naiveReduce(v, shape: shape, axes: axes, initial: .infinity, Swift.min)))
                    let means = sums.map { $0 / n }
                    // Squared deviations from the naive means, each element into its output slot.
                    var ss = [Double](repeating: 0, count: sums.count)
                    for (x, slot) in zip(v, outputSlots(shape: shape, axes: axes)) { ss[slot] += (x - means[slot]) * (x - means[slot]) }
                    #expect(close(x.variance(axes: axes, unbiased: false, keepDims: keep).scalars(as: Double.self), ss.map { $0 / n }, tol: 1e-4))
                    if n > 1 {
                        #expect(close(x.std(axes: axes, keepDims: keep).scalars(as: Double.self), ss.map { ($0 / (n - 1)).squareRoot() }, tol: 1e-4))
                    }
                    let lse = naiveReduce(v, shape: shape, axes: axes, initial: 0) { $0 + Foundation.exp($1) }.map { Foundation.log($0) }
                    #expect(close(x.logSumExp(axes: axes, keepDims: keep).scalars(as: Double.self), lse, tol: 1e-5))
                }
            }
        }
    }

    @Test func integerAndBoolInputs() throws {
        let i = try Tensor([[1, 2, 3], [4, 5, 6]] as [[Int]])
        #expect(i.sum().dtype == .int64)
        #expect(i.sum(axis: 0).integers() == [5, 7, 9])
        #expect(i.mean().dtype == .float32)
        #expect(i.mean(axis: 1).scalars() == [2, 5])
        #expect(i.max(axis: 1).integers() == [3, 6])
        #expect(i.max().dtype == .int64)
        #expect(i.argmin(axis: 0).integers() == [0, 0, 0])
        let big = Tensor([Int64(1) << 40, 1, 1], shape: [3])
        #expect(big.sum().integers() == [(1 << 40) + 2])
        let b = Tensor([true, false, true, true], shape: [2, 2])
        #expect(b.sum().integers() == [3])
        #expect(b.sum(axis: 0).integers() == [2, 1])
    }

    @Test func varianceAndStdHandValues() {
        let x = Tensor([1.0, 2, 3, 4], shape: [4])
        #expect(close(x.variance().scalars(as: Double.self), [5.0 / 3]))
        #expect(close(x.variance(unbiased: false).scalars(as: Double.self), [1.25]))
        #expect(close(x.std().scalars(as: Double.self), [(5.0 / 3).squareRoot()]))
        #expect(close(x.std(unbiased: false).scalars(as: Double.self), [Double(1.25).squareRoot()]))
        let y = Tensor([1.0, 3, 2, 6], shape: [2, 2])
        #expect(close(y.variance(axis: 0).scalars(as: Double.self), [0.5, 4.5]))
        #expect(close(y.variance(axis: 1, unbiased: false, keepDims: true).scalars(as: Double.self), [1, 4]))
        #expect(y.variance(axis: 1, keepDims: true).shape == [2, 1])
        // One element, unbiased: 0/0 is NaN, as PyTorch.
        #expect(Tensor([2.0], shape: [1]).variance().itemDouble().isNaN)
    }

    @Test func emptyAndScalarReductions() {
        let e = Tensor.zeros([2, 0, 3])
        #expect(e.sum(axis: 1).scalars() == [0, 0, 0, 0, 0, 0])
        #expect(e.sum(axis: 1).shape == [2, 3])
        #expect(e.mean(axis: 1).scalars().allSatisfy { $0.isNaN })
        #expect(e.sum(axis: 0).shape == [0, 3])
        #expect(e.max(axis: 0).shape == [0, 3])
        let s = Tensor(scalar: 4.0)
        #expect(s.sum().scalars() == [4])
        #expect(s.sum(axis: 0).shape == [])
        #expect(s.max(axis: -1).scalars() == [4])
        #expect(s.softmax().scalars() == [1])
        #expect(s.argmax().integers() == [0])
    }

    @Test func maxMinPropagateNaN() {
        let x = Tensor([1.0, .nan, 3, 2, 5, 4], shape: [2, 3])
        let m = x.max(axis: 1).scalars(as: Double.self)
        #expect(m[0].isNaN && m[1] == 5)
        let n = x.min(axis: 1).scalars(as: Double.self)
        #expect(n[0].isNaN && n[1] == 2)
        #expect(x.argmax(axis: 1).integers() == [1, 1])
    }

    // MARK: argmax / argmin

    @Test func argmaxTieRuleAndShapes() throws {
        let x = try Tensor([[1, 5, 5, 2], [7, 0, 7, 7], [3, 3, 3, 3]] as [[Double]])
        #expect(x.argmax(axis: 1).integers() == [1, 0, 0])
        #expect(x.argmax(axis: 1).dtype == .int64)
        #expect(x.argmin(axis: -1).integers() == [0, 1, 0])
        #expect(x.argmax(axis: 0).integers() == [1, 0, 1, 1])
        #expect(x.argmin(axis: 0).integers() == [0, 1, 2, 0])
        #expect(x.argmax().integers() == [4])          // flattened, first of the three 7s
        #expect(x.argmax().shape == [])
        #expect(x.argmax(keepDims: true).shape == [1, 1])
        #expect(x.argmax(axis: 0, keepDims: true).shape == [1, 4])
        #expect(x.argmin().integers() == [5])
        let y = Tensor((0..<24).map { Double(($0 * 7) % 24) }, shape: [2, 3, 4], dtype: .float64)
        // Along the middle axis: index k of the largest of y[o, k, i].
        let ref = (0..<2).flatMap { o in (0..<4).map { i in
            (0..<3).max { ((o * 12 + $0 * 4 + i) * 7) % 24 < ((o * 12 + $1 * 4 + i) * 7) % 24 }! } }
        #expect(y.argmax(axis: 1).integers() == ref)
    }

    @Test func largeArgmaxParallelPath() {
        let rows = 2048, cols = 64
        var v = (0..<(rows * cols)).map { Double(($0 * 7919) % 1000) / 1000 }
        v[123 * cols + 17] = 5
        v[1999 * cols + 17] = 5  // a later tie in the same column loses
        let x = Tensor(v, shape: [rows, cols])
        #expect(x.argmax(axis: 0).integers()[17] == 123)
        #expect(x.argmax().integers() == [123 * cols + 17])
        #expect(x.argmax(axis: 1).integers()[1999] == 17)
    }

    // MARK: precision and the parallel paths

    @Test func float32SumIsAccurate() {
        let n = 1_000_000
        let v = (0..<n).map { 1 + 0.25 * sin(Double($0) * 0.37) }
        let exact = v.reduce(0, +)
        let x = Tensor(v, shape: [n])
        let s = Double(x.sum().item())
        #expect(Swift.abs(s - exact) / exact < 1e-5, "sum \(s) vs \(exact)")
        let m = Double(x.mean().item())
        #expect(Swift.abs(m - exact / Double(n)) / (exact / Double(n)) < 1e-5)
        // Long columns: [250000, 4] summed over the rows.
        let c = x.reshaped([250_000, 4]).sum(axis: 0).scalars(as: Double.self)
        let ref = naiveReduce(v, shape: [250_000, 4], axes: [0], initial: 0, +)
        #expect(zip(c, ref).allSatisfy { Swift.abs($0 - $1) / $1 < 1e-5 }, "\(c) vs \(ref)")
    }

    @Test(arguments: [[1200, 300], [7, 70_000], [60_000, 7], [40, 900, 3]])
    func largeReductionsMatchNaive(shape: [Int]) {
        let (x, v) = sample(shape)
        for axes in shape.indices.map({ [$0] }) + [Array(shape.indices)] {
            let ref = naiveReduce(v, shape: shape, axes: axes, initial: 0, +)
            #expect(close(x.sum(axes: axes).scalars(as: Double.self), ref, tol: 1e-4), "\(shape) \(axes)")
            #expect(close(x.max(axes: axes).scalars(as: Double.self),
                          naiveReduce(v, shape: shape, axes: axes, initial: -.infinity, Swift.max)))
        }
        let y = x.softmax(axis: 0).sum(axis: 0).scalars(as: Double.self)
        #expect(y.allSatisfy { Swift.abs($0 - 1) < 1e-4 })
        let z = x.softmax(axis: -1).sum(axis: -1).scalars(as: Double.self)
        #expect(z.allSatisfy { Swift.abs($0 - 1) < 1e-4 })
    }

    // MARK: softmax

    @Test(arguments: [DType.float32, .float64])
    func softmaxValuesAndStability(dtype: DType) {
        let x = Tensor([1.0, 2, 3, 1000, -1000, 0, 1000, 1000, 999], shape: [3, 3], dtype: dtype)
        let y = x.softmax()
        #expect(y.dtype == dtype)
        let v = y.scalars(as: Double.self)
        #expect(close(Array(v[0..<3]), [0.09003057317, 0.2447284711, 0.6652409558]))
        #expect(close(Array(v[3..<6]), [1, 0, 0]))
        let e = Foundation.exp(-1.0)
        #expect(close(Array(v[6..<9]), [1 / (2 + e), 1 / (2 + e), e / (2 + e)]))
        #expect(v.allSatisfy { $0.isFinite })
        let rowSums = y.sum(axis: 1).scalars(as: Double.self)
        #expect(rowSums.allSatisfy { Swift.abs($0 - 1) < 1e-6 })
        let ls = x.logSoftmax().scalars(as: Double.self)
        #expect(ls.allSatisfy { $0.isFinite })
        #expect(close(Array(ls[3..<6]), [0, -2000, -1000]))
        // Where softmax does not underflow, logSoftmax equals log(softmax).
        for (a, b) in zip(ls, v) where b > 1e-30 { #expect(Swift.abs(a - Foundation.log(b)) < 1e-5) }
    }

    @Test func softmaxAlongEveryAxis() {
        let shape = [3, 4, 5]
        let (x, v) = sample(shape, dtype: .float64)
        for axis in 0..<3 {
            let y = x.softmax(axis: axis).scalars(as: Double.self)
            let sums = naiveReduce(v, shape: shape, axes: [axis], initial: 0) { $0 + Foundation.exp($1) }
            let slots = outputSlots(shape: shape, axes: [axis])
            let ref = zip(v, slots).map { Foundation.exp($0) / sums[$1] }
            #expect(close(y, ref, tol: 1e-12), "axis \(axis)")
            #expect(close(x.logSoftmax(axis: axis - 3).scalars(as: Double.self), ref.map { Foundation.log($0) }, tol: 1e-12))
            #expect(close(x.softmax(axis: axis - 3).scalars(as: Double.self), ref, tol: 1e-12))
        }
        let big = Tensor([1000.0, -1000, 5, 1000], shape: [2, 2])
        #expect(close(big.softmax(axis: 0).scalars(as: Double.self), [1, 0, 0, 1]))
        #expect(close(big.logSoftmax(axis: 0).scalars(as: Double.self), [0, -2000, -995, 0]))
    }

    @Test func fastFloatExpIsAccurate() {
        var worst = 0.0
        var x: Float = -103
        while x < 88.7 {
            let ref = Foundation.exp(Double(x))
            if ref > 1.2e-38 { worst = Swift.max(worst, Swift.abs(Double(FastMath.exp(x)) - ref) / ref) }
            x += 0.0137
        }
        #expect(worst < 3e-7, "max relative error \(worst)")
        #expect(FastMath.exp(0) == 1)
        #expect(FastMath.exp(-.infinity) == 0)
        #expect(FastMath.exp(-200) == 0)
        #expect(FastMath.exp(.infinity) == .infinity)
        #expect(FastMath.exp(100) == .infinity)
        #expect(FastMath.exp(.nan).isNaN)
        #expect(FastMath.exp(-100) > 0 && Double(FastMath.exp(-100)) < 1e-40)
    }

    @Test func logSumExpIsStable() {
        let x = Tensor([1000.0, 1000, -1000, -1000], shape: [2, 2])
        #expect(close(x.logSumExp(axis: 1).scalars(as: Double.self), [1000 + Foundation.log(2), -1000 + Foundation.log(2)]))
        let inf = Tensor([-Double.infinity, -.infinity, 0, 1], shape: [2, 2])
        #expect(close(inf.logSumExp(axis: 1).scalars(as: Double.self), [-.infinity, Foundation.log(1 + Foundation.exp(1))]))
    }

    // MARK: gradients

    @Test func sumAndMeanGradients() {
        let (x, _) = sample([2, 3, 4])
        for axes in [nil, [0], [-1], [0, 2], [1, 2], [0, 1, 2]] as [[Int]?] {
            for keep in [false, true] {
                let r = checkGradients([x]) { $0[0].sum(axes: axes, keepDims: keep) }
                #expect(r.passed, "sum \(String(describing: axes)) \(keep): \(r)")
                let m = checkGradients([x]) { $0[0].mean(axes: axes, keepDims: keep) }
                #expect(m.passed, "mean \(String(describing: axes)) \(keep): \(m)")
            }
        }
        let a = checkGradients([x]) { $0[0].mean(axis: 1) * $0[0].sum(axis: 1) }
        #expect(a.passed, "\(a)")
    }

    @Test func maxMinGradients() {
        let (x, _) = sample([3, 4, 2], dtype: .float64)
        for axes in [nil, [0], [-1], [0, 2], [1]] as [[Int]?] {
            for keep in [false, true] {
                let r = checkGradients([x]) { $0[0].max(axes: axes, keepDims: keep) }
                #expect(r.passed, "max \(String(describing: axes)) \(keep): \(r)")
                let m = checkGradients([x]) { $0[0].min(axes: axes, keepDims: keep) }
                #expect(m.passed, "min \(String(describing: axes)) \(keep): \(m)")
            }
        }
    }

    @Test func maxGradientSplitsTies() {
        let x = Tensor([1.0, 3, 3, 2, 5, 0, 5, 5], shape: [2, 4]).requiringGrad()
        x.max(axis: 1).sum().backward()
        let third: Float = 1.0 / 3
        #expect(x.grad?.scalars() == [0, 0.5, 0.5, 0, third, 0, third, third])
        let y = Tensor([2.0, 2, 1, 2], shape: [4]).requiringGrad()
        (y.min() * 4).backward()
        #expect(y.grad?.scalars() == [0, 0, 4, 0])
        let z = Tensor([2.0, 2, 1, 2], shape: [2, 2]).requiringGrad()
        z.max().backward()
        #expect(z.grad?.scalars() == [third, third, 0, third])
    }

    @Test func varianceStdLogSumExpGradients() {
        let (x, _) = sample([3, 2, 4], dtype: .float64)
        for axes in [nil, [0], [-1], [0, 2], [1, 2]] as [[Int]?] {
            for keep in [false, true] {
                for unbiased in [false, true] {
                    let v = checkGradients([x]) { $0[0].variance(axes: axes, unbiased: unbiased, keepDims: keep) }
                    #expect(v.passed, "variance \(String(describing: axes)) \(keep) \(unbiased): \(v)")
                    let s = checkGradients([x]) { $0[0].std(axes: axes, unbiased: unbiased, keepDims: keep) }
                    #expect(s.passed, "std \(String(describing: axes)) \(keep) \(unbiased): \(s)")
                }
                let l = checkGradients([x]) { $0[0].logSumExp(axes: axes, keepDims: keep) }
                #expect(l.passed, "logSumExp \(String(describing: axes)) \(keep): \(l)")
            }
        }
        // std at zero spread has gradient 0, not NaN.
        let c = Tensor([2.0, 2, 2], shape: [3]).requiringGrad()
        c.std().backward()
        #expect(c.grad?.scalars() == [0, 0, 0])
    }

    @Test func softmaxGradients() {
        let (x, _) = sample([3, 4, 5], dtype: .float64)
        for axis in [-1, 0, 1, 2, -2] {
            let s = checkGradients([x]) { $0[0].softmax(axis: axis) }
            #expect(s.passed, "softmax axis \(axis): \(s)")
            let l = checkGradients([x]) { $0[0].logSoftmax(axis: axis) }
            #expect(l.passed, "logSoftmax axis \(axis): \(l)")
        }
        // Through a broadcast: softmax of (a + b) where b has a broadcast axis.
        let (a, _) = sample([2, 3])
        let (b, _) = sample([3], seed: 1)
        let r = checkGradients([a, b]) { ($0[0] + $0[1]).logSoftmax(axis: 0) * ($0[0] + $0[1]).softmax() }
        #expect(r.passed, "\(r)")
    }

    @Test func softmaxGradientInFloat32MatchesFloat64() {
        let (x32, _) = sample([4, 6])
        let x64 = x32.to(.float64).requiringGrad()
        let x = x32.requiringGrad()
        (x.softmax(axis: 0) * x.detached()).sum().backward()
        (x64.softmax(axis: 0) * x64.detached()).sum().backward()
        #expect(close(x.grad?.scalars(as: Double.self) ?? [], x64.grad?.scalars(as: Double.self) ?? [1], tol: 1e-5))
    }

    // MARK: misuse

    @Test func badAxisFailsNamingOpAndAxis() async {
        let sum = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).sum(axis: 2)
        }
        let softmax = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).softmax(axis: -3)
        }
        let argmax = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).argmax(axis: 5)
        }
        let variance = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).variance(axes: [0, 7])
        }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 0]).max(axis: 1) }
        for (result, needles) in [(sum, ["sum", "axis 2"]), (softmax, ["softmax", "axis -3"]),
                                  (argmax, ["argmax", "axis 5"]), (variance, ["variance", "axis 7"])] {
            let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
            for needle in needles { #expect(text.contains(needle), "\(needle) missing from: \(text)") }
        }
    }
}

/// For each input element (row-major), the flat index of the output it reduces into.
private func outputSlots(shape: [Int], axes: [Int]) -> [Int] {
    let keptDims = shape.indices.filter { !axes.contains($0) }
    var slots: [Int] = []
    var index = [Int](repeating: 0, count: shape.count)
    for _ in 0..<shape.reduce(1, *) {
        var o = 0
        for d in keptDims { o = o * shape[d] + index[d] }
        slots.append(o)
        var d = shape.count - 1
        while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
    }
    return slots
}
