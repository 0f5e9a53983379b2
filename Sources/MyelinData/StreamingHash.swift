import Foundation

/// A hash fed in pieces (SHA-256 for MNIST's files, MD5 for CIFAR's): what both share is
/// hashing a whole collection at once and hashing a file (gzip'd or not) read in pieces.
public protocol StreamingHash {
    associatedtype Digest
    init()
    mutating func update(_ data: some Collection<UInt8>)
    mutating func finalize() -> Digest
}

extension StreamingHash {
    /// Feeds `data` (contiguous bytes copied once into an array for the block loop).
    public mutating func update(_ data: Data) { update([UInt8](data)) }

    /// The digest of `data`.
    public static func hash(_ data: some Collection<UInt8>) -> Digest {
        var h = Self()
        h.update(data)
        return h.finalize()
    }

    /// The digest of a file's bytes as stored, read in 1 MiB pieces.
    public static func hash(fileAt url: URL) throws -> Digest {
        let handle = try Gzip.openForReading(url)
        defer { try? handle.close() }
        var h = Self()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { h.update(chunk) }
        return h.finalize()
    }
}
