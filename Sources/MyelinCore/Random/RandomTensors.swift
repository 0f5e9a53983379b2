/// Tensors of random numbers. Each fill reserves a run of Philox blocks from the
/// generator and computes them in parallel, writing straight into the storage;
/// the values depend only on the generator's state, not on the thread count.
extension Tensor {
    /// Uniform in [low, high), float32 unless `dtype` says otherwise (torch's `uniform_`).
    public static func uniform(
        _ shape: [Int], low: Double = 0, high: Double = 1, dtype: DType = .float32,
        generator: RandomGenerator = .default
    ) -> Tensor {
        var t = randomOutput(shape, dtype: dtype, op: "uniform")
        t.fillUniform(low: low, high: high, generator: generator)
        return t
    }

    /// Normal with the given mean and standard deviation (torch's `normal`).
    public static func normal(
        _ shape: [Int], mean: Double = 0, std: Double = 1, dtype: DType = .float32,
        generator: RandomGenerator = .default
    ) -> Tensor {
        var t = randomOutput(shape, dtype: dtype, op: "normal")
        t.fillNormal(mean: mean, std: std, generator: generator)
        return t
    }

    /// Uniform in [0, 1) (torch's `rand`).
    public static func rand(_ shape: [Int], dtype: DType = .float32, generator: RandomGenerator = .default) -> Tensor {
        uniform(shape, low: 0, high: 1, dtype: dtype, generator: generator)
    }

    /// Standard normal (torch's `randn`).
    public static func randn(_ shape: [Int], dtype: DType = .float32, generator: RandomGenerator = .default) -> Tensor {
        normal(shape, mean: 0, std: 1, dtype: dtype, generator: generator)
    }

    /// Ones with probability `p`, zeros otherwise; float32 unless `dtype` says otherwise
    /// (`.bool` gives a mask).
    public static func bernoulli(
        _ shape: [Int], p: Double, dtype: DType = .float32, generator: RandomGenerator = .default
    ) -> Tensor {
        require(p >= 0 && p <= 1, "bernoulli: p must be in [0, 1], got \(p)")
        let t = randomOutput(shape, dtype: dtype, op: "bernoulli", floatOnly: false)
        // Compare 32 random bits against p·2³²; p = 1 gives 2³², above every word.
        let threshold = UInt64((p * 4_294_967_296).rounded())
        switch dtype {
        case .float32: fillBernoulli(t, threshold, Float.self, generator)
        case .float64: fillBernoulli(t, threshold, Double.self, generator)
        case .int32: fillBernoulli(t, threshold, Int32.self, generator)
        case .int64: fillBernoulli(t, threshold, Int64.self, generator)
        case .bool: fillBernoulli(t, threshold, Bool.self, generator)
        }
        return t
    }

    /// Uniform integers in `low..<high`, int64 unless `dtype` says otherwise (torch's `randint`).
    public static func randint(
        _ low: Int, _ high: Int, _ shape: [Int], dtype: DType = .int64, generator: RandomGenerator = .default
    ) -> Tensor {
        require(low < high, "randint: low (\(low)) must be less than high (\(high))")
        let t = randomOutput(shape, dtype: dtype, op: "randint", floatOnly: false)
        switch dtype {
        case .float32: fillRandint(t, low, high, Float.self, generator)
        case .float64: fillRandint(t, low, high, Double.self, generator)
        case .int32: fillRandint(t, low, high, Int32.self, generator)
        case .int64: fillRandint(t, low, high, Int64.self, generator)
        case .bool: fillRandint(t, low, high, Bool.self, generator)
        }
        return t
    }

    /// A random permutation of `0..<n`, int64 (torch's `randperm`).
    public static func randperm(_ n: Int, generator: RandomGenerator = .default) -> Tensor {
        require(n >= 0, "randperm: n must be non-negative, got \(n)")
        return Tensor(generator.permutation(n).map { Int64($0) }, shape: [n], dtype: .int64)
    }

    // MARK: In-place fills (weight initialisation; not recorded by autograd)

