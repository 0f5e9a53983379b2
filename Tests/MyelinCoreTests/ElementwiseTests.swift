import Foundation
import Myelin
import Testing

/// Checks `t` against `expected` element by element: |a − e| ≤ atol + rtol·|e|; NaN must match NaN.
private func expectClose(_ t: Tensor, _ expected: [Double], rtol: Double = 1e-6, atol: Double = 0,
                         _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    let got = t.scalars(as: Double.self)
    #expect(got.count == expected.count, "\(what): \(got.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    for (i, (g, e)) in zip(got, expected).enumerated() {
        if e.isNaN {
            #expect(g.isNaN, "\(what)[\(i)]: got \(g), expected NaN", sourceLocation: sourceLocation)
        } else if e.isInfinite {
            #expect(g == e, "\(what)[\(i)]: got \(g), expected \(e)", sourceLocation: sourceLocation)
        } else {
            #expect(Swift.abs(g - e) <= atol + rtol * Swift.abs(e), "\(what)[\(i)]: got \(g), expected \(e)", sourceLocation: sourceLocation)
        }
    }
}

private func gradCheck(_ inputs: [Tensor], sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor) {
    let r = checkGradients(inputs, f)
    #expect(r.passed, "\(r)", sourceLocation: sourceLocation)
}

private func t64(_ v: [Double], _ shape: [Int]? = nil) -> Tensor { Tensor(v, shape: shape, dtype: .float64) }

/// The gradient of sum(f(x)) with respect to x, as Doubles.
private func gradOfSum(_ x: Tensor, _ f: (Tensor) -> Tensor) -> [Double] {
    let leaf = x.requiringGrad()
    f(leaf).sum().backward()
    return leaf.grad?.scalars(as: Double.self) ?? []
}

@Suite struct ElementwiseTests {
    static let samples: [Double] = [-30, -3.5, -1, -0.25, -1e-8, 0, 1e-8, 0.3, 1, 2.5, 7, 30]
    static let positives: [Double] = [1e-30, 1e-8, 0.01, 0.5, 1, 2, 10, 1e6, 1e30]

    // MARK: Forward values against Foundation

    @Test(arguments: [DType.float32, .float64])
    func unaryForwardMatchesFoundation(dtype: DType) {
        let x = Tensor(Self.samples, dtype: dtype)
        let p = Tensor(Self.positives, dtype: dtype)
        // Foundation computed in the same precision as the tensor.
        func ref(_ v: [Double], _ f32: (Float) -> Float, _ f64: (Double) -> Double) -> [Double] {
            v.map { dtype == .float32 ? Double(f32(Float($0))) : f64($0) }
        }
        let tol = dtype == .float32 ? 1e-6 : 1e-13
        expectClose(x.abs(), ref(Self.samples, { Swift.abs($0) }, { Swift.abs($0) }), rtol: 0, "abs")
        expectClose(x.exp(), ref(Self.samples, expf, Foundation.exp), rtol: tol, "exp")
        expectClose(x.sin(), ref(Self.samples, sinf, Foundation.sin), rtol: tol, atol: 1e-7, "sin")
        expectClose(x.cos(), ref(Self.samples, cosf, Foundation.cos), rtol: tol, atol: 1e-7, "cos")
        expectClose(x.tanh(), ref(Self.samples, tanhf, Foundation.tanh), rtol: tol, "tanh")
        expectClose(x.square(), ref(Self.samples, { $0 * $0 }, { $0 * $0 }), rtol: tol, "square")
        expectClose(p.sqrt(), ref(Self.positives, sqrtf, Foundation.sqrt), rtol: tol, "sqrt")
        expectClose(p.rsqrt(), ref(Self.positives, { 1 / sqrtf($0) }, { 1 / Foundation.sqrt($0) }), rtol: tol, "rsqrt")
        expectClose(p.log(), ref(Self.positives, logf, Foundation.log), rtol: tol, atol: 1e-7, "log")
        expectClose(Tensor(Array(Self.samples[4...]), dtype: dtype).log1p(), ref(Array(Self.samples[4...]), log1pf, Foundation.log1p),
                    rtol: tol, "log1p")
        // Edge cases: log(0) = −inf, log(−1) = NaN, sqrt(−1) = NaN.
        expectClose(Tensor([0, -1], dtype: dtype).log(), [-.infinity, .nan], "log edges")
        expectClose(Tensor([-1], dtype: dtype).sqrt(), [.nan], "sqrt edge")
    }

