import ArgumentParser
import Foundation
import Myelin

/// `myelin image negative | grayscale | convolve | resize | info`: the lecture's image
/// processing on PNG and JPEG files (the work is in MyelinData's `ImageTool`).
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Process PNG and JPEG images: negative, grayscale, convolution filters, resizing, info.",
        discussion: """
        OUT's format follows its extension (.png, .jpg). Alpha is kept as it was; a PNG keeps \
        the input's bit depth. OUT must differ from IN unless --force.
        """,
        subcommands: [Negative.self, Grayscale.self, Convolve.self, Resize.self, Info.self])

    /// The flags every writing subcommand shares.
    struct OutputOptions: ParsableArguments {
        @Argument(help: "The input image (PNG or JPEG).") var input: String
        @Argument(help: "The output image (.png, .jpg or .jpeg).") var output: String
        @Flag(help: "Allow OUT to be IN (overwrite the input).") var force = false
        @Option(help: "JPEG quality, 1-100.") var quality: Int = 75
        @Option(help: ArgumentHelp("PNG bit depth, 8 or 16 (default: the input's).", valueName: "bits")) var bitDepth: Int?

        func validate() throws {
            if !(1...100).contains(quality) { throw ValidationError("--quality must be 1-100, got \(quality)") }
            if let bitDepth, bitDepth != 8 && bitDepth != 16 { throw ValidationError("--bit-depth must be 8 or 16, got \(bitDepth)") }
        }

        var inputURL: URL { URL(fileURLWithPath: input) }
        var outputURL: URL { URL(fileURLWithPath: output) }
        var settings: ImageTool.Output { ImageTool.Output(force: force, quality: quality, bitDepth: bitDepth) }
    }

    /// Runs a tool function, turning its `DataError` into one line, and reports what was written.
    static func run(_ options: OutputOptions, _ body: () throws -> ImageTool.Result) throws {
        let result: ImageTool.Result
        do {
            result = try body()
        } catch let e as DataError {
            throw CLIError(e.description)
        }
        for note in result.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        let s = result.outputShape
        print("wrote \(options.output) (\(s[2])×\(s[1]), \(s[0]) channel\(s[0] == 1 ? "" : "s"), \(result.bitDepth)-bit)")
    }

    struct Negative: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the negative, 1 − image (alpha kept).")
        @OptionGroup var options: OutputOptions
        func run() throws {
            try ImageCommand.run(options) { try ImageTool.negative(input: options.inputURL, output: options.outputURL, options: options.settings) }
        }
    }

    struct Grayscale: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a gray image: luminance 0.299 R + 0.587 G + 0.114 B (PIL's \"L\"), the mean of R, G, B, or BT.709.")
        @Option(help: "luminance, mean or bt709.") var method: String = "luminance"
        @OptionGroup var options: OutputOptions
        func run() throws {
            guard let m = ImageProcessing.GrayscaleMethod(rawValue: method.lowercased()) else {
                throw CLIError("unknown --method \"\(method)\" (methods: luminance, mean, bt709)")
            }
            try ImageCommand.run(options) { try ImageTool.grayscale(input: options.inputURL, output: options.outputURL, method: m, options: options.settings) }
        }
    }

    struct Convolve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Filter every channel with a kernel (cross-correlation, as a convolution layer).",
            discussion: """
            Kernels: \(ImageFilter.names.joined(separator: ", ")) (sobel: gradient magnitude). \
            shift-left moves the content one pixel left. Edge kernels give negative values: \
            --display abs or normalize shows them.
            """)
        @Option(help: "The kernel (blur3, gaussian, shift-left, sobel-x, sobel, sharpen, ...).") var kernel: String
        @Option(help: "Pixels beyond the edge: reflect (OpenCV's default), zero (a conv layer's), replicate, wrap.") var border: String = "reflect"
        @Option(help: "Apply the filter N times.") var `repeat`: Int = 1
        @Flag(help: "True convolution: rotate the kernel by 180° first.") var flip = false
        @Option(help: "Values outside [0, 1]: clamp, abs or normalize.") var display: String = "clamp"
        @Option(help: "Gaussian kernel size (default 5, or from --sigma).") var kernelSize: Int?
        @Option(help: "Gaussian sigma (default from the size, as torchvision).") var sigma: Double?
        @OptionGroup var options: OutputOptions

        func validate() throws {
            if `repeat` < 1 { throw ValidationError("--repeat must be at least 1, got \(`repeat`)") }
            if let kernelSize, kernelSize < 1 { throw ValidationError("--kernel-size must be positive, got \(kernelSize)") }
            if let sigma, !(sigma > 0) { throw ValidationError("--sigma must be positive, got \(sigma)") }
        }

        func run() throws {
            guard let mode = BorderMode(name: border) else {
                throw CLIError("unknown --border \"\(border)\" (borders: zero, reflect, replicate, wrap)")
            }
            guard let shown = ImageTool.Display(rawValue: display.lowercased()) else {
                throw CLIError("unknown --display \"\(display)\" (clamp, abs, normalize)")
            }
            let filter: ImageFilter
            do { filter = try ImageFilter.named(kernel, size: kernelSize, sigma: sigma) } catch let e as DataError { throw CLIError(e.description) }
            try ImageCommand.run(options) {
                try ImageTool.convolve(input: options.inputURL, output: options.outputURL, filter: filter, border: mode,
                                       flip: flip, repeats: `repeat`, display: shown, options: options.settings)
            }
        }
    }

    struct Resize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resize to HEIGHTxWIDTH (torchvision's order; PIL's resize takes width first).")
        @Option(help: ArgumentHelp("The new size, HEIGHTxWIDTH (or N for N×N).", valueName: "HxW")) var size: String
        @Option(help: "bilinear (half-pixel centres) or nearest.") var interpolation: String = "bilinear"
        @Flag(help: "Shrink without antialiasing (sample the nearest pixels only; aliases fine detail).") var noAntialias = false
        @OptionGroup var options: OutputOptions
        func run() throws {
            guard let mode = ImageFile.Interpolation(rawValue: interpolation.lowercased()) else {
                throw CLIError("unknown --interpolation \"\(interpolation)\" (bilinear, nearest)")
            }
            let hw: (height: Int, width: Int)
            do { hw = try ImageTool.parseSize(size) } catch let e as DataError { throw CLIError(e.description) }
            try ImageCommand.run(options) {
                try ImageTool.resize(input: options.inputURL, output: options.outputURL, height: hw.height, width: hw.width,
                                     interpolation: mode, antialias: !noAntialias, options: options.settings)
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an image's size, channels, bit depth and per-channel min/max/mean.")
        @Argument(help: "The image (PNG or JPEG).") var input: String
        func run() throws {
            do { print(try ImageTool.info(input: URL(fileURLWithPath: input))) } catch let e as DataError { throw CLIError(e.description) }
        }
    }
}