    /// Overwrites every element with a uniform sample in [low, high).
    public mutating func fillUniform(low: Double = 0, high: Double = 1, generator: RandomGenerator = .default) {
        require(low <= high, "uniform: low (\(low)) must not exceed high (\(high))")
        require(dtype.isFloatingPoint, "uniform: needs a floating-point dtype, not \(dtype)")
        makeUnique()
        let n = count
        switch dtype {
        case .float64:
            let p = storage.pointer(as: Double.self)
            Self.forEachBlock(n, perBlock: 2, generator) { w, s, len in
                p[s] = RandomGenerator.scale(RandomGenerator.unitDouble(RandomGenerator.join(w.0, w.1)), low, high)
                if len > 1 { p[s + 1] = RandomGenerator.scale(RandomGenerator.unitDouble(RandomGenerator.join(w.2, w.3)), low, high) }
            }
        default:
            let p = storage.pointer(as: Float.self)
            let (lo, hi) = (Float(low), Float(high))
            Self.forEachBlock(n, perBlock: 4, generator) { w, s, len in
                p[s] = RandomGenerator.scale(RandomGenerator.unitFloat(w.0), lo, hi)
                if len > 1 { p[s + 1] = RandomGenerator.scale(RandomGenerator.unitFloat(w.1), lo, hi) }
                if len > 2 { p[s + 2] = RandomGenerator.scale(RandomGenerator.unitFloat(w.2), lo, hi) }
                if len > 3 { p[s + 3] = RandomGenerator.scale(RandomGenerator.unitFloat(w.3), lo, hi) }
            }
        }
    }

    /// Overwrites every element with a normal sample (Box-Muller, two values per pair of uniforms).
    public mutating func fillNormal(mean: Double = 0, std: Double = 1, generator: RandomGenerator = .default) {
        require(std >= 0, "normal: std must be non-negative, got \(std)")
        require(dtype.isFloatingPoint, "normal: needs a floating-point dtype, not \(dtype)")
        makeUnique()
        let n = count
        switch dtype {
        case .float64:
            let p = storage.pointer(as: Double.self)
            Self.forEachBlock(n, perBlock: 2, generator) { w, s, len in
                let (z0, z1) = RandomGenerator.boxMuller(
                    RandomGenerator.unitDoubleOpenBelow(RandomGenerator.join(w.0, w.1)),
                    RandomGenerator.unitDouble(RandomGenerator.join(w.2, w.3)))
                p[s] = mean + std * z0
                if len > 1 { p[s + 1] = mean + std * z1 }
            }
        default:
            let p = storage.pointer(as: Float.self)
            let (m, sd) = (Float(mean), Float(std))
            Self.forEachBlock(n, perBlock: 4, generator) { w, s, len in
                let (a0, a1) = RandomGenerator.boxMuller(RandomGenerator.unitFloatOpenBelow(w.0), RandomGenerator.unitFloat(w.1))
                p[s] = m + sd * a0
                if len > 1 { p[s + 1] = m + sd * a1 }
                if len > 2 {
                    let (b0, b1) = RandomGenerator.boxMuller(RandomGenerator.unitFloatOpenBelow(w.2), RandomGenerator.unitFloat(w.3))
                    p[s + 2] = m + sd * b0
                    if len > 3 { p[s + 3] = m + sd * b1 }
                }
            }
        }
    }

    // MARK: Kernels

    private static func randomOutput(_ shape: [Int], dtype: DType, op: String, floatOnly: Bool = true) -> Tensor {
        require(shape.allSatisfy { $0 >= 0 }, "\(op): negative extent in shape \(shape)")
        require(!floatOnly || dtype.isFloatingPoint, "\(op): needs a floating-point dtype, not \(dtype)")
        return Tensor(uninitializedShape: shape, dtype: dtype)
    }

