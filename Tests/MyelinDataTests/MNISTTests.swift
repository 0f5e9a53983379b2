import Foundation
import Testing
import Myelin

@Suite struct MNISTTests {
    /// Writes a tiny fake MNIST split (n images) into `folder`, raw or gzip'd.
    func writeFakeSplit(_ split: MNIST.Split, n: Int, to folder: URL, gzip: Bool) throws {
        let names = MNIST.fileNames(split)
        let images = Tensor((0..<(n * 784)).map { Float($0 % 256) }, shape: [n, 28, 28])
        let labels = Tensor((0..<n).map { Float($0 % 10) }, shape: [n])
        let ext = gzip ? ".gz" : ""
        try IDXFile.write(images, as: .uint8, to: folder.appendingPathComponent(names.images + ext), gzip: gzip)
        try IDXFile.write(labels, as: .uint8, to: folder.appendingPathComponent(names.labels + ext), gzip: gzip)
    }

    @Test func loadsFromAnExplicitFolderOrItsMnistSubfolder() throws {
        let root = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let sub = root.appendingPathComponent("mnist")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try writeFakeSplit(.test, n: 12, to: sub, gzip: false)
        let m = try MNIST(root: root, split: .test, download: false)
        #expect(m.count == 12)
        #expect(TestData.samePath(m.folder, sub))
        #expect(m.images.shape == [12, 1, 28, 28])
        #expect(m.labels.integers() == (0..<12).map { $0 % 10 })
        let raw = try MNIST(root: sub, split: .test, scaled: false, download: false)
        #expect(raw.images.scalars(as: Float.self)[255] == 255)
    }

    @Test func explicitFolderWithoutFilesSaysSo() throws {
        let root = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let e = TestData.dataError { try MNIST(root: root, split: .train) }
        #expect(e?.kind == .notFound)
        #expect(e?.file == root.path)
        #expect(e?.description.contains("train-images-idx3-ubyte") == true)
        #expect(e?.description.contains("--data") == true)
    }

    @Test func searchOrderEnvironmentThenSharedThenCache() throws {
        let envRoot = try TestData.scratchFolder()
        let work = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: envRoot); try? FileManager.default.removeItem(at: work) }
        try writeFakeSplit(.train, n: 3, to: envRoot, gzip: true)
        // ../shared/data/mnist relative to a current directory `work/repo`.
        let repo = work.appendingPathComponent("repo")
        let shared = work.appendingPathComponent("shared/data/mnist")
        try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        try writeFakeSplit(.train, n: 4, to: shared, gzip: false)
        let cacheBase = work.appendingPathComponent("cache")

        let env = ["MYELIN_DATA": envRoot.path, "XDG_CACHE_HOME": cacheBase.path]
        #expect(TestData.samePath(MNIST.find(root: nil, split: .train, environment: env, currentDirectory: repo), envRoot))
        #expect(TestData.samePath(MNIST.find(root: nil, split: .train, environment: ["XDG_CACHE_HOME": cacheBase.path], currentDirectory: repo),
                                  shared))
        // The test split is nowhere: nothing is found.
        #expect(MNIST.find(root: nil, split: .test, environment: env, currentDirectory: repo) == nil)
        let cache = MNIST.cacheFolder(environment: ["XDG_CACHE_HOME": cacheBase.path])
        #expect(cache.path.hasSuffix("cache/myelin/mnist"))
        let places = MNIST.candidates(root: nil, environment: env, currentDirectory: repo)
        #expect(TestData.samePath(places.last, cache))
        #expect(TestData.samePath(places.first, envRoot))
        #expect(MNIST.cacheFolder(environment: [:]).path.hasSuffix(".cache/myelin/mnist"))
    }

    @Test(.enabled(if: TestData.hasMNIST, "needs ../shared/data/mnist"))
    func sharedFolderIsFoundFromTheRepositoryRoot() {
        let found = MNIST.find(root: nil, split: .train, environment: [:], currentDirectory: TestData.repoRoot)
        #expect(TestData.samePath(found, TestData.mnistFolder))
    }

    /// The download path, offline: a `file:` mirror stands in for the network.
    @Test(.enabled(if: TestData.hasMNIST, "needs ../shared/data/mnist"))
    func downloadFromAMirrorVerifiesAndLoads() throws {
        let cache = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: cache) }
        try MNIST.download(split: .test, to: cache, mirrors: [URL(fileURLWithPath: "/nonexistent-mirror/"), TestData.mnistFolder])
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path).sorted()
        #expect(files == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
        let m = try MNIST(folder: cache, split: .test)
        #expect(m.count == 10_000)
        // A second call finds the verified files in place and fetches nothing.
        try MNIST.download(split: .test, to: cache, mirrors: [])
    }

    @Test func checksumMismatchKeepsNothing() throws {
        let mirror = try TestData.scratchFolder()
        let cache = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: mirror); try? FileManager.default.removeItem(at: cache) }
        try writeFakeSplit(.test, n: 2, to: mirror, gzip: true)
        let e = TestData.dataError { try MNIST.download(split: .test, to: cache, mirrors: [mirror]) }
        #expect(e?.kind == .checksumMismatch)
        #expect(e?.file == "t10k-images-idx3-ubyte.gz")
        #expect(e?.description.contains(MNIST.sha256["t10k-images-idx3-ubyte.gz"] ?? "?") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.path).isEmpty)
    }

    /// No network test: a closed local port fails at once with the advice to pass --data.
    @Test func unreachableMirrorFailsFastWithAdvice() throws {
        let cache = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: cache) }
        let start = Date()
        let e = TestData.dataError {
            try MNIST.download(split: .train, to: cache, mirrors: [URL(string: "http://127.0.0.1:9/mnist/")!], timeout: 5)
        }
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(e?.kind == .download)
        #expect(e?.description.contains("train-images-idx3-ubyte.gz") == true)
        #expect(e?.description.contains("--data") == true)
        #expect(e?.description.contains("MYELIN_DATA") == true)
    }

    @Test func mismatchedImageAndLabelCountsThrow() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeFakeSplit(.train, n: 5, to: folder, gzip: false)
        let names = MNIST.fileNames(.train)
        try IDXFile.write(Tensor([1, 2, 3] as [Float], shape: [3]), as: .uint8, to: folder.appendingPathComponent(names.labels))
        let e = TestData.dataError { try MNIST(folder: folder, split: .train) }
        #expect(e?.description.contains("3 labels") == true)
        #expect(e?.description.contains("5 images") == true)
    }
}
