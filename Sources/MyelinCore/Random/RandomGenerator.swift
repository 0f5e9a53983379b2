import Synchronization

/// A seeded source of random numbers: Philox4x32-10 (Salmon et al., "Parallel
/// random numbers: as easy as 1, 2, 3", SC 2011), the counter-based generator
/// PyTorch and JAX use on GPUs.
///
/// Counter-based means block `i` of the stream is `philox(key: seed, counter: i)`,
/// computed without touching blocks `0..<i`. A tensor fill therefore reserves a
/// range of blocks under the lock and computes them in parallel outside it, and
/// the values do not depend on the number of threads.
///
/// Values differ from PyTorch's CPU generator (Mersenne Twister): the same seed
/// gives the same numbers in Myelin, not the same numbers as torch.
public final class RandomGenerator: Sendable {
    /// Everything needed to resume the stream (PyTorch's `get_state`/`set_state`).
    public struct State: Sendable, Hashable, Codable {
        /// The seed: Philox's 64-bit key.
        public var seed: UInt64
        /// The next unused 128-bit block of the stream.
        public var offset: UInt64
        /// Words of the current block not yet handed out by the scalar draws (0...4).
        public var buffered: [UInt32]

        public init(seed: UInt64, offset: UInt64 = 0, buffered: [UInt32] = []) {
            self.seed = seed
            self.offset = offset
            self.buffered = buffered
        }
    }

    /// PyTorch's default CPU seed, so an unseeded program is still reproducible.
    public static let defaultSeed: UInt64 = 67_280_421_310_721

    /// The generator that creation functions use when none is given.
    public static let `default` = RandomGenerator(seed: defaultSeed)

    private struct Inner {
        var seed: UInt64
        var offset: UInt64
        // Leftover words of the last block drawn by scalar calls; consumed from the back.
        var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        var bufferCount = 0
        // Box-Muller makes pairs; the second value waits here for the next scalar call.
        var spareNormal: Double?
    }

    private let inner: Mutex<Inner>

    public init(seed: UInt64) {
        inner = Mutex(Inner(seed: seed, offset: 0))
    }

    /// The seed the stream started from (or was last reset to).
    public var seed: UInt64 { inner.withLock { $0.seed } }

    /// Restarts the stream from `seed`, as `torch.manual_seed`.
    public func manualSeed(_ seed: UInt64) {
        inner.withLock { $0 = Inner(seed: seed, offset: 0) }
    }

    /// The position in the stream, to save with a checkpoint and restore later.
    public var state: State {
        get {
            inner.withLock { s in
                let b = [s.buffer.0, s.buffer.1, s.buffer.2, s.buffer.3]
                return State(seed: s.seed, offset: s.offset, buffered: Array(b[(4 - s.bufferCount)...]))
            }
        }
        set {
            require(newValue.buffered.count <= 4,
                    "RandomGenerator.state: at most 4 buffered words, got \(newValue.buffered.count)")
            inner.withLock { s in
                s = Inner(seed: newValue.seed, offset: newValue.offset)
                var b: [UInt32] = [0, 0, 0, 0]
                for (i, w) in newValue.buffered.enumerated() { b[4 - newValue.buffered.count + i] = w }
                s.buffer = (b[0], b[1], b[2], b[3])
                s.bufferCount = newValue.buffered.count
            }
        }
    }

    // MARK: Independent streams

    /// A new generator whose stream is independent of this one (a different Philox
    /// key), derived deterministically: forking twice gives two different children,
    /// and the same parent state always gives the same child. For data-loader
    /// workers, per-layer initialisers, and so on.
    public func fork() -> RandomGenerator {
        RandomGenerator(seed: Self.mix(nextUInt64()))
    }

    /// `count` independent generators, one per worker.
    public func fork(_ count: Int) -> [RandomGenerator] {
        require(count >= 0, "RandomGenerator.fork: count must be non-negative, got \(count)")
        return (0..<count).map { _ in fork() }
    }

    /// SplitMix64's finaliser: nearby inputs give unrelated keys.
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: Blocks

    /// Reserves `count` consecutive blocks; returns the key and the first block's
    /// counter. Scalar leftovers are dropped so that a fill always starts on a block.
    func reserveBlocks(_ count: Int) -> (seed: UInt64, first: UInt64) {
        inner.withLock { s in
            let first = s.offset
            s.offset &+= UInt64(count)
            s.bufferCount = 0
            return (s.seed, first)
        }
    }

    /// One Philox4x32-10 block: four independent 32-bit words.
    @inline(__always)
    public static func philox(seed: UInt64, counter: UInt64, stream: UInt64 = 0) -> (UInt32, UInt32, UInt32, UInt32) {
        var c0 = UInt32(truncatingIfNeeded: counter), c1 = UInt32(truncatingIfNeeded: counter >> 32)
        var c2 = UInt32(truncatingIfNeeded: stream), c3 = UInt32(truncatingIfNeeded: stream >> 32)
        var k0 = UInt32(truncatingIfNeeded: seed), k1 = UInt32(truncatingIfNeeded: seed >> 32)
        for round in 0..<10 {
            if round > 0 { k0 &+= 0x9E37_79B9; k1 &+= 0xBB67_AE85 }
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
        }
        return (c0, c1, c2, c3)
    }