    @Test func log1pIsAccurateForTinyInputs() {
        let x = Tensor([1e-10, -1e-12, 1e-20], dtype: .float64)
        expectClose(x.log1p(), [1e-10 - 5e-21, -1e-12 - 5e-25, 1e-20], rtol: 1e-15, "log1p")
        expectClose(Tensor([1e-10]).log1p(), [1e-10], rtol: 1e-6, "log1p float32")
    }

    @Test func powMatchesCSemantics() {
        let x = t64([-2, -2, 0, 0, 3, 4, -8])
        expectClose(x.pow(3), [-8, -8, 0, 0, 27, 64, -512], rtol: 0, "pow 3")
        expectClose(x.pow(2), [4, 4, 0, 0, 9, 16, 64], rtol: 0, "pow 2")
        expectClose(x.pow(0), [1, 1, 1, 1, 1, 1, 1], rtol: 0, "pow 0")
        expectClose(x.pow(0.5), [.nan, .nan, 0, 0, Foundation.sqrt(3), 2, .nan], rtol: 1e-15, "pow 0.5")
        expectClose(x.pow(-1), [-0.5, -0.5, .infinity, .infinity, 1.0 / 3, 0.25, -0.125], rtol: 1e-15, "pow -1")
        expectClose(x.pow(2.7), [-2, -2, 0, 0, 3, 4, -8].map { Foundation.pow($0, 2.7) }, rtol: 1e-15, "pow 2.7")
        expectClose(Tensor([-2.0, 1.5]).pow(5), [-32, Double(Foundation.powf(1.5, 5))], rtol: 1e-6, "pow float32")
        // Tensor exponent with broadcasting: [2, 3] ^ [3].
        let a = t64([1, 2, 3, -2, 0, 5], [2, 3]), b = t64([2, 0.5, -1])
        expectClose(pow(a, b), [1, Foundation.sqrt(2), 1.0 / 3, 4, 0, 0.2], rtol: 1e-15, "pow tensor")
        #expect(a.pow(b).shape == [2, 3])
    }

