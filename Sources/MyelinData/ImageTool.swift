import Foundation
import MyelinCore

/// The work behind `myelin image negative | grayscale | convolve | resize | info`, as library
/// functions so that tests can run it without the executable. Each reads IN, transforms it and
/// writes OUT atomically; every failure is a `DataError` whose text names the file or argument.
///
/// Conventions, chosen so that a PIL or OpenCV user is not surprised:
/// - alpha is left as it was (a negative or a blur of the colour, not of the transparency);
/// - OUT keeps IN's bit depth when it is a PNG (16-bit in, 16-bit out), unless `bitDepth` is given;
/// - a JPEG has no alpha: writing an RGBA image to .jpg drops alpha, with a note;
/// - OUT must differ from IN unless `force` (a typo must not destroy the original).
public enum ImageTool {
    /// How values outside [0, 1] (edge maps, sharpening) become pixels.
    public enum Display: String, Sendable, CaseIterable {
        /// Clamp to [0, 1]: negative responses become black.
        case clamp
        /// |x|, then clamp: edges of either sign show as bright.
        case abs
        /// Stretch each image's [min, max] onto [0, 1].
        case normalize
    }

    /// Options for the file written.
    public struct Output: Sendable {
        /// Replace OUT even when it is IN.
        public var force: Bool
        /// JPEG quality 1...100.
        public var quality: Int
        /// 8 or 16 for a PNG; nil keeps the input's depth (8 when it was below 8 or a JPEG).
        public var bitDepth: Int?

        public init(force: Bool = false, quality: Int = 75, bitDepth: Int? = nil) {
            self.force = force
            self.quality = quality
            self.bitDepth = bitDepth
        }
    }

    /// What a command did.
    public struct Result: Sendable {
        public var input: ImageFile.Info
        /// The shape of the image written, `[C, H, W]`.
        public var outputShape: [Int]
        public var bitDepth: Int
        /// Smallest and largest value computed before writing (outside [0, 1] was clamped).
        public var minimum: Double
        public var maximum: Double
        /// Remarks for the user (alpha dropped, values clamped).
        public var notes: [String]
    }

    /// Reads `input`, applies `transform` to its colour channels (alpha kept) and writes `output`.
    public static func process(input: URL, output: URL, options: Output = Output(),
                               _ transform: (Tensor) throws -> Tensor) throws -> Result {
        try checkOutput(output, input: input, force: options.force)
        let (image, info) = try ImageFile.readWithInfo(contentsOf: input)
        var failure: Error? = nil
        var out = ImageProcessing.keepingAlpha(image) { colour in
            do { return try transform(colour) } catch { failure = error; return colour }
        }
        if let failure { throw failure }
        var notes: [String] = []
        let values = out.scalars(as: Double.self)
        let lo = values.min() ?? 0, hi = values.max() ?? 0
        if lo < 0 || hi > 1 {
            notes.append("values span [\(short(lo)), \(short(hi))]: clamped to [0, 1] when written")
        }
        let format = ImageFile.format(forExtension: output.pathExtension) ?? .png
        if format == .jpeg && (out.shape[0] == 2 || out.shape[0] == 4) {
            out = ImageFile.converted(out, channels: out.shape[0] - 1)
            notes.append("JPEG has no alpha channel: alpha dropped")
        }
        let depth = format == .jpeg ? 8 : options.bitDepth ?? (info.bitDepth == 16 ? 16 : 8)
        try ImageFile.write(out, to: output, quality: options.quality, bitDepth: depth)
        return Result(input: info, outputShape: out.shape, bitDepth: depth, minimum: lo, maximum: hi, notes: notes)
    }

    /// `myelin image negative`: 1 − image.
    public static func negative(input: URL, output: URL, options: Output = Output()) throws -> Result {
        try process(input: input, output: output, options: options) { ImageProcessing.negative($0) }
    }

    /// `myelin image grayscale`: one gray channel (gray + alpha when IN has alpha).
    public static func grayscale(input: URL, output: URL, method: ImageProcessing.GrayscaleMethod = .luminance,
                                 options: Output = Output()) throws -> Result {
        try process(input: input, output: output, options: options) { ImageProcessing.grayscale($0, method: method) }
    }

    /// `myelin image convolve`: `filter` applied `repeats` times, then `display`.
    public static func convolve(input: URL, output: URL, filter: ImageFilter, border: BorderMode = .reflect,
                                flip: Bool = false, repeats: Int = 1, display: Display = .clamp,
                                options: Output = Output()) throws -> Result {
        guard repeats >= 1 else { throw DataError(.invalidArgument, file: "--repeat", "must be at least 1, got \(repeats)") }
        return try process(input: input, output: output, options: options) { colour in
            var x = colour
            for _ in 0..<repeats { x = ImageProcessing.filter(x, filter, border: border, flip: flip) }
            switch display {
            case .clamp: return x
            case .abs: return x.abs()
            case .normalize: return ImageProcessing.normalizedToUnitRange(x)
            }
        }
    }

