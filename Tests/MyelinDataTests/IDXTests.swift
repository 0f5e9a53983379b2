import Foundation
import Testing
import Myelin

@Suite struct IDXTests {
    /// A [2, 2, 3] ubyte file written by hand.
    static let small: [UInt8] = [0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3] + (0..<12).map { UInt8($0 * 20) }

    @Test func parsesHeaderAndValues() throws {
        let f = try IDXFile(bytes: Self.small)
        #expect(f.elementType == .uint8)
        #expect(f.shape == [2, 2, 3])
        let t = f.tensor()
        #expect(t.dtype == .int64)
        #expect(t.integers() == (0..<12).map { $0 * 20 })
        let images = try IDX.images(f)
        #expect(images.shape == [2, 1, 2, 3])
        #expect(images.dtype == .float32)
        #expect(images.scalars(as: Float.self)[1] == Float(20) / 255)
        let raw = try IDX.images(f, scaled: false)
        #expect(raw.scalars(as: Float.self)[11] == 220)
    }

    /// Scaled pixels equal torchvision's float32 `x / 255` bit for bit, for every byte value.
    @Test func scalingMatchesFloat32Division() throws {
        let all = Tensor((0..<256).map { Float($0) }, shape: [1, 16, 16])
        let images = try IDX.images(IDXFile(bytes: IDXFile.encode(all, as: .uint8)))
        #expect(images.scalars(as: Float.self) == (0..<256).map { Float($0) / 255 })
    }

    /// Every element type round-trips through encode and parse, including signs and big-endian order.
    @Test(arguments: IDXFile.ElementType.allCases)
    func elementTypesRoundTrip(_ type: IDXFile.ElementType) throws {
        let values: [Double] = switch type {
        case .uint8: [0, 1, 127, 255]
        case .int8: [-128, -1, 0, 127]
        case .int16: [-32768, -2, 258, 32767]
        case .int32: [-2_000_000_000, -1, 65_536, 2_000_000_000]
        case .float32: [-1.5, 0, 0.25, 3e10]
        case .float64: [-1e-300, 0, 0.1, 1e300]
        }
        let t = Tensor(values, shape: [2, 2], dtype: .float64)
        let bytes = IDXFile.encode(t, as: type)
        #expect(bytes.count == 4 + 8 + 4 * type.byteSize)
        let f = try IDXFile(bytes: bytes)
        #expect(f.elementType == type)
        #expect(f.shape == [2, 2])
        #expect(f.tensor(dtype: .float64).scalars(as: Double.self) == values.map { type == .float32 ? Double(Float($0)) : $0 })
    }

    @Test func int16IsBigEndian() throws {
        let f = try IDXFile(bytes: [0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
        #expect(f.tensor().integers() == [258, -2])
    }

    @Test func gzipAndRawGiveTheSameTensor() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let t = Tensor((0..<(5 * 7 * 3)).map { Float($0 % 256) }, shape: [5, 7, 3])
        let raw = folder.appendingPathComponent("x-idx3-ubyte")
        let gz = folder.appendingPathComponent("x-idx3-ubyte.gz")
        try IDXFile.write(t, as: .uint8, to: raw)
        try IDXFile.write(t, as: .uint8, to: gz, gzip: true)
        let gzBytes = try Data(contentsOf: gz)
        #expect(gzBytes.prefix(2) == Data([0x1F, 0x8B]))
        let a = try IDX.readImages(raw), b = try IDX.readImages(gz)
        #expect(a.shape == [5, 1, 7, 3])
        #expect(a.scalars(as: Float.self) == b.scalars(as: Float.self))
        // Detection is by content, not by name: gzip bytes under a plain name still read.
        let misnamed = folder.appendingPathComponent("plain-name")
        try gzBytes.write(to: misnamed)
        #expect(try IDX.readImages(misnamed).scalars(as: Float.self) == a.scalars(as: Float.self))
    }

    @Test func concatenatedGzipMembersAreRead() throws {
        let a = Array(Self.small.prefix(10)), b = Array(Self.small.dropFirst(10))
        let joined = Gzip.compress(a) + Gzip.compress(b)
        #expect(try Gzip.decompress(joined) == Self.small)
        #expect(try IDXFile(bytes: joined).shape == [2, 2, 3])
    }

    @Test func largeStreamsInflateInChunks() throws {
        // Larger than the inflate output buffer and the 1 MiB file read.
        let data = (0..<3_000_000).map { UInt8(truncatingIfNeeded: ($0 * 7) ^ ($0 >> 9)) }
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("big.gz")
        try Data(Gzip.compress(data, level: 1)).write(to: url)
        #expect(try Gzip.contentsOfFile(at: url) == data)
    }

    // MARK: Broken files

    @Test func truncatedDataThrowsNamingSizes() throws {
        let e = TestData.dataError { try IDXFile(bytes: Array(Self.small.dropLast(2)), name: "cut.idx") }
        #expect(e?.kind == .truncated)
        #expect(e?.file == "cut.idx")
        #expect(e?.description.contains("2×2×3") == true)
        #expect(e?.description.contains("10 bytes") == true)
    }

    @Test func truncatedHeaderThrows() {
        #expect(TestData.dataError { try IDXFile(bytes: [0, 0, 8]) }?.kind == .truncated)
        #expect(TestData.dataError { try IDXFile(bytes: [0, 0, 8, 3, 0, 0, 0, 2]) }?.kind == .truncated)
        #expect(TestData.dataError { try IDXFile(bytes: []) }?.kind == .truncated)
    }

    @Test func wrongMagicAndTypeThrow() {
        let notIDX = TestData.dataError { try IDXFile(bytes: Array("hello world".utf8), name: "x.txt") }
        #expect(notIDX?.kind == .corrupt)
        #expect(notIDX?.description.contains("x.txt") == true)
        #expect(notIDX?.description.contains("not an IDX file") == true)
        let badType = TestData.dataError { try IDXFile(bytes: [0, 0, 0x07, 1, 0, 0, 0, 1, 5]) }
        #expect(badType?.kind == .corrupt)
        #expect(badType?.description.contains("0x07") == true)
        #expect(TestData.dataError { try IDXFile(bytes: [0, 0, 8, 0]) }?.kind == .corrupt)
    }

    @Test func trailingBytesThrow() {
        let e = TestData.dataError { try IDXFile(bytes: Self.small + [1, 2, 3]) }
        #expect(e?.kind == .corrupt)
        #expect(e?.description.contains("3 bytes after") == true)
    }

    @Test func hugeDimensionsDoNotOverflow() {
        let e = TestData.dataError { try IDXFile(bytes: [0, 0, 0x0E, 3] + [UInt8](repeating: 0xFF, count: 12)) }
        #expect(e != nil)
    }

    @Test func truncatedAndCorruptGzipThrow() throws {
        let gz = Gzip.compress(Self.small)
        let cut = TestData.dataError { try IDXFile(bytes: Array(gz.prefix(gz.count - 6)), name: "cut.gz") }
        #expect(cut?.kind == .truncated)
        #expect(cut?.description.contains("cut.gz") == true)
        var flipped = gz
        flipped[12] ^= 0xFF
        flipped[13] ^= 0x55
        #expect(TestData.dataError { try IDXFile(bytes: flipped) } != nil)
    }

    @Test func truncatedGzipFileOnDiskNamesTheFile() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("labels-idx1-ubyte.gz")
        let gz = Gzip.compress(IDXFile.encode(Tensor((0..<5000).map { $0 % 10 }), as: .uint8))
        try Data(gz.prefix(gz.count / 2)).write(to: url)
        let e = TestData.dataError { try IDX.readLabels(url) }
        #expect(e?.kind == .truncated)
        #expect(e?.file == url.path)
        #expect(e?.description.contains("truncated") == true)
    }