    // MARK: Scalar draws

    /// A uniformly random 32-bit word.
    public func nextUInt32() -> UInt32 {
        inner.withLock { s in
            if s.bufferCount == 0 {
                s.buffer = Self.philox(seed: s.seed, counter: s.offset)
                s.offset &+= 1
                s.bufferCount = 4
            }
            s.bufferCount -= 1
            switch s.bufferCount {
            case 3: return s.buffer.0
            case 2: return s.buffer.1
            case 1: return s.buffer.2
            default: return s.buffer.3
            }
        }
    }

    /// A uniformly random 64-bit word.
    public func nextUInt64() -> UInt64 {
        let hi = UInt64(nextUInt32()), lo = UInt64(nextUInt32())
        return hi << 32 | lo
    }

    /// Uniform in [0, 1) with all 24 bits of a Float's significand random.
    public func nextFloat() -> Float { Self.unitFloat(nextUInt32()) }

    /// Uniform in [0, 1) with all 53 bits of a Double's significand random.
    public func nextDouble() -> Double { Self.unitDouble(nextUInt64()) }

    /// Uniform in [low, high).
    public func nextDouble(in range: Range<Double>) -> Double {
        Self.scale(nextDouble(), range.lowerBound, range.upperBound)
    }

    /// A standard normal sample (mean 0, standard deviation 1), by Box-Muller;
    /// the second value of each pair is kept for the next call.
    public func nextNormal() -> Double {
        if let z = inner.withLock({ s -> Double? in defer { s.spareNormal = nil }; return s.spareNormal }) {
            return z
        }
        let (z0, z1) = Self.boxMuller(Self.unitDoubleOpenBelow(nextUInt64()), Self.unitDouble(nextUInt64()))
        inner.withLock { $0.spareNormal = z1 }
        return z0
    }

    /// A normal sample with the given mean and standard deviation.
    public func nextNormal(mean: Double, std: Double) -> Double { mean + std * nextNormal() }

    /// True with probability `p`.
    public func nextBernoulli(_ p: Double) -> Bool {
        require(p >= 0 && p <= 1, "bernoulli: p must be in [0, 1], got \(p)")
        return nextDouble() < p
    }

    /// A uniform integer in `low..<high`, exactly unbiased (Lemire's multiply-and-reject).
    public func nextInt(_ low: Int, _ high: Int) -> Int {
        require(low < high, "randint: low (\(low)) must be less than high (\(high))")
        let span = UInt64(bitPattern: Int64(high) &- Int64(low))
        var m = nextUInt64().multipliedFullWidth(by: span)
        if m.low < span {
            let threshold = (0 &- span) % span
            while m.low < threshold { m = nextUInt64().multipliedFullWidth(by: span) }
        }
        return low &+ Int(bitPattern: UInt(m.high))
    }

    /// A uniform integer in `range`.
    public func nextInt(in range: Range<Int>) -> Int { nextInt(range.lowerBound, range.upperBound) }

    /// A uniformly random permutation of `0..<n` (Fisher-Yates).
    public func permutation(_ n: Int) -> [Int] {
        require(n >= 0, "permutation: n must be non-negative, got \(n)")
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }

    /// Shuffles `array` in place, uniformly (Fisher-Yates).
    public func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = nextInt(0, i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }

    // MARK: Bits to numbers (shared with the tensor fills)

    @inline(__always) static func unitFloat(_ x: UInt32) -> Float { Float(x >> 8) * 0x1p-24 }
    /// In (0, 1]: safe for log.
    @inline(__always) static func unitFloatOpenBelow(_ x: UInt32) -> Float { Float((x >> 8) + 1) * 0x1p-24 }
    @inline(__always) static func unitDouble(_ x: UInt64) -> Double { Double(x >> 11) * 0x1p-53 }
    @inline(__always) static func unitDoubleOpenBelow(_ x: UInt64) -> Double { Double((x >> 11) + 1) * 0x1p-53 }
    @inline(__always) static func join(_ hi: UInt32, _ lo: UInt32) -> UInt64 { UInt64(hi) << 32 | UInt64(lo) }

    /// `low + (high - low) * u`, kept below `high` where rounding would reach it.
    @inline(__always) static func scale<T: BinaryFloatingPoint>(_ u: T, _ low: T, _ high: T) -> T {
        let v = low + (high - low) * u
        return v < high || high <= low ? v : high.nextDown
    }

    /// Two independent standard normals from u1 in (0, 1] and u2 in [0, 1).
    @inline(__always) static func boxMuller<T: FloatElement>(_ u1: T, _ u2: T) -> (T, T) {
        let r = T.sqrt(-2 * T.log(u1))
        let theta = 2 * T.pi * u2
        return (r * T.cos(theta), r * T.sin(theta))
    }
}

/// Reseeds `RandomGenerator.default`, as `torch.manual_seed`.
public func manualSeed(_ seed: UInt64) {
    RandomGenerator.default.manualSeed(seed)
}
