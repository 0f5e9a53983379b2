import CJPEG
import CPNG
import Foundation
import MyelinCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Writing PNG and JPEG files

extension ImageFile {
    /// The format a file name's extension names: `.png` → PNG; `.jpg`, `.jpeg`, `.jpe` → JPEG
    /// (any case); nil for anything else.
    public static func format(forExtension ext: String) -> Format? {
        switch ext.lowercased() {
        case "png": .png
        case "jpg", "jpeg", "jpe": .jpeg
        default: nil
        }
    }

    /// Encodes an image as PNG or JPEG bytes.
    ///
    /// - `image`: float `[C, H, W]` (or `[H, W]`, or `[1, C, H, W]`; `[H, W, C]` with
    ///   `layout: .channelsLast`), values in [0, 1]: each is clamped to [0, 1], scaled to
    ///   255 (or 65535) and rounded to the nearest integer, as `torchvision.utils.save_image`
    ///   does; NaN becomes 0. Channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA (PNG); 1 or 3 (JPEG).
    /// - `quality`: JPEG quality 1...100 (75 is PIL's and torchvision's default); ignored for PNG.
    /// - `bitDepth`: 8 or 16 (16 only for PNG).
    ///
    /// Throws `DataError(.invalidArgument)` for a shape, depth or quality the format cannot hold.
    public static func encode(_ image: Tensor, format: Format, layout: ImageLayout = .channelsFirst,
                              quality: Int = 75, bitDepth: Int = 8, name: String = "<image>") throws -> Data {
        let chw = try writableImage(image, layout: layout, name: name)
        let (c, h, w) = (chw.shape[0], chw.shape[1], chw.shape[2])
        var message = [CChar](repeating: 0, count: 256)
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        let rc: Int32
        switch format {
        case .png:
            guard bitDepth == 8 || bitDepth == 16 else {
                throw DataError(.invalidArgument, file: name, "a PNG holds 8- or 16-bit samples, not \(bitDepth)-bit")
            }
            if bitDepth == 8 {
                let bytes = toBytes(chw)
                rc = myelin_png_encode(bytes, UInt32(w), UInt32(h), Int32(c), 8, 6, &out, &size, &message)
            } else {
                let samples = toUInt16(chw)
                rc = samples.withUnsafeBytes { raw in
                    myelin_png_encode(raw.bindMemory(to: UInt8.self).baseAddress, UInt32(w), UInt32(h), Int32(c), 16, 6, &out, &size, &message)
                }
            }
        case .jpeg:
            guard bitDepth == 8 else {
                throw DataError(.invalidArgument, file: name, "a JPEG holds 8-bit samples only, not \(bitDepth)-bit (write a PNG for 16 bits)")
            }
            guard (1...100).contains(quality) else {
                throw DataError(.invalidArgument, file: name, "JPEG quality must be 1...100, got \(quality)")
            }
            guard c == 1 || c == 3 else {
                throw DataError(.invalidArgument, file: name,
                                "a JPEG holds gray or RGB, not \(c) channels\(c == 2 || c == 4 ? " (it has no alpha: drop it with ImageFile.converted(image, channels: \(c - 1)), or write a PNG)" : "")")
            }
            guard h <= 65500 && w <= 65500 else {
                throw DataError(.invalidArgument, file: name, "a JPEG is at most 65500×65500 pixels, got \(h)×\(w)")
            }
            let bytes = toBytes(chw)
            rc = myelin_jpeg_encode(bytes, UInt32(w), UInt32(h), Int32(c), Int32(quality), &out, &size, &message)
        }
        guard rc == 0, let out else {
            throw DataError(.invalidArgument, file: name, "cannot be encoded as \(format == .png ? "PNG" : "JPEG"): \(messageText(message))")
        }
        defer { free(out) }
        return Data(bytes: out, count: size)
    }