    /// `myelin image resize`: to `height × width` (torchvision's order, not PIL's (width, height)),
    /// antialiased when shrinking (as PIL and torchvision's `Resize`) unless `antialias` is false.
    public static func resize(input: URL, output: URL, height: Int, width: Int,
                              interpolation: ImageFile.Interpolation = .bilinear, antialias: Bool = true,
                              options: Output = Output()) throws -> Result {
        guard height > 0 && width > 0 else {
            throw DataError(.invalidArgument, file: "--size", "must be positive, got \(height)x\(width)")
        }
        return try process(input: input, output: output, options: options) {
            ImageFile.resized($0, height: height, width: width, interpolation: interpolation, antialias: antialias)
        }
    }

    /// `myelin image info`: format, size, colour type, depth and per-channel min / max / mean.
    public static func info(input: URL) throws -> String {
        let (image, info) = try ImageFile.readWithInfo(contentsOf: input)
        let names: [String] = switch info.channels {
        case 1: ["gray"]
        case 2: ["gray", "alpha"]
        case 3: ["R", "G", "B"]
        default: ["R", "G", "B", "A"]
        }
        var lines = [
            "\(input.path): \(info.format == .png ? "PNG" : "JPEG"), \(info.width)×\(info.height) (W×H), \(info.colorType), \(info.bitDepth)-bit",
            "tensor [C, H, W] = \(image.shape), values in [0, 1] (sample / \(info.bitDepth == 16 ? 65535 : 255))",
            "channel       min       max      mean",
        ]
        for (c, name) in names.enumerated() {
            let v = image[c].scalars(as: Double.self)
            let mean = v.reduce(0, +) / Double(Swift.max(v.count, 1))
            lines.append(name.padding(toLength: 7, withPad: " ", startingAt: 0)
                         + [v.min() ?? 0, v.max() ?? 0, mean].map { String(format: "%10.4f", $0) }.joined())
        }
        return lines.joined(separator: "\n")
    }

    /// "HxW" (or "H×W", "H,W") → (height, width); a single number N is N×N.
    public static func parseSize(_ text: String) throws -> (height: Int, width: Int) {
        let parts = text.lowercased().split(whereSeparator: { "x×,".contains($0) }).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        if parts.count == 1, let n = parts[0], n > 0 { return (n, n) }
        guard parts.count == 2, let h = parts[0], let w = parts[1], h > 0, w > 0 else {
            throw DataError(.invalidArgument, file: "--size", "must be HEIGHTxWIDTH with positive numbers (such as 224x224), not \"\(text)\"")
        }
        return (h, w)
    }

    /// Refuses an output that is not .png/.jpg, or that is the input (unless `force`), or whose
    /// folder is missing, before any work is done.
    static func checkOutput(_ output: URL, input: URL, force: Bool) throws {
        let ext = output.pathExtension
        guard ImageFile.format(forExtension: ext) != nil else {
            throw DataError(.invalidArgument, file: output.path,
                            ext.isEmpty ? "has no extension: name the output .png or .jpg"
                                        : "has the extension .\(ext): the output must be .png, .jpg or .jpeg")
        }
        if !force && sameFile(input, output) {
            throw DataError(.invalidArgument, file: output.path, "is the input file: refusing to overwrite it (pass --force to replace it)")
        }
        let folder = output.standardizedFileURL.deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw DataError(.writeFailed, file: output.path, "cannot be written: the folder \(folder) does not exist")
        }
    }

    /// Whether two paths name one file: the same path after resolving `..` and symbolic links,
    /// or the same inode (hard links).
    static func sameFile(_ a: URL, _ b: URL) -> Bool {
        if a.standardizedFileURL.resolvingSymlinksInPath().path == b.standardizedFileURL.resolvingSymlinksInPath().path { return true }
        let fm = FileManager.default
        guard let x = try? fm.attributesOfItem(atPath: a.path), let y = try? fm.attributesOfItem(atPath: b.path),
              let ix = x[.systemFileNumber] as? NSNumber, let iy = y[.systemFileNumber] as? NSNumber,
              let dx = x[.systemNumber] as? NSNumber, let dy = y[.systemNumber] as? NSNumber else { return false }
        return ix == iy && dx == dy
    }

    static func short(_ v: Double) -> String { String(format: "%.3g", v) }
}
