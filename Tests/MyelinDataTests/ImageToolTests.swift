import Foundation
import Myelin
import Testing

/// The built `myelin` executable beside the test bundle (.build/<config>/myelin), if any.
private let myelinBinary: URL? = {
    var candidates: [URL] = []
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        candidates.append(URL(fileURLWithPath: bundle.bundlePath).deletingLastPathComponent().appendingPathComponent("myelin"))
    }
    let argv0 = URL(fileURLWithPath: CommandLine.arguments.first ?? "")
    candidates.append(argv0.deletingLastPathComponent().appendingPathComponent("myelin"))
    candidates.append(argv0.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("myelin"))
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()

/// Runs the executable; (exit status, stdout, stderr).
private func runMyelin(_ binary: URL, _ arguments: [String]) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// A 4×6 RGBA test picture: a left-dark / right-bright step in the colour, alpha 1 on top, 0.5 below.
private func stepPicture() -> Tensor {
    var v = [Float](repeating: 0, count: 4 * 4 * 6)
    for y in 0..<4 {
        for x in 0..<6 {
            for c in 0..<3 { v[c * 24 + y * 6 + x] = x >= 3 ? 0.8 : 0.2 }
            v[3 * 24 + y * 6 + x] = y < 2 ? 1 : Float(128) / 255
        }
    }
    return Tensor(v, shape: [4, 4, 6])
}

private func dataErrorKind(_ body: () throws -> Any) -> DataError.Kind? {
    do { _ = try body(); return nil } catch let e as DataError { return e.kind } catch { return nil }
}

@Suite("Image command logic")
struct ImageToolTests {
    @Test("negative and grayscale keep alpha; grayscale of RGBA is gray + alpha")
    func negativeAndGrayscale() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.png")
        let picture = stepPicture()
        try ImageFile.write(picture, to: input)
        let neg = dir.appendingPathComponent("neg.png")
        let r = try ImageTool.negative(input: input, output: neg)
        #expect(r.outputShape == [4, 4, 6] && r.notes.isEmpty)
        let back = try ImageFile.read(contentsOf: neg)
        #expect((back[0..<3] - (1 - picture[0..<3])).abs().max().itemDouble() < 1e-6)
        #expect(back[3].scalars(as: Float.self) == picture[3].scalars(as: Float.self))

        let gray = dir.appendingPathComponent("gray.png")
        _ = try ImageTool.grayscale(input: input, output: gray, method: .mean)
        let g = try ImageFile.read(contentsOf: gray)
        #expect(g.shape == [2, 4, 6])
        #expect((g[0] - picture[0]).abs().max().itemDouble() < 1e-6)  // R = G = B here

