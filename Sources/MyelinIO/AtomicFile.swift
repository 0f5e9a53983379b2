import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// `write` inside Writer would name the method, so the system call gets its own name.
@inline(__always) private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, p, n)
    #elseif canImport(Musl)
    Musl.write(fd, p, n)
    #else
    Darwin.write(fd, p, n)
    #endif
}

/// Writes a file so that a reader (or the next run after a crash) sees either the old
/// contents or the new ones, never a mix: the bytes go to a temporary file in the same
/// directory, which is fsynced, renamed over the target, and then the directory is
/// fsynced so the rename itself survives a power cut.
///
/// A process killed mid-write leaves at most a stray `.<name>.<pid>.<n>.tmp` file
/// beside the target; the target itself is untouched.
public enum AtomicFile {
    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case cannotCreate(path: String, reason: String)
        case writeFailed(path: String, reason: String)
        case renameFailed(from: String, to: String, reason: String)

        public var description: String {
            switch self {
            case let .cannotCreate(path, reason): "cannot create \(path): \(reason)"
            case let .writeFailed(path, reason): "writing \(path) failed: \(reason)"
            case let .renameFailed(from, to, reason): "cannot rename \(from) to \(to): \(reason)"
            }
        }
    }

    /// The sink handed to the body of `write(to:_:)`: bytes go straight to the
    /// temporary file (no copy of the whole file in memory).
    public final class Writer {
        let fd: Int32
        /// The temporary file being written (renamed over the target at the end).
        public let temporaryPath: String
        public private(set) var bytesWritten = 0

        init(fd: Int32, temporaryPath: String) {
            self.fd = fd
            self.temporaryPath = temporaryPath
        }

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard var p = bytes.baseAddress else { return }
            var left = bytes.count
            while left > 0 {
                let n = posixWrite(fd, p, min(left, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Error.writeFailed(path: temporaryPath, reason: String(cString: strerror(errno)))
                }
                p += n
                left -= n
                bytesWritten += n
            }
        }

        public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }
        public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
        public func write(_ text: String) throws { try write(Array(text.utf8)) }
    }

    /// Writes the file at `url` atomically; `body` writes its bytes. If `body` throws,
    /// the temporary file is removed and the target is left as it was.
    public static func write(to url: URL, _ body: (Writer) throws -> Void) throws {
        let target = url.standardizedFileURL.path
        let directory = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        let temporary = (directory as NSString).appendingPathComponent(
            ".\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Error.cannotCreate(path: temporary, reason: String(cString: strerror(errno))) }
        var closed = false
        do {
            try body(Writer(fd: fd, temporaryPath: temporary))
            // The data must be on disk before the rename makes it visible under the real name.
            guard fsync(fd) == 0 else { throw Error.writeFailed(path: temporary, reason: "fsync: " + String(cString: strerror(errno))) }
            closed = true
            guard close(fd) == 0 else { throw Error.writeFailed(path: temporary, reason: "close: " + String(cString: strerror(errno))) }
            guard rename(temporary, target) == 0 else {
                throw Error.renameFailed(from: temporary, to: target, reason: String(cString: strerror(errno)))
            }
        } catch {
            if !closed { close(fd) }
            unlink(temporary)
            throw error
        }
        // Persist the directory entry. Some file systems refuse fsync on a directory;
        // the file is already complete and in place then, so that is not an error.
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(data) }
    }

    /// Temporary files that interrupted writes of `url` left behind (for cleanup tools and tests).
    public static func leftoverTemporaries(of url: URL) -> [URL] {
        let dir = url.standardizedFileURL.deletingLastPathComponent()
        let prefix = "." + url.lastPathComponent + "."
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".tmp") }.sorted().map { dir.appendingPathComponent($0) }
    }
}
