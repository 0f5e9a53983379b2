import Testing
import Myelin

private func moments(_ x: [Double]) -> (mean: Double, variance: Double, skew: Double, kurtosis: Double) {
    let n = Double(x.count)
    let mean = x.reduce(0, +) / n
    var m2 = 0.0, m3 = 0.0, m4 = 0.0
    for v in x {
        let d = v - mean
        m2 += d * d; m3 += d * d * d; m4 += d * d * d * d
    }
    m2 /= n; m3 /= n; m4 /= n
    return (mean, m2, m3 / (m2 * m2.squareRoot()), m4 / (m2 * m2))
}

@Suite struct RandomTests {
    @Test func philoxMatchesRandom123KnownAnswers() {
        // Known-answer vectors of philox4x32-10 from Random123's kat_vectors.
        let zero = RandomGenerator.philox(seed: 0, counter: 0, stream: 0)
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let ones = RandomGenerator.philox(seed: .max, counter: .max, stream: .max)
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        let pi = RandomGenerator.philox(seed: 0x299f_31d0_a409_3822, counter: 0x85a3_08d3_243f_6a88,
                                        stream: 0x0370_7344_1319_8a2e)
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    @Test func sameSeedSameValuesDifferentSeedsDiffer() {
        let a = Tensor.rand([1000], generator: RandomGenerator(seed: 42)).scalars()
        let b = Tensor.rand([1000], generator: RandomGenerator(seed: 42)).scalars()
        let c = Tensor.rand([1000], generator: RandomGenerator(seed: 43)).scalars()
        #expect(a == b)
        #expect(a != c)
        let g = RandomGenerator(seed: 42)
        let first = Tensor.randn([10], generator: g).scalars()
        let second = Tensor.randn([10], generator: g).scalars()
        #expect(first != second)
        g.manualSeed(42)
        #expect(Tensor.randn([10], generator: g).scalars() == first)
    }

    @Test func globalManualSeedReseedsTheDefault() {
        manualSeed(20_240_611)
        #expect(RandomGenerator.default.seed == 20_240_611)
    }

    @Test func fillsDoNotDependOnHowTheyAreSplit() {
        // One parallel fill of 100k equals two fills of 50k from the same seed:
        // values depend on the stream position only, not on threads or call sizes.
        let whole = Tensor.rand([100_000], generator: RandomGenerator(seed: 9)).scalars()
        let g = RandomGenerator(seed: 9)
        let halves = Tensor.rand([50_000], generator: g).scalars() + Tensor.rand([50_000], generator: g).scalars()
        #expect(whole == halves)
    }

    @Test func uniformMoments() {
        let x = Tensor.rand([100_000], generator: RandomGenerator(seed: 1)).scalars(as: Double.self)
        let m = moments(x)
        #expect(Swift.abs(m.mean - 0.5) < 0.005)
        #expect(Swift.abs(m.variance - 1.0 / 12) < 0.002)
        #expect(x.allSatisfy { $0 >= 0 && $0 < 1 })
        let y = Tensor.uniform([100_000], low: -2, high: 3, dtype: .float64, generator: RandomGenerator(seed: 2))
        #expect(y.dtype == .float64)
        let my = moments(y.scalars(as: Double.self))
        #expect(Swift.abs(my.mean - 0.5) < 0.03)
        #expect(Swift.abs(my.variance - 25.0 / 12) < 0.05)
        #expect(y.scalars(as: Double.self).allSatisfy { $0 >= -2 && $0 < 3 })
    }

    @Test func uniformUsesFullPrecision() {
        let f = Tensor.rand([4096], generator: RandomGenerator(seed: 3)).scalars()
        // Every float is a multiple of 2^-24 and many need more than 16 bits.
        #expect(f.allSatisfy { ($0 * 0x1p24).rounded() == $0 * 0x1p24 })
        #expect(f.filter { ($0 * 0x1p16).rounded() != $0 * 0x1p16 }.count > 4000)
        let d = Tensor.rand([4096], dtype: .float64, generator: RandomGenerator(seed: 3)).scalars(as: Double.self)
        #expect(d.filter { ($0 * 0x1p32).rounded() != $0 * 0x1p32 }.count > 4000)
    }

    @Test func normalMoments() {
        let x = Tensor.randn([100_000], generator: RandomGenerator(seed: 4)).scalars(as: Double.self)
        let m = moments(x)
        #expect(Swift.abs(m.mean) < 0.02)
        #expect(Swift.abs(m.variance - 1) < 0.025)
        #expect(Swift.abs(m.skew) < 0.05)
        #expect(Swift.abs(m.kurtosis - 3) < 0.1)
        let y = Tensor.normal([100_001], mean: 3, std: 2, dtype: .float64, generator: RandomGenerator(seed: 5))
        let my = moments(y.scalars(as: Double.self))
        #expect(Swift.abs(my.mean - 3) < 0.04)
        #expect(Swift.abs(my.variance - 4) < 0.1)
        #expect(Swift.abs(my.kurtosis - 3) < 0.1)
    }

    @Test func oddSizesAreFullyWritten() {
        for n in [1, 2, 3, 5, 7] {
            let g = RandomGenerator(seed: UInt64(n))
            #expect(Tensor.rand([n], generator: g).scalars().allSatisfy { $0 >= 0 && $0 < 1 })
            #expect(Tensor.randn([n], dtype: .float64, generator: g).scalars(as: Double.self).allSatisfy { $0.isFinite && $0 != 0 })
            #expect(Tensor.randint(5, 8, [n], generator: g).integers().allSatisfy { (5..<8).contains($0) })
        }
        #expect(Tensor.rand([0, 3]).shape == [0, 3])
    }

    @Test func bernoulliMoments() {
        let x = Tensor.bernoulli([100_000], p: 0.3, generator: RandomGenerator(seed: 6)).scalars(as: Double.self)
        #expect(x.allSatisfy { $0 == 0 || $0 == 1 })
        #expect(Swift.abs(moments(x).mean - 0.3) < 0.01)
        #expect(Tensor.bernoulli([1000], p: 0).scalars().allSatisfy { $0 == 0 })
        #expect(Tensor.bernoulli([1000], p: 1).scalars().allSatisfy { $0 == 1 })
        let mask = Tensor.bernoulli([10], p: 0.5, dtype: .bool)
        #expect(mask.dtype == .bool)
    }

    @Test func randintIsUniformOverItsRange() {
        let x = Tensor.randint(-3, 4, [100_000], generator: RandomGenerator(seed: 7))
        #expect(x.dtype == .int64)
        let v = x.integers()
        #expect(v.allSatisfy { (-3..<4).contains($0) })
        for k in -3..<4 {
            let share = Double(v.filter { $0 == k }.count) / 100_000
            #expect(Swift.abs(share - 1.0 / 7) < 0.01, "value \(k) has share \(share)")
        }
        #expect(Tensor.randint(0, 1, [50]).integers().allSatisfy { $0 == 0 })
        let wide = Tensor.randint(Int.min / 2, Int.max / 2, [1000], generator: RandomGenerator(seed: 8)).integers()
        #expect(wide.allSatisfy { $0 >= Int.min / 2 && $0 < Int.max / 2 })
        #expect(wide.contains { $0 < Int.min / 4 } && wide.contains { $0 > Int.max / 4 })
    }

    @Test func scalarDraws() {
        let g = RandomGenerator(seed: 11)
        let ints = (0..<10_000).map { _ in g.nextInt(10, 20) }
        #expect(ints.allSatisfy { (10..<20).contains($0) })
        #expect(Set(ints).count == 10)
        let u = (0..<10_000).map { _ in g.nextDouble() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        let z = (0..<20_000).map { _ in g.nextNormal() }
        let m = moments(z)
        #expect(Swift.abs(m.mean) < 0.05 && Swift.abs(m.variance - 1) < 0.05)
        #expect(g.nextFloat() < 1)
        let p = g.permutation(50)
        #expect(p.sorted() == Array(0..<50) && p != Array(0..<50))
        #expect(Tensor.randperm(6, generator: g).integers().sorted() == [0, 1, 2, 3, 4, 5])
    }

    @Test func forkGivesIndependentReproducibleStreams() {
        let parent = RandomGenerator(seed: 12)
        let children = parent.fork(3)
        let draws = children.map { Tensor.rand([8], generator: $0).scalars() }
        #expect(Set(draws.map { $0.description }).count == 3)
        let again = RandomGenerator(seed: 12).fork(3).map { Tensor.rand([8], generator: $0).scalars() }
        #expect(draws == again)
        #expect(Tensor.rand([8], generator: RandomGenerator(seed: 12)).scalars() != draws[0])
    }

    @Test func stateRoundTrips() {
        let g = RandomGenerator(seed: 13)
        _ = g.nextUInt32()  // leave words buffered
        let saved = g.state
        let a = (g.nextUInt64(), Tensor.randn([5], generator: g).scalars())
        g.state = saved
        let b = (g.nextUInt64(), Tensor.randn([5], generator: g).scalars())
        #expect(a.0 == b.0 && a.1 == b.1)
    }

    @Test func fillInPlace() {
        var w = Tensor.zeros([4, 4], dtype: .float64)
        let shared = w
        w.fillUniform(low: -0.1, high: 0.1, generator: RandomGenerator(seed: 14))
        #expect(w.scalars(as: Double.self).allSatisfy { $0 >= -0.1 && $0 < 0.1 && $0 != 0 })
        #expect(shared.scalars(as: Double.self).allSatisfy { $0 == 0 })  // copy-on-write kept the copy
        w.fillNormal(mean: 5, std: 0, generator: RandomGenerator(seed: 14))
        #expect(w.scalars(as: Double.self).allSatisfy { $0 == 5 })
    }

    @Test func bernoulliRejectsBadProbability() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.bernoulli([3], p: 1.5)
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("bernoulli: p must be in [0, 1], got 1.5"))
    }
}
