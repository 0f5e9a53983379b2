import Foundation
import Myelin
import Testing

@Suite("ImageFolder")
struct ImageFolderTests {
    /// Writes a gray or RGB PNG of constant value `v` (0...255).
    static func writePNG(_ url: URL, width: Int, height: Int, rgb: Bool = false, value: UInt8) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNG.write(pixels: [UInt8](repeating: value, count: width * height * (rgb ? 3 : 1)), width: width, height: height,
                      colorType: rgb ? .rgb : .gray, to: url)
    }

    /// root/{bird, cat, dog} with files in a known layout.
    static func makeTree() throws -> URL {
        let root = try TestData.scratchFolder()
        try writePNG(root.appendingPathComponent("dog/b.png"), width: 4, height: 3, value: 30)
        try writePNG(root.appendingPathComponent("dog/a.PNG"), width: 4, height: 3, rgb: true, value: 20)
        try writePNG(root.appendingPathComponent("cat/x.Jpeg"), width: 4, height: 3, value: 10)  // PNG bytes: decoded by signature
        try writePNG(root.appendingPathComponent("cat/sub/y.png"), width: 4, height: 3, value: 11)
        try writePNG(root.appendingPathComponent("bird/z.jpg"), width: 4, height: 3, value: 5)
        try Data("not an image".utf8).write(to: root.appendingPathComponent("dog/notes.txt"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent(".ipynb_checkpoints"), withIntermediateDirectories: true)
        return root
    }

    @Test func classesOrderAndLabels() throws {
        let root = try Self.makeTree()
        defer { try? FileManager.default.removeItem(at: root) }
        let ds = try ImageFolder(root: root)
        #expect(ds.classes == ["bird", "cat", "dog"] && ds.classToIndex == ["bird": 0, "cat": 1, "dog": 2])
        #expect(ds.samples.map(\.url.lastPathComponent) == ["z.jpg", "x.Jpeg", "y.png", "a.PNG", "b.png"])
        #expect(ds.targets == [0, 1, 1, 2, 2])
        let (x, y) = ds[4]
        #expect(x.shape == [3, 3, 4] && y.integers() == [2] && y.shape == [])
        #expect(abs(x.scalars()[0] - 30 / 255) < 1e-6)
        let gray = try ImageFolder(root: root, channels: 1)
        #expect(gray[3].input.shape == [1, 3, 4])
        let batch = DataLoader(ds, batchSize: 5, prefetch: 0).map { $0 }[0]
        #expect(batch.input.shape == [5, 3, 3, 4] && batch.target.integers() == [0, 1, 1, 2, 2])
    }

    @Test func sortedFilesWithinAClass() throws {
        let root = try Self.makeTree()
        defer { try? FileManager.default.removeItem(at: root) }
        // The class folder's own files come before its subfolders' (sorted(os.walk(...)) in torchvision).
        let names = try ImageFolder(root: root).samples.filter { $0.label == 1 }.map(\.url.lastPathComponent)
        #expect(names == ["x.Jpeg", "y.png"])
    }

    @Test func sizeTransformAndCache() throws {
        let root = try Self.makeTree()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.writePNG(root.appendingPathComponent("bird/big.png"), width: 9, height: 7, value: 200)
        let ds = try ImageFolder(root: root, transform: Normalize(mean: [0.5], std: [0.5]), size: (2, 2), cache: true)
        let (x, _) = ds[0]
        #expect(x.shape == [3, 2, 2] && abs(x.scalars()[0] - (200.0 / 255 - 0.5) / 0.5) < 1e-5)
        #expect(try ds.image(at: 0).scalars() == ds.image(at: 0).scalars())
        #expect(ds.all().input.shape == [6, 3, 2, 2])
    }

    @Test func errors() throws {
        let root = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let empty = TestData.dataError { try ImageFolder(root: root) }
        #expect(empty?.kind == .notFound && empty?.message.contains("no class folders") == true)
        #expect(TestData.dataError { try ImageFolder(root: root.appendingPathComponent("nope")) }?.kind == .notFound)
        try Self.writePNG(root.appendingPathComponent("a/1.png"), width: 2, height: 2, value: 1)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("b"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: root.appendingPathComponent("b/readme.txt"))
        let noImages = TestData.dataError { try ImageFolder(root: root) }
        #expect(noImages?.message.contains("\"b\"") == true && noImages?.message.contains("png") == true)
        try Data("garbage".utf8).write(to: root.appendingPathComponent("b/bad.png"))
        let ds = try ImageFolder(root: root)
        let corrupt = TestData.dataError { try ds.validate() }
        #expect(corrupt?.kind == .corrupt && corrupt?.file.hasSuffix("b/bad.png") == true)
    }
}