    @Test func missingFileThrowsNotFound() {
        let e = TestData.dataError { try IDX.readImages(URL(fileURLWithPath: "/nonexistent/train-images-idx3-ubyte.gz")) }
        #expect(e?.kind == .notFound)
        #expect(e?.description.contains("/nonexistent/train-images-idx3-ubyte.gz") == true)
    }

    @Test func labelsAndImagesCheckRank() throws {
        let images = try IDXFile(bytes: Self.small)
        #expect(TestData.dataError { try IDX.labels(images) }?.description.contains("labels need 1 dimension") == true)
        let labels = try IDXFile(bytes: [0, 0, 8, 1, 0, 0, 0, 2, 3, 4])
        #expect(try IDX.labels(labels).integers() == [3, 4])
        #expect(TestData.dataError { try IDX.images(labels) }?.kind == .corrupt)
    }

    // MARK: Real MNIST

    @Test(.enabled(if: TestData.hasMNIST, "needs ../shared/data/mnist"))
    func realMNISTTrain() throws {
        let train = try #require(TestData.mnistTrain)
        #expect(train.count == 60_000)
        #expect(train.images.shape == [60_000, 1, 28, 28])
        #expect(train.images.dtype == .float32)
        #expect(train.labels.dtype == .int64)
        #expect(Array(train.labels.integers().prefix(5)) == [5, 0, 4, 1, 9])
        let pixels = train.images.scalars(as: Float.self)
        #expect(pixels.min() == 0)
        #expect(pixels.max() == 1)
        // The mean pixel of MNIST's training set is the well-known 0.1307.
        let mean = pixels.reduce(0.0) { $0 + Double($1) } / Double(pixels.count)
        #expect(abs(mean - 0.1307) < 0.0005)
        let counts = train.labels.integers().reduce(into: [Int](repeating: 0, count: 10)) { $0[$1] += 1 }
        #expect(counts[1] == 6742)  // the most frequent digit
        #expect(counts.reduce(0, +) == 60_000)
    }

    @Test(.enabled(if: TestData.hasMNIST, "needs ../shared/data/mnist"))
    func realMNISTTest() throws {
        let test = try #require(TestData.mnistTest)
        #expect(test.count == 10_000)
        #expect(Array(test.labels.integers().prefix(5)) == [7, 2, 1, 0, 4])
        let (x, y) = test[0]
        #expect(x.shape == [1, 28, 28])
        #expect(y.shape == [])
        #expect(y.integers() == [7])
    }

    /// The raw (inflated) file reads the same as the gzip'd one, and `scaled: false` keeps 0...255.
    @Test(.enabled(if: TestData.hasMNIST, "needs ../shared/data/mnist"))
    func realMNISTRawEqualsGzip() throws {
        let gz = TestData.mnistFolder.appendingPathComponent("t10k-labels-idx1-ubyte.gz")
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let raw = folder.appendingPathComponent("t10k-labels-idx1-ubyte")
        try Data(Gzip.contentsOfFile(at: gz)).write(to: raw)
        #expect(try IDX.readLabels(raw).integers() == IDX.readLabels(gz).integers())
        let images = try IDX.readImages(TestData.mnistFolder.appendingPathComponent("t10k-images-idx3-ubyte.gz"), scaled: false)
        let v = images.scalars(as: Float.self)
        #expect(v.max() == 255)
        #expect(v.allSatisfy { $0 == $0.rounded() })
    }
}