    /// Writes an image to a PNG or JPEG file; the format comes from the extension unless
    /// `format` is given. See `encode(_:format:layout:quality:bitDepth:name:)` for the values,
    /// shapes and options.
    ///
    /// The write is atomic: the bytes go to a temporary file beside the target, which is then
    /// renamed over it, so a failed write (a bad shape, a full disk, a crash) never leaves a
    /// half-written file or destroys an existing one. Throws `DataError`: `.invalidArgument`
    /// for an unknown extension or a shape the format cannot hold, `.writeFailed` for a
    /// folder that does not exist or cannot be written.
    public static func write(_ image: Tensor, to url: URL, format: Format? = nil, layout: ImageLayout = .channelsFirst,
                             quality: Int = 75, bitDepth: Int = 8) throws {
        let ext = url.pathExtension
        guard let chosen = format ?? Self.format(forExtension: ext) else {
            throw DataError(.invalidArgument, file: url.path,
                            ext.isEmpty ? "has no extension: name it .png or .jpg (or pass format:)"
                                        : "has the extension .\(ext), which is neither PNG (.png) nor JPEG (.jpg, .jpeg)")
        }
        let data = try encode(image, format: chosen, layout: layout, quality: quality, bitDepth: bitDepth, name: url.path)
        try writeAtomically(data, to: url)
    }

    /// `[C, H, W]` float32 from what `write` accepts, or a `DataError` naming the problem.
    static func writableImage(_ image: Tensor, layout: ImageLayout, name: String) throws -> Tensor {
        guard image.dtype.isFloatingPoint else {
            throw DataError(.invalidArgument, file: name, "an image to write must be float with values in [0, 1], got \(image.dtype)")
        }
        var x = image
        if x.rank == 4 && x.shape[0] == 1 { x = x.squeezed(axes: [0]) }
        if x.rank == 2 { x = x.unsqueezed(axis: layout == .channelsFirst ? 0 : 2) }
        guard x.rank == 3 else {
            throw DataError(.invalidArgument, file: name,
                            "an image to write must be \(layout == .channelsFirst ? "[C, H, W]" : "[H, W, C]") or [H, W], got shape \(image.shape)\(image.rank == 4 ? " (a batch: write one image, x[i])" : "")")
        }
        if layout == .channelsLast { x = toCHW(x) }
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        guard (1...4).contains(c) else {
            throw DataError(.invalidArgument, file: name,
                            "an image has 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels, got \(c) in shape \(image.shape)\(layout == .channelsFirst && (1...4).contains(image.shape.last ?? 0) ? " (channels last? pass layout: .channelsLast)" : "")")
        }
        guard h > 0 && w > 0 else {
            throw DataError(.invalidArgument, file: name, "an image to write must not be empty, got shape \(image.shape)")
        }
        return x
    }

    /// Writes `data` to a temporary file in the target's folder, flushes it to disk, then renames
    /// it over the target (MyelinIO's AtomicFile does the same for checkpoints; MyelinData sits
    /// below MyelinIO, hence this small copy).
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let target = url.standardizedFileURL.path
        let folder = (target as NSString).deletingLastPathComponent
        let temporary = (folder as NSString).appendingPathComponent(
            ".\((target as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        func failure(_ what: String) -> DataError {
            let reason = String(cString: strerror(errno))
            var isFolder: ObjCBool = false
            if !FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isFolder) || !isFolder.boolValue {
                return DataError(.writeFailed, file: target, "cannot be written: the folder \(folder) does not exist")
            }
            return DataError(.writeFailed, file: target, "cannot be written (\(what): \(reason))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("creating a file in \(folder)") }
        var ok = data.withUnsafeBytes { raw -> Bool in
            guard var p = raw.baseAddress else { return true }
            var left = raw.count
            while left > 0 {
                #if canImport(Glibc)
                let n = Glibc.write(fd, p, left)
                #elseif canImport(Musl)
                let n = Musl.write(fd, p, left)
                #else
                let n = Darwin.write(fd, p, left)
                #endif
                if n < 0 { if errno == EINTR { continue }; return false }
                p += n
                left -= n
            }
            return true
        }
        var what = "write"
        if ok && fsync(fd) != 0 { ok = false; what = "fsync" }
        if close(fd) != 0 && ok { ok = false; what = "close" }
        if ok && rename(temporary, target) != 0 { ok = false; what = "rename" }
        if !ok {
            let error = failure(what)
            unlink(temporary)
            throw error
        }
    }
}