    @Test func activationValues() {
        let v: [Double] = [-30, -2, -0.5, 0, 0.5, 2, 30]
        let x = t64(v)
        expectClose(x.relu(), v.map { Swift.max($0, 0) }, rtol: 0, "relu")
        expectClose(x.leakyRelu(), v.map { $0 > 0 ? $0 : 0.01 * $0 }, rtol: 1e-15, "leakyRelu")
        expectClose(x.leakyRelu(negativeSlope: 0.2), v.map { $0 > 0 ? $0 : 0.2 * $0 }, rtol: 1e-15, "leakyRelu 0.2")
        expectClose(x.elu(), v.map { $0 > 0 ? $0 : Foundation.expm1($0) }, rtol: 1e-15, "elu")
        expectClose(x.elu(alpha: 0.5), v.map { $0 > 0 ? $0 : 0.5 * Foundation.expm1($0) }, rtol: 1e-15, "elu 0.5")
        expectClose(x.sigmoid(), v.map { 1 / (1 + Foundation.exp(-$0)) }, rtol: 1e-14, "sigmoid")
        expectClose(x.gelu(), v.map { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }, rtol: 1e-14, atol: 1e-300, "gelu erf")
        expectClose(x.gelu(approximation: .tanh),
                    v.map { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) },
                    rtol: 1e-14, "gelu tanh")
        // PyTorch reference values (torch.nn.functional.gelu) at 1.0.
        expectClose(t64([1]).gelu(), [0.8413447460685429], rtol: 1e-12, "gelu(1)")
        expectClose(t64([1]).gelu(approximation: .tanh), [0.8411919906082768], rtol: 1e-12, "gelu tanh(1)")
        expectClose(x.softplus(), v.map { $0 > 20 ? $0 : Foundation.log1p(Foundation.exp($0)) }, rtol: 1e-14, "softplus")
        // beta = 2, threshold = 3: linear where 2x > 3.
        expectClose(x.softplus(beta: 2, threshold: 3), v.map { 2 * $0 > 3 ? $0 : Foundation.log1p(Foundation.exp(2 * $0)) / 2 },
                    rtol: 1e-14, "softplus beta")
        #expect(t64([2]).softplus(beta: 2, threshold: 3).itemDouble() == 2)
    }

    @Test(arguments: [DType.float32, .float64])
    func sigmoidAndSoftplusStayFiniteForLargeInputs(dtype: DType) {
        let x = Tensor([-1000, -100, -88, 88, 100, 1000], dtype: dtype)
        let s = x.sigmoid().scalars(as: Double.self)
        #expect(s.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "\(s)")
        #expect(s[0] == 0 && s[5] == 1)
        expectClose(Tensor([-100], dtype: .float64).sigmoid(), [Foundation.exp(-100.0)], rtol: 1e-14, "sigmoid(-100)")
        let sp = x.softplus().scalars(as: Double.self)
        #expect(sp.allSatisfy { $0.isFinite }, "\(sp)")
        #expect(Tensor([-1000, 1000], dtype: dtype).tanh().scalars(as: Double.self) == [-1, 1])
    }

    @Test func clampMinimumMaximumValues() {
        let x = t64([-3, -1, 0, 1, 3, .nan])
        expectClose(x.clamp(min: -1, max: 2), [-1, -1, 0, 1, 2, .nan], rtol: 0, "clamp")
        expectClose(x.clamp(min: 0), [0, 0, 0, 1, 3, .nan], rtol: 0, "clamp min")
        expectClose(x.clamp(max: 0), [-3, -1, 0, 0, 0, .nan], rtol: 0, "clamp max")
        expectClose(x.clamp(min: 2, max: 1), [1, 1, 1, 1, 1, .nan], rtol: 0, "clamp min > max gives max")
        let y = t64([0, 0, 0, 0, 0, 0])
        expectClose(maximum(x, y), [0, 0, 0, 1, 3, .nan], rtol: 0, "maximum")
        expectClose(minimum(x, y), [-3, -1, 0, 0, 0, .nan], rtol: 0, "minimum")
        expectClose(maximum(x, 0.5), [0.5, 0.5, 0.5, 1, 3, .nan], rtol: 0, "maximum scalar")
        expectClose(minimum(0.5, x), [-3, -1, 0, 0.5, 0.5, .nan], rtol: 0, "minimum scalar")
        // [2,1,3] with [4,1] broadcasts to [2,4,3].
        let a = t64((0..<6).map { Double($0) }, [2, 1, 3]), b = t64([1, 2, 3, 4], [4, 1])
        let m = maximum(a, b)
        #expect(m.shape == [2, 4, 3])
        var expected: [Double] = []
        for i in 0..<2 { for j in 0..<4 { for k in 0..<3 { expected.append(Swift.max(Double(i * 3 + k), Double(j + 1))) } } }
        expectClose(m, expected, rtol: 0, "maximum broadcast")
        // Integers stay integers.
        let ints = maximum(Tensor([1, 5, -3]), Tensor([2, 2, 2]))
        #expect(ints.dtype == .int64 && ints.integers() == [2, 5, 2])
        #expect(Tensor([-3, 4]).abs().integers() == [3, 4])
    }

    // MARK: Vectorised float32 kernels

    @Test func fastMathIsWithinOneMillionthOfFoundation() {
        // A dense sweep over [−110, 110] plus edge values, through the tensor API (SIMD path + tail).
        var xs = stride(from: -110.0, through: 110.0, by: 0.0137).map { Float($0) }
        xs += [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 0.625, -0.625, 0.62499, 9.1, 88.37, 88.72, 88.8, -87.33, -87.4, -103, -104,
               .infinity, -.infinity, .nan, Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude]
        let x = Tensor(xs)
        let e = x.exp().scalars(as: Float.self)
        let th = x.tanh().scalars(as: Float.self)
        let sg = x.sigmoid().scalars(as: Float.self)
        func check(_ name: String, _ got: [Float], _ ref: (Float) -> Float) {
            var worst = 0.0, at: Float = 0
            for (i, v) in xs.enumerated() {
                let r = ref(v), g = got[i]
                if r.isNaN { #expect(g.isNaN, "\(name)(\(v)) = \(g), expected NaN"); continue }
                if r.isInfinite || r == 0 { #expect(g == r, "\(name)(\(v)) = \(g), expected \(r)"); continue }
                let rel = Swift.abs(Double(g) - Double(r)) / Swift.abs(Double(r))
                if rel > worst { worst = rel; at = v }
            }
            #expect(worst <= 1e-6, "\(name): worst relative error \(worst) at x = \(at)")
        }
        check("exp", e) { expf($0) }
        check("tanh", th) { tanhf($0) }
        check("sigmoid", sg) { v in Float(1 / (1 + Foundation.exp(-Double(v)))) }
    }

    // MARK: Gradients

    @Test func gradientChecksOfUnaryMath() {
        let x = t64([-1.7, -0.4, 0.3, 0.9, 2.2, -3.1], [2, 3])
        let pos = t64([0.2, 0.7, 1.3, 2.9, 5.0, 0.05], [2, 3])
        gradCheck([x]) { $0[0].abs() }
        gradCheck([x]) { $0[0].exp() }
        gradCheck([x]) { $0[0].sin() }
        gradCheck([x]) { $0[0].cos() }
        gradCheck([x]) { $0[0].square() }
        gradCheck([pos]) { $0[0].sqrt() }
        gradCheck([pos]) { $0[0].rsqrt() }
        gradCheck([pos]) { $0[0].log() }
        gradCheck([x * 0.2]) { $0[0].log1p() }
        for e in [0.0, 1, 2, 3, -1, -2, 0.5, -0.5, 2.7, -1.3] {
            gradCheck([pos]) { $0[0].pow(e) }
        }
        gradCheck([x]) { $0[0].pow(3) }  // negative bases, integral exponent
        gradCheck([x]) { $0[0].clamp(min: -1, max: 1) }
        gradCheck([x]) { $0[0].clamp(min: 0.1) }
        gradCheck([x]) { $0[0].clamp(max: 0.5) }
    }

    @Test func gradientChecksOfBinaryMathWithBroadcasting() {
        let a = t64([0.5, 1.2, 2.0, 0.8, 1.7, 3.0], [2, 3])
        let b = t64([1.5, -0.7, 2.2])
        gradCheck([a, b]) { pow($0[0], $0[1]) }              // [2,3] ^ [3]
        gradCheck([a, t64([1.3], [])]) { $0[0].pow($0[1]) }  // tensor ^ scalar tensor
        let c = t64([0.1, -0.9, 1.4, 2.6, -2.0, 0.45], [2, 1, 3])
        let d = t64([0.3, -1.2, 1.0, 2.1], [4, 1])
        gradCheck([c, d]) { maximum($0[0], $0[1]) }          // [2,1,3] with [4,1]
        gradCheck([c, d]) { minimum($0[0], $0[1]) }
        gradCheck([c]) { maximum($0[0], 0.2) }
        gradCheck([c]) { minimum(0.2, $0[0]) }
    }

    @Test func gradientChecksOfActivations() {
        let x = t64([-2.3, -0.7, -0.1, 0.2, 0.9, 3.1, -25, 25], [2, 4])
        gradCheck([x]) { $0[0].tanh() }
        gradCheck([x]) { $0[0].sigmoid() }
        gradCheck([x]) { $0[0].relu() }
        gradCheck([x]) { $0[0].leakyRelu() }
        gradCheck([x]) { $0[0].leakyRelu(negativeSlope: 0.3) }
        gradCheck([x]) { $0[0].elu() }
        gradCheck([x]) { $0[0].elu(alpha: 1.7) }
        gradCheck([x]) { $0[0].gelu() }
        gradCheck([x]) { $0[0].gelu(approximation: .tanh) }
        gradCheck([x]) { $0[0].softplus() }
        gradCheck([x]) { $0[0].softplus(beta: 2, threshold: 3) }
    }

    @Test func gradientsAtKinksFollowPyTorch() {
        let x = t64([-1, 0, 1])
        #expect(gradOfSum(x) { $0.relu() } == [0, 0, 1])
        #expect(gradOfSum(x) { $0.abs() } == [-1, 0, 1])
        #expect(gradOfSum(x) { $0.leakyRelu(negativeSlope: 0.1) } == [0.1, 0.1, 1])
        #expect(gradOfSum(t64([0])) { $0.elu(alpha: 2) } == [2])
        // clamp passes the gradient at its bounds (min <= x <= max).
        #expect(gradOfSum(t64([-2, -1, 0, 1, 2])) { $0.clamp(min: -1, max: 1) } == [0, 1, 1, 1, 0])
        // maximum/minimum split ties half/half.
        let a = t64([1, 2, 3]).requiringGrad(), b = t64([2, 2, 2]).requiringGrad()
        maximum(a, b).sum().backward()
        #expect(a.grad?.scalars(as: Double.self) == [0, 0.5, 1])
        #expect(b.grad?.scalars(as: Double.self) == [1, 0.5, 0])
        let c = t64([1, 2, 3]).requiringGrad(), d = t64([2, 2, 2]).requiringGrad()
        minimum(c, d).sum().backward()
        #expect(c.grad?.scalars(as: Double.self) == [1, 0.5, 0])
        #expect(d.grad?.scalars(as: Double.self) == [0, 0.5, 1])
        // pow: zero gradient for exponent 0; exponent gradient masked where base == 0.
        #expect(gradOfSum(t64([0, 2])) { $0.pow(0) } == [0, 0])
        let base = t64([0, 0, 2]).requiringGrad(), ex = t64([2, 0, 3]).requiringGrad()
        pow(base, ex).sum().backward()
        #expect(ex.grad?.scalars(as: Double.self) == [0, 0, 8 * Foundation.log(2)])
        #expect(base.grad?.scalars(as: Double.self) == [0, 0, 12])
    }

    @Test func float32GradientsFlow() {
        let x = Tensor([-1.0, 0.5, 2.0]).requiringGrad()
        (x.tanh() + x.sigmoid() + x.exp()).sum().backward()
        let g = x.grad?.scalars(as: Double.self) ?? []
        let expected = [-1.0, 0.5, 2.0].map { v -> Double in
            let t = Foundation.tanh(v), s = 1 / (1 + Foundation.exp(-v))
            return (1 - t * t) + s * (1 - s) + Foundation.exp(v)
        }
        expectClose(Tensor(g, dtype: .float64), expected, rtol: 1e-5, "float32 grads")
        #expect(x.grad?.dtype == .float32)
    }

    // MARK: Comparisons, where, logic

    @Test func comparisonsOfFloatsWithBroadcasting() throws {
        let a = try Tensor([[1, 2, 3], [4, 5, 6]] as [[Double]])
        let b = Tensor([2.0, 5, 3])
        #expect((a .== b).bools() == [false, false, true, false, true, false])
        #expect((a .!= b).bools() == [true, true, false, true, false, true])
        #expect((a .< b).bools() == [true, true, false, false, false, false])
        #expect((a .<= b).bools() == [true, true, true, false, true, false])
        #expect((a .> b).bools() == [false, false, false, true, false, true])
        #expect((a .>= b).bools() == [false, false, true, true, true, true])
        #expect((a .> b).dtype == .bool && (a .> b).shape == [2, 3])
        #expect((a .> 3.5).bools() == [false, false, false, true, true, true])
        #expect((2.5 .< a).bools() == [false, false, true, true, true, true])
        #expect((Tensor([0.1]) .== 0.1).bools() == [true])  // the scalar is rounded to float32 like the tensor
        #expect((Tensor([Double.nan], dtype: .float64) .== Tensor([Double.nan], dtype: .float64)).bools() == [false])
        #expect((Tensor([Double.nan], dtype: .float64) .!= Tensor([Double.nan], dtype: .float64)).bools() == [true])
        // [2,1,3] against [4,1].
        let c = Tensor((0..<6).map { Double($0) }, shape: [2, 1, 3]), d = Tensor([0.0, 2, 4, 6], shape: [4, 1])
        let ge = c .>= d
        #expect(ge.shape == [2, 4, 3])
        var expected: [Bool] = []
        for i in 0..<2 { for j in 0..<4 { for k in 0..<3 { expected.append(i * 3 + k >= j * 2) } } }
        #expect(ge.bools() == expected)
    }

    @Test func comparisonsOfInt64AreExact() {
        let big: Int = 1 << 60
        let a = Tensor([big, big + 1, -5, 7]), b = Tensor([big + 1, big + 1, -5, 3])
        #expect(a.dtype == .int64)
        #expect((a .== b).bools() == [false, true, true, false])
        #expect((a .< b).bools() == [true, false, false, false])
        #expect((a .>= Double(7)).bools() == [true, true, false, true])
        #expect((a .< 2.5).bools() == [false, false, true, false])
        #expect((Tensor([1, 2, 3]) .== Tensor([1.0, 2.5, 3.0])).bools() == [true, false, true])
        #expect((Tensor([Int32(4), 9], dtype: .int32) .> Tensor([5, 5])).bools() == [false, true])
        // Integer arithmetic stays integer (exact above 2^53).
        let s = a + b
        #expect(s.dtype == .int64)
        #expect(s.integers() == [2 * big + 1, 2 * big + 2, -10, 10])
        #expect((a - b).integers() == [-1, 0, 0, 4])
        #expect((Tensor([3, -4]) * Tensor([5, 6])).integers() == [15, -24])
        #expect((-Tensor([3, -4])).integers() == [-3, 4])
        #expect((Tensor([7]) / Tensor([2])).dtype == .float32)
    }

    @Test func whereSelectsWithBroadcasting() throws {
        let x = try Tensor([[1, -2, 3], [-4, 5, -6]] as [[Double]])
        let y = Tensor.where(x .> 0, x, Tensor([10.0, 20, 30]))
        #expect(y.shape == [2, 3])
        #expect(y.scalars() == [1, 20, 3, 10, 5, 30])
        #expect(select(x .> 0, x, 0.0).scalars() == [1, 0, 3, 0, 5, 0])
        // Condition [2,1,1], a [3], b [4,1] → [2,4,3].
        let cond = Tensor([true, false], shape: [2, 1, 1])
        let a = Tensor([1.0, 2, 3]), b = Tensor([-1.0, -2, -3, -4], shape: [4, 1])
        let w = `where`(cond, a, b)
        #expect(w.shape == [2, 4, 3])
        var expected: [Float] = []
        for i in 0..<2 { for j in 0..<4 { for k in 0..<3 { expected.append(i == 0 ? Float(k + 1) : -Float(j + 1)) } } }
        #expect(w.scalars() == expected)
        // Integer and mixed operands.
        let wi = `where`(Tensor([true, false]), Tensor([1, 2]), Tensor([3, 4]))
        #expect(wi.dtype == .int64 && wi.integers() == [1, 4])
        let wm = `where`(Tensor([true, false]), Tensor([1, 2]), Tensor([0.5, 0.5], dtype: .float64))
        #expect(wm.dtype == .float64 && wm.scalars(as: Double.self) == [1, 0.5])
    }

    @Test func whereGradientsFlowToTheSelectedOperand() {
        let cond = Tensor([true, false, true, false, false, true], shape: [2, 3])
        let a = t64([0.3, -1.2, 2.0]), b = t64([1.5, -0.5], [2, 1])
        gradCheck([cond, a, b]) { `where`($0[0], $0[1], $0[2]) }
        gradCheck([cond, a, b]) { `where`($0[0], $0[1] * $0[1], $0[2].exp()) }
        let al = a.requiringGrad(), bl = b.requiringGrad()
        `where`(cond, al, bl).sum().backward()
        #expect(al.grad?.scalars(as: Double.self) == [1, 0, 2])
        #expect(bl.grad?.scalars(as: Double.self) == [1, 2])
    }

    @Test func logicalOps() {
        let p = Tensor([true, true, false, false]), q = Tensor([true, false, true, false])
        #expect((p .& q).bools() == [true, false, false, false])
        #expect((p .| q).bools() == [true, true, true, false])
        #expect((p .^ q).bools() == [false, true, true, false])
        #expect((.!p).bools() == [false, false, true, true])
        #expect(p.logicalAnd(Tensor([true])).bools() == [true, true, false, false])
        #expect(Tensor([0.0, 2.0]).logicalNot().bools() == [true, false])
        #expect((p .== q).bools() == [true, false, false, true])
    }

    // MARK: Misuse

    @Test func addingIncompatibleShapesStopsWithAMessage() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let a = Tensor.zeros([2, 3]), b = Tensor.zeros([4])
            _ = a + b
        }
        if let result {
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("add"), "\(message)")
            #expect(message.contains("[2, 3]") && message.contains("[4]"), "\(message)")
        }
    }

    @Test func clampWithoutBoundsStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2]).clamp()
        }
        if let result {
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("clamp: at least one of min and max"), "\(message)")
        }
    }

    @Test func whereWithIncompatibleShapesStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = select(Tensor([true, false, true]), Tensor.zeros([2, 3]), Tensor.zeros([4, 1]))
        }
        if let result {
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("where") && message.contains("[2, 3]") && message.contains("[4, 1]"), "\(message)")
        }
    }
}