        // To JPEG: alpha dropped, with a note.
        let jpg = dir.appendingPathComponent("neg.jpg")
        let rj = try ImageTool.negative(input: input, output: jpg)
        #expect(rj.outputShape == [3, 4, 6] && rj.notes.contains { $0.contains("alpha") })
    }

    @Test("convolve: Sobel on the step, display modes, repeats; resize; 16-bit input gives 16-bit output")
    func convolveAndResize() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.png")
        try ImageFile.write(ImageProcessing.grayscale(stepPicture()), to: input, bitDepth: 16)
        let out = dir.appendingPathComponent("sx.png")
        // The step 0.2 → 0.8 gives sobel-x 4 · 0.6 = 2.4 at columns 2 and 3: clamped to 1 with a note.
        let r = try ImageTool.convolve(input: input, output: out, filter: .kernel(.sobelX), border: .replicate)
        #expect(r.bitDepth == 16 && abs(r.maximum - 2.4) < 1e-3 && r.notes.contains { $0.contains("clamped") })
        let sx = try ImageFile.read(contentsOf: out)
        #expect(sx[0, 0].scalars(as: Float.self) == [0, 0, 1, 1, 0, 0])
        // Reversed step: negative responses; abs shows them, normalize stretches them.
        let flipped = dir.appendingPathComponent("flipped.png")
        _ = try ImageTool.negative(input: input, output: flipped)
        let shown = dir.appendingPathComponent("abs.png")
        _ = try ImageTool.convolve(input: flipped, output: shown, filter: .kernel(.sobelX), border: .replicate, display: .abs)
        #expect(try ImageFile.read(contentsOf: shown)[0, 0].scalars(as: Float.self) == [0, 0, 1, 1, 0, 0])
        _ = try ImageTool.convolve(input: flipped, output: shown, filter: .kernel(.sobelX), border: .replicate, display: .normalize)
        #expect(try ImageFile.read(contentsOf: shown)[0, 0].scalars(as: Float.self) == [1, 1, 0, 0, 1, 1])
        // shift-left three times with zero borders: the bright half leaves through the left... from the right.
        _ = try ImageTool.convolve(input: input, output: shown, filter: .kernel(.shiftLeft), border: .zeros, repeats: 3)
        let shifted = try ImageFile.read(contentsOf: shown)[0, 0].scalars(as: Double.self)
        #expect(shifted.map { ($0 * 10).rounded() / 10 } == [0.8, 0.8, 0.8, 0, 0, 0])
        #expect(dataErrorKind { try ImageTool.convolve(input: input, output: shown, filter: .kernel(.identity), repeats: 0) } == .invalidArgument)

        let small = dir.appendingPathComponent("small.png")
        let rs = try ImageTool.resize(input: input, output: small, height: 2, width: 3, interpolation: .nearest)
        #expect(rs.outputShape == [1, 2, 3])
        #expect(try ImageTool.parseSize("224x160") == (224, 160) && ImageTool.parseSize("32") == (32, 32))
        #expect(dataErrorKind { try ImageTool.parseSize("12y4") } == .invalidArgument)
    }

    @Test("refuses OUT == IN (also through .. and links) unless forced; bad output names; missing input")
    func safety() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.png")
        try ImageFile.write(stepPicture(), to: input)
        let original = try Data(contentsOf: input)
        let sameViaDots = dir.appendingPathComponent("sub/../in.png")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let link = dir.appendingPathComponent("link.png")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: input)
        for out in [input, sameViaDots, link] {
            #expect(dataErrorKind { try ImageTool.negative(input: input, output: out) } == .invalidArgument, "\(out.path)")
        }
        #expect(try Data(contentsOf: input) == original)
        _ = try ImageTool.negative(input: input, output: input, options: ImageTool.Output(force: true))
        #expect(try Data(contentsOf: input) != original)

        #expect(dataErrorKind { try ImageTool.negative(input: input, output: dir.appendingPathComponent("x.bmp")) } == .invalidArgument)
        #expect(dataErrorKind { try ImageTool.negative(input: input, output: dir.appendingPathComponent("nowhere/x.png")) } == .writeFailed)
        #expect(dataErrorKind { try ImageTool.negative(input: dir.appendingPathComponent("absent.png"), output: dir.appendingPathComponent("x.png")) } == .notFound)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.png").path))
    }

    @Test("info names the format, size, colour type, depth and per-channel statistics")
    func info() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.png")
        try ImageFile.write(stepPicture(), to: input, bitDepth: 16)
        let text = try ImageTool.info(input: input)
        #expect(text.contains("PNG, 6×4 (W×H), RGBA, 16-bit"), "\(text)")
        #expect(text.contains("R          0.2000    0.8000    0.5000"), "\(text)")
        #expect(dataErrorKind { try ImageTool.info(input: dir.appendingPathComponent("absent.png")) } == .notFound)
    }

    @Test("the myelin executable runs `image convolve` and `image negative` on a temporary PNG",
          .enabled(if: myelinBinary != nil, "the myelin executable is not built beside the tests (swift build first)"))
    func executable() throws {
        guard let binary = myelinBinary else { return }
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.png"), output = dir.appendingPathComponent("out.png")
        try ImageFile.write(stepPicture(), to: input)
        let (status, stdout, _) = try runMyelin(binary, ["image", "convolve", "--kernel", "shift-left", "--border", "wrap", input.path, output.path])
        #expect(status == 0 && stdout.contains("wrote"), "\(stdout)")
        let moved = try ImageFile.read(contentsOf: output)
        #expect(moved[0, 0].scalars(as: Float.self).map { ($0 * 10).rounded() / 10 } == [0.2, 0.2, 0.8, 0.8, 0.8, 0.2])
        // Errors are one line naming the problem, with a non-zero status.
        let (bad, _, err) = try runMyelin(binary, ["image", "convolve", "--kernel", "sobelz", input.path, output.path])
        #expect(bad != 0 && err.contains("sobelz") && err.split(separator: "\n").count == 1, "\(err)")
        let (same, _, err2) = try runMyelin(binary, ["image", "negative", input.path, input.path])
        #expect(same != 0 && err2.contains("--force"), "\(err2)")
    }
}
