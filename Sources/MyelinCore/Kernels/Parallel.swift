import Dispatch
import Foundation

/// How many threads kernels may use. Defaults to the machine's active cores,
/// or `MYELIN_NUM_THREADS` when set.
public enum Threading {
    nonisolated(unsafe) private static var _count: Int = {
        if let s = ProcessInfo.processInfo.environment["MYELIN_NUM_THREADS"], let n = Int(s), n > 0 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }()

    public static var threadCount: Int {
        get { _count }
        set { require(newValue > 0, "Threading.threadCount must be positive, not \(newValue)"); _count = newValue }
    }

    /// Below this many elements an element-wise kernel runs on one thread:
    /// waking another core costs more than it saves.
    public static let elementwiseGrain = 1 << 15

    /// Splits `0..<count` into at most `threadCount` contiguous chunks of at least
    /// `grain` items and runs `body(range)` for each, in parallel when worth it.
    @inlinable
    public static func parallelFor(_ count: Int, grain: Int = elementwiseGrain, _ body: (Range<Int>) -> Void) {
        let chunks = min(threadCount, max(1, count / max(grain, 1)))
        if chunks <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks, hi = count * (c + 1) / chunks
                box.value(lo..<hi)
            }
        }
    }
}

/// Carries a non-Sendable value (a raw pointer, a non-escaping body) into
/// `concurrentPerform`, whose chunks touch disjoint memory.
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    @inlinable public init(_ value: T) { self.value = value }
}
