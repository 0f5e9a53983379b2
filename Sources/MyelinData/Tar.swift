import Foundation
import MyelinCore

/// Reads and writes tar archives (POSIX ustar, with the GNU long-name and pax
/// extensions that `tar` writes), enough to unpack a data set's `.tar.gz`.
///
/// Extraction is safe against hostile archives: absolute paths and `..` components
/// are refused, links and device files are skipped (never followed or created).
public enum Tar {
    /// One regular file or folder of an archive.
    public struct Entry: Sendable, Equatable {
        /// The path inside the archive ("cifar-10-batches-bin/data_batch_1.bin").
        public var path: String
        public var contents: [UInt8]
        public var isDirectory: Bool

        public init(path: String, contents: [UInt8] = [], isDirectory: Bool = false) {
            self.path = path
            self.contents = contents
            self.isDirectory = isDirectory
        }
    }

    /// The files and folders of an (uncompressed) archive; `name` labels errors.
    public static func entries(_ bytes: [UInt8], name: String = "<tar>") throws -> [Entry] {
        var out: [Entry] = []
        var offset = 0
        var longName: String?
        var paxPath: String?
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }  // end-of-archive blocks
            let stored = header.reduce(0) { $0 + Int($1) } - header[(offset + 148)..<(offset + 156)].reduce(0) { $0 + Int($1) } + 8 * 32
            guard let checksum = octal(header, offset + 148, 8), checksum == stored else {
                throw DataError(.corrupt, file: name, "the tar header at byte \(offset) has a bad checksum: not a tar archive, or a damaged one")
            }
            guard let size = octal(header, offset + 124, 12) else {
                throw DataError(.corrupt, file: name, "the tar header at byte \(offset) has an unreadable size")
            }
            let dataStart = offset + 512
            guard dataStart + size <= bytes.count else {
                throw DataError(.truncated, file: name,
                                "an entry at byte \(offset) announces \(size) bytes but the archive ends after \(bytes.count - dataStart): the archive is truncated")
            }
            let data = Array(bytes[dataStart..<(dataStart + size)])
            let headerStart = offset, type = header[offset + 156]
            offset = dataStart + (size + 511) / 512 * 512
            switch type {
            case UInt8(ascii: "L"):  // GNU long name: the data is the next entry's path
                longName = cString(data[...])
                continue
            case UInt8(ascii: "x"):  // pax extended header: take its path
                paxPath = paxRecords(data)["path"]
                continue
            case UInt8(ascii: "g"):
                continue
            default: break
            }
            var path = cString(bytes[headerStart..<(headerStart + 100)])
            if bytes[(headerStart + 257)..<(headerStart + 262)].elementsEqual("ustar".utf8) {
                let prefix = cString(bytes[(headerStart + 345)..<(headerStart + 500)])
                if !prefix.isEmpty { path = prefix + "/" + path }
            }
            if let p = paxPath ?? longName { path = p }
            while path.count > 1 && path.hasSuffix("/") { path.removeLast() }  // folders are often stored as "name/"
            paxPath = nil
            longName = nil
            switch type {
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): out.append(Entry(path: path, contents: data))
            case UInt8(ascii: "5"): out.append(Entry(path: path, isDirectory: true))
            default: continue  // links, devices, FIFOs: skipped
            }
        }
        return out
    }

    /// Writes `entries` into `folder` (created as needed); returns the files written.
    /// Throws, writing nothing, when a path is absolute or climbs out with `..`.
    @discardableResult
    public static func extract(_ entries: [Entry], to folder: URL, name: String = "<tar>") throws -> [URL] {
        let fm = FileManager.default
        var written: [URL] = []
        for e in entries {
            let parts = e.path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
            guard !e.path.hasPrefix("/"), !parts.contains(".."), !parts.isEmpty else {
                throw DataError(.corrupt, file: name, "holds the unsafe path \"\(e.path)\" (absolute or with ..); nothing was extracted")
            }
        }
        do {
            for e in entries {
                let parts = e.path.split(separator: "/").filter { !$0.isEmpty && $0 != "." }
                let url = parts.reduce(folder) { $0.appendingPathComponent(String($1)) }
                if e.isDirectory {
                    try fm.createDirectory(at: url, withIntermediateDirectories: true)
                } else {
                    try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(e.contents).write(to: url)
                    written.append(url)
                }
            }
        } catch {
            throw DataError(.notFound, file: folder.path, "cannot extract \(name) here (\(error.localizedDescription))")
        }
        return written
    }

    /// Unpacks a `.tar.gz` (or plain `.tar`) file into `folder`; returns the files written.
    @discardableResult
    public static func extract(fileAt url: URL, to folder: URL) throws -> [URL] {
        let bytes = try Gzip.contentsOfFile(at: url)
        return try extract(entries(bytes, name: url.path), to: folder, name: url.path)
    }

    /// A ustar archive of `entries` (uncompressed; wrap in `Gzip.compress` for .tar.gz).
    /// Paths up to 255 bytes (split into prefix and name at a "/").
    public static func archive(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        for e in entries {
            var header = [UInt8](repeating: 0, count: 512)
            var path = Array(e.path.utf8), prefix: [UInt8] = []
            if path.count > 100, let cut = path[..<Swift.min(path.count, 156)].lastIndex(of: UInt8(ascii: "/")) {
                prefix = Array(path[..<cut])
                path = Array(path[(cut + 1)...])
            }
            require(path.count <= 100 && prefix.count <= 155, "Tar.archive: the path \"\(e.path)\" is too long for ustar")
            func put(_ bytes: [UInt8], _ at: Int) { for (i, b) in bytes.enumerated() { header[at + i] = b } }
            func putOctal(_ v: Int, _ at: Int, _ width: Int) {
                put(Array(String(v, radix: 8).leftPadded(to: width - 1).utf8), at)
            }
            put(path, 0)
            putOctal(e.isDirectory ? 0o755 : 0o644, 100, 8)
            putOctal(0, 108, 8)
            putOctal(0, 116, 8)
            putOctal(e.isDirectory ? 0 : e.contents.count, 124, 12)
            putOctal(0, 136, 12)
            header[156] = e.isDirectory ? UInt8(ascii: "5") : UInt8(ascii: "0")
            put(Array("ustar".utf8) + [0], 257)
            put(Array("00".utf8), 263)
            put(prefix, 345)
            for i in 148..<156 { header[i] = UInt8(ascii: " ") }
            let sum = header.reduce(0) { $0 + Int($1) }
            put(Array(String(sum, radix: 8).leftPadded(to: 6).utf8) + [0, UInt8(ascii: " ")], 148)
            out += header
            if !e.isDirectory {
                out += e.contents
                out += [UInt8](repeating: 0, count: (512 - e.contents.count % 512) % 512)
            }
        }
        return out + [UInt8](repeating: 0, count: 1024)
    }

    /// A NUL/space-terminated octal field; nil when it is not one.
    static func octal(_ bytes: ArraySlice<UInt8>, _ at: Int, _ width: Int) -> Int? {
        let field = bytes[at..<(at + width)]
        guard field.first.map({ $0 & 0x80 == 0 }) ?? false else { return nil }  // base-256 sizes (> 8 GiB): unsupported
        let text = String(decoding: field.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? 0 : Int(text, radix: 8)
    }

    static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// pax records "LEN key=value\n".
    static func paxRecords(_ data: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let space = line.firstIndex(of: " "), let eq = line[space...].firstIndex(of: "=") else { continue }
            out[String(line[line.index(after: space)..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
