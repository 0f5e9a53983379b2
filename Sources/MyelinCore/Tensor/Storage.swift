import Foundation
import Synchronization

/// Reference-counted, 64-byte-aligned bytes behind one or more tensors.
///
/// Tensors are values: they share a storage until one of them is written,
/// then copy (copy-on-write, checked with `isKnownUniquelyReferenced`).
/// Buffers come from and return to `BufferPool`, so a steady training loop
/// does not call malloc for every intermediate.
public final class TensorStorage: @unchecked Sendable {
    public let bytes: UnsafeMutableRawPointer
    public let byteCount: Int
    public let dtype: DType

    /// Uninitialised storage for `count` elements of `dtype`.
    public init(count: Int, dtype: DType) {
        self.dtype = dtype
        self.byteCount = count * dtype.byteSize
        self.bytes = BufferPool.shared.acquire(byteCount: byteCount)
    }

    /// Zero-filled storage.
    public convenience init(zeros count: Int, dtype: DType) {
        self.init(count: count, dtype: dtype)
        memset(bytes, 0, byteCount)
    }

    deinit { BufferPool.shared.release(bytes, byteCount: byteCount) }

    public var count: Int { byteCount / dtype.byteSize }

    @inlinable public func pointer<T: TensorScalar>(as type: T.Type) -> UnsafeMutablePointer<T> {
        bytes.assumingMemoryBound(to: T.self)
    }

    /// A copy of these bytes in fresh storage.
    public func copy() -> TensorStorage {
        let s = TensorStorage(count: count, dtype: dtype)
        memcpy(s.bytes, bytes, byteCount)
        return s
    }
}

/// A caching allocator: freed buffers are kept by exact byte size and handed
/// out again. Training loops allocate the same sizes every step, so after the
/// first step nearly every request is a cache hit (no malloc, no page faults).
/// The cache is bounded; beyond `limitBytes` freed buffers go back to the OS.
public final class BufferPool: Sendable {
    public static let shared = BufferPool()

    /// A raw buffer address; it is owned by exactly one party at a time.
    private struct Buffer: @unchecked Sendable { let address: UnsafeMutableRawPointer }
    private struct State {
        /// Free buffers of up to `smallClasses` × 64 bytes, by size / 64: an array index
        /// instead of hashing the size, for the many tiny tensors of small networks.
        var small: [[Buffer]] = Array(repeating: [], count: BufferPool.smallClasses + 1)
        var free: [Int: [Buffer]] = [:]
        var cachedBytes = 0
        var hits = 0
        var misses = 0
    }
    private let state = Mutex(State())
    public let limitBytes: Int

    public init(limitBytes: Int = 2 << 30) { self.limitBytes = limitBytes }

    @inline(__always) private static func roundedSize(_ n: Int) -> Int { max(64, (n + 63) & ~63) }
    /// Sizes up to 64 KiB are kept in `State.small`.
    static let smallClasses = 1024

    func acquire(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = Self.roundedSize(byteCount)
        let cached: Buffer? = state.withLock { s in
            let index = size >> 6
            if index <= Self.smallClasses {
                if let p = s.small[index].popLast() {
                    s.cachedBytes -= size
                    s.hits += 1
                    return p
                }
            } else if let p = s.free[size]?.popLast() {
                s.cachedBytes -= size
                s.hits += 1
                return p
            }
            s.misses += 1
            return nil
        }
        if let cached { return cached.address }
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, 64, size) == 0, let p else {
            fatalError("Myelin: out of memory allocating \(size) bytes")
        }
        return p
    }

    func release(_ p: UnsafeMutableRawPointer, byteCount: Int) {
        let size = Self.roundedSize(byteCount)
        let buffer = Buffer(address: p)
        let kept = state.withLock { s -> Bool in
            guard s.cachedBytes + size <= limitBytes else { return false }
            let index = size >> 6
            if index <= Self.smallClasses {
                s.small[index].append(buffer)
            } else {
                s.free[size, default: []].append(buffer)
            }
            s.cachedBytes += size
            return true
        }
        if !kept { free(p) }
    }

    /// Returns every cached buffer to the OS.
    public func emptyCache() {
        let all = state.withLock { s -> [Buffer] in
            let ps = s.free.values.flatMap { $0 } + s.small.flatMap { $0 }
            s.free = [:]
            s.small = Array(repeating: [], count: BufferPool.smallClasses + 1)
            s.cachedBytes = 0
            return ps
        }
        all.forEach { free($0.address) }
    }

    /// (cache hits, misses, bytes currently cached) — for tests and the benchmark.
    public var statistics: (hits: Int, misses: Int, cachedBytes: Int) {
        state.withLock { ($0.hits, $0.misses, $0.cachedBytes) }
    }
}