    /// Calls `body(words, start, length)` for consecutive runs of `perBlock` elements,
    /// each run fed by one Philox block, in parallel for large counts.
    @inline(__always)
    static func forEachBlock(
        _ n: Int, perBlock k: Int, _ generator: RandomGenerator,
        _ body: ((UInt32, UInt32, UInt32, UInt32), Int, Int) -> Void
    ) {
        let blocks = (n + k - 1) / k
        guard blocks > 0 else { return }
        let (seed, first) = generator.reserveBlocks(blocks)
        Threading.parallelFor(blocks, grain: Swift.max(1, Threading.elementwiseGrain / (2 * k))) { range in
            for b in range {
                let w = RandomGenerator.philox(seed: seed, counter: first &+ UInt64(b))
                let s = b * k
                body(w, s, Swift.min(k, n - s))
            }
        }
    }

    private static func fillBernoulli<T: RandomFillable>(
        _ t: Tensor, _ threshold: UInt64, _: T.Type, _ generator: RandomGenerator
    ) {
        let p = t.storage.pointer(as: T.self)
        forEachBlock(t.count, perBlock: 4, generator) { w, s, len in
            p[s] = T(randomBit: UInt64(w.0) < threshold)
            if len > 1 { p[s + 1] = T(randomBit: UInt64(w.1) < threshold) }
            if len > 2 { p[s + 2] = T(randomBit: UInt64(w.2) < threshold) }
            if len > 3 { p[s + 3] = T(randomBit: UInt64(w.3) < threshold) }
        }
    }

    /// `low + ⌊x·span / 2^bits⌋` with 64 random bits per value when the span fits in
    /// 32 bits (bias below 2⁻³²) and 128 bits otherwise (bias below 2⁻⁶⁴): a fixed
    /// number of bits per element keeps the fill parallel and reproducible.
    private static func fillRandint<T: RandomFillable>(
        _ t: Tensor, _ low: Int, _ high: Int, _: T.Type, _ generator: RandomGenerator
    ) {
        let p = t.storage.pointer(as: T.self)
        let span = UInt64(bitPattern: Int64(high) &- Int64(low))
        let base = Int64(low)
        if span <= 1 << 32 {
            forEachBlock(t.count, perBlock: 2, generator) { w, s, len in
                p[s] = T(randomInteger: base &+ Int64(bitPattern: RandomGenerator.join(w.0, w.1).multipliedFullWidth(by: span).high))
                if len > 1 {
                    p[s + 1] = T(randomInteger: base &+ Int64(bitPattern: RandomGenerator.join(w.2, w.3).multipliedFullWidth(by: span).high))
                }
            }
        } else {
            forEachBlock(t.count, perBlock: 1, generator) { w, s, _ in
                // High 64 bits of (hi·2⁶⁴ + lo)·span / 2⁶⁴, i.e. of the 192-bit product shifted by 128.
                let hi = RandomGenerator.join(w.0, w.1).multipliedFullWidth(by: span)
                let lo = RandomGenerator.join(w.2, w.3).multipliedFullWidth(by: span)
                let (_, carry) = hi.low.addingReportingOverflow(lo.high)
                p[s] = T(randomInteger: base &+ Int64(bitPattern: hi.high &+ (carry ? 1 : 0)))
            }
        }
    }
}

/// Element types that bernoulli and randint write directly (no per-element closure).
protocol RandomFillable: TensorScalar {
    init(randomBit: Bool)
    init(randomInteger: Int64)
}
extension Float: RandomFillable {
    @inline(__always) init(randomBit b: Bool) { self = b ? 1 : 0 }
    @inline(__always) init(randomInteger i: Int64) { self.init(i) }
}
extension Double: RandomFillable {
    @inline(__always) init(randomBit b: Bool) { self = b ? 1 : 0 }
    @inline(__always) init(randomInteger i: Int64) { self.init(i) }
}
extension Int32: RandomFillable {
    @inline(__always) init(randomBit b: Bool) { self = b ? 1 : 0 }
    @inline(__always) init(randomInteger i: Int64) { self.init(truncatingIfNeeded: i) }
}
extension Int64: RandomFillable {
    @inline(__always) init(randomBit b: Bool) { self = b ? 1 : 0 }
    @inline(__always) init(randomInteger i: Int64) { self = i }
}
extension Bool: RandomFillable {
    @inline(__always) init(randomBit b: Bool) { self = b }
    @inline(__always) init(randomInteger i: Int64) { self = i != 0 }
}
