import MyelinCore
import CZlib
import Foundation

/// The zlib version linked at run time (for diagnostics).
public var zlibVersion: String { String(cString: CZlib.zlibVersion()) }

/// gzip and zlib streams, inflated by the system's zlib.
public enum Gzip {
    /// True when `bytes` start with the gzip magic 1f 8b.
    public static func isGzip(_ bytes: some Collection<UInt8>) -> Bool {
        var it = bytes.makeIterator()
        return it.next() == 0x1F && it.next() == 0x8B
    }

    /// True when the file at `url` starts with the gzip magic.
    public static func isGzip(fileAt url: URL) throws -> Bool {
        let handle = try openForReading(url)
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 2)) ?? Data()
        return isGzip(head)
    }

    /// The contents of a file, inflated when it is gzip (or zlib) compressed and
    /// returned as they are otherwise. The compressed file is read in chunks, so
    /// only the output is held in memory whole.
    public static func contentsOfFile(at url: URL, maxOutputBytes: Int = 1 << 34) throws -> [UInt8] {
        let handle = try openForReading(url)
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 2)) ?? Data()
        guard isGzip(head) else {
            try handle.seek(toOffset: 0)
            return [UInt8](try handle.readToEnd() ?? Data())
        }
        try handle.seek(toOffset: 0)
        var chunks = HandleChunks(handle: handle)
        return try inflate(name: url.path, maxOutputBytes: maxOutputBytes) { try chunks.next() }
    }

    /// Inflates gzip or zlib data held in memory (the header is detected).
    public static func decompress(_ data: [UInt8], name: String = "<memory>", maxOutputBytes: Int = 1 << 34) throws -> [UInt8] {
        var done = false
        return try inflate(name: name, maxOutputBytes: maxOutputBytes) {
            if done { return nil }
            done = true
            return data
        }
    }

    /// gzip-compresses `data` (for tests, and for files Myelin writes).
    public static func compress(_ data: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip wrapper rather than zlib's.
        let status = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   CZlib.zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { fatalError("zlib deflateInit2 failed with status \(status)") }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(data.count))) + 32)
        var input = data
        let produced: Int = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                let r = deflate(&stream, Z_FINISH)
                require(r == Z_STREAM_END, "zlib deflate did not finish (status \(r))")
                return outBuf.count - Int(stream.avail_out)
            }
        }
        return Array(output.prefix(produced))
    }

    // MARK: Streaming inflate

    /// Inflates the stream whose compressed bytes `nextChunk` hands out in order
    /// (nil at the end). Concatenated gzip members are inflated one after another,
    /// as gunzip does.
    static func inflate(name: String, maxOutputBytes: Int, nextChunk: () throws -> [UInt8]?) throws -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 32: detect a gzip or zlib header automatically.
        let status = inflateInit2_(&stream, 15 + 32, CZlib.zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw DataError(.corrupt, file: name, "zlib could not start inflating (status \(status))")
        }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        var out = [UInt8](repeating: 0, count: 1 << 18)
        var finishedMember = false
        var sawInput = false
        while var chunk = try nextChunk() {
            if chunk.isEmpty { continue }
            sawInput = true
            try chunk.withUnsafeMutableBufferPointer { inBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = uInt(inBuf.count)
                while stream.avail_in > 0 {
                    if finishedMember {
                        // Another gzip member follows (as gunzip reads them); zero padding after the last is tolerated.
                        let rest = UnsafeBufferPointer(start: stream.next_in, count: Int(stream.avail_in))
                        if rest.allSatisfy({ $0 == 0 }) { stream.avail_in = 0; break }
                        inflateReset(&stream)
                        finishedMember = false
                    }
                    // Inflate until this input is used up and zlib has nothing more to write.
                    var result: Int32 = Z_OK
                    repeat {
                        let produced = out.withUnsafeMutableBufferPointer { outBuf -> Int in
                            stream.next_out = outBuf.baseAddress
                            stream.avail_out = uInt(outBuf.count)
                            result = CZlib.inflate(&stream, Z_NO_FLUSH)
                            return outBuf.count - Int(stream.avail_out)
                        }
                        output.append(contentsOf: out[0..<produced])
                        guard output.count <= maxOutputBytes else {
                            throw DataError(.corrupt, file: name, "inflates to more than \(maxOutputBytes) bytes; refusing to continue")
                        }
                        switch result {
                        case Z_OK, Z_BUF_ERROR: break  // Z_BUF_ERROR: no progress possible until more input comes
                        case Z_STREAM_END: finishedMember = true
                        case Z_NEED_DICT, Z_DATA_ERROR:
                            let why = stream.msg.map { String(cString: $0) } ?? "invalid compressed data"
                            throw DataError(.corrupt, file: name, "the gzip data is corrupt (\(why))")
                        case Z_MEM_ERROR:
                            throw DataError(.corrupt, file: name, "zlib ran out of memory while inflating")
                        default:
                            throw DataError(.corrupt, file: name, "zlib inflate failed with status \(result)")
                        }
                    } while result == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
                    if result == Z_BUF_ERROR { break }
                }
            }
        }
        guard sawInput else { throw DataError(.truncated, file: name, "the file is empty") }
        guard finishedMember else {
            throw DataError(.truncated, file: name,
                            "the gzip stream ends early (after \(output.count) inflated bytes): the file is truncated; download it again")
        }
        return output
    }

    static func openForReading(_ url: URL) throws -> FileHandle {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError(.notFound, file: url.path, "no such file")
        }
        do {
            return try FileHandle(forReadingFrom: url)
        } catch {
            throw DataError(.notFound, file: url.path, "cannot be opened for reading (\(error.localizedDescription))")
        }
    }

    /// Reads a file handle in 1 MiB pieces.
    private struct HandleChunks {
        let handle: FileHandle
        mutating func next() throws -> [UInt8]? {
            guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { return nil }
            return [UInt8](data)
        }
    }
}
