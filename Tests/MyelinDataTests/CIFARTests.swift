import Foundation
import Myelin
import Testing

private let dataFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite("MD5")
struct MD5Tests {
    @Test func rfc1321Vectors() {
        let vectors: [(String, String)] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
            ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
        ]
        for (text, hex) in vectors { #expect(MD5.hash(Array(text.utf8)).hex == hex, "MD5(\"\(text)\")") }
    }

    @Test func streamingEqualsOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var h = MD5()
        h.update(bytes[0..<3]); h.update(bytes[3..<64]); h.update(bytes[64..<700]); h.update(bytes[700...])
        #expect(h.finalize() == MD5.hash(bytes))
    }
}

@Suite("Tar")
struct TarTests {
    @Test func readsPythonMadeArchives() throws {
        let entries = try Tar.entries(Gzip.contentsOfFile(at: dataFixtures.appendingPathComponent("sample.tar.gz")))
        #expect(entries.map(\.path) == ["top", "top/hello.txt", "top/" + String(repeating: "a", count: 60) + "/" + String(repeating: "b", count: 55) + ".bin"])
        #expect(entries[0].isDirectory && entries[1].contents == Array("hello, tar\n".utf8))
        #expect(entries[2].contents == Array((0..<768).map { UInt8($0 % 256) }))
        let pax = try Tar.entries(Array(Data(contentsOf: dataFixtures.appendingPathComponent("sample_pax.tar"))))
        #expect(pax.map(\.path) == ["p/" + String(repeating: "c", count: 150) + ".txt"] && pax[0].contents == Array("pax".utf8))
    }

    @Test func roundTripAndExtract() throws {
        let files = [Tar.Entry(path: "d", isDirectory: true), Tar.Entry(path: "d/x.bin", contents: [1, 2, 3]),
                     Tar.Entry(path: "d/" + String(repeating: "e", count: 120) + "/y", contents: Array(repeating: 9, count: 600))]
        let bytes = Tar.archive(files)
        #expect(bytes.count % 512 == 0)
        #expect(try Tar.entries(bytes) == files)
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let archive = folder.appendingPathComponent("a.tar.gz")
        try Data(Gzip.compress(bytes)).write(to: archive)
        let written = try Tar.extract(fileAt: archive, to: folder.appendingPathComponent("out"))
        #expect(written.count == 2)
        #expect(FileManager.default.contents(atPath: folder.appendingPathComponent("out/d/x.bin").path) == Data([1, 2, 3]))
    }

    @Test func refusesPathTraversal() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for bad in ["../evil", "/etc/evil", "a/../../evil"] {
            let entries = try Tar.entries(Tar.archive([Tar.Entry(path: "ok", contents: [1]), Tar.Entry(path: bad, contents: [0])]))
            let e = TestData.dataError { try Tar.extract(entries, to: folder) }
            #expect(e?.message.contains("unsafe path") == true, "\(bad)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("ok").path))
    }

    @Test func truncatedAndGarbage() {
        let bytes = Tar.archive([Tar.Entry(path: "x", contents: Array(repeating: 1, count: 2000))])
        #expect(TestData.dataError { try Tar.entries(Array(bytes.prefix(1200)), name: "t.tar") }?.kind == .truncated)
        #expect(TestData.dataError { try Tar.entries(Array(repeating: 7, count: 1024), name: "g.tar") }?.kind == .corrupt)
    }
}

/// CIFAR files in the binary format, made here: record r has label (r·3) % classes and
/// pixel k of record r = (r + k) % 251.
enum CIFARFiles {
    static func records(_ n: Int, labels: (Int) -> [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for r in 0..<n {
            out += labels(r)
            out += (0..<3072).map { UInt8((r + $0) % 251) }
        }
        return out
    }

    static let cifar10Names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// A cifar-10-batches-bin folder's entries: batch b holds b+1 records.
    static func cifar10Entries() -> [Tar.Entry] {
        var e = [Tar.Entry(path: "cifar-10-batches-bin", isDirectory: true)]
        for b in 1...5 {
            e.append(Tar.Entry(path: "cifar-10-batches-bin/data_batch_\(b).bin", contents: records(b) { [UInt8(($0 * 3 + b) % 10)] }))
        }
        e.append(Tar.Entry(path: "cifar-10-batches-bin/test_batch.bin", contents: records(4) { [UInt8(($0 * 3) % 10)] }))
        e.append(Tar.Entry(path: "cifar-10-batches-bin/batches.meta.txt", contents: Array((cifar10Names.joined(separator: "\n") + "\n\n").utf8)))
        return e
    }
}

@Suite("CIFAR")
struct CIFARTests {
    @Test func cifar10PixelsLabelsNames() throws {
        let root = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        try Tar.extract(CIFARFiles.cifar10Entries(), to: root)
        let test = try CIFAR10(root: root, split: .test, download: false)
        #expect(test.count == 4 && test.classes == CIFARFiles.cifar10Names && test.classToIndex["cat"] == 3)
        #expect(test.labels == [0, 3, 6, 9])
        let (x, y) = test[2]
        #expect(x.shape == [3, 32, 32] && x.dtype == .float32 && y.shape == [] && y.integers() == [6])
        let v = x.scalars()
        // Plane order R, G, B; row-major: pixel (c, i, j) is byte c·1024 + i·32 + j.
        for (c, i, j) in [(0, 0, 0), (1, 5, 7), (2, 31, 31)] {
            let k = c * 1024 + i * 32 + j
            #expect(v[k] == Float((2 + k) % 251) / 255)
        }
        let train = try CIFAR10(folder: root.appendingPathComponent("cifar-10-batches-bin"), split: .train)
        #expect(train.count == 15)
        // Batch 2's first record follows batch 1's single record.
        #expect(train.labels[1] == 2 && train.labels[0] == 1)
        let batch = train.batch([1, 14])
        #expect(batch.input.shape == [2, 3, 32, 32] && batch.target.integers() == [train.labels[1], train.labels[14]])
        #expect(batch.input.scalars()[0] == 0)  // record 0 of batch 2: (0 + 0) % 251
        // DataLoader batches it.
        let loader = DataLoader(train, batchSize: 4, shuffle: true, seed: 1, prefetch: 0)
        #expect(loader.map { $0.input.shape[0] }.reduce(0, +) == 15)
    }

    @Test func cifar100FineAndCoarse() throws {
        let root = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("cifar-100-binary")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(CIFARFiles.records(5) { [UInt8($0 % 20), UInt8($0 * 17 % 100)] }).write(to: dir.appendingPathComponent("train.bin"))
        try (0..<100).map { "fine\($0)" }.joined(separator: "\n").write(to: dir.appendingPathComponent("fine_label_names.txt"), atomically: true, encoding: .utf8)
        try (0..<20).map { "coarse\($0)" }.joined(separator: "\n").write(to: dir.appendingPathComponent("coarse_label_names.txt"), atomically: true, encoding: .utf8)
        let fine = try CIFAR100(root: root, split: .train, download: false)
        #expect(fine.labels == [0, 17, 34, 51, 68] && fine.classes.count == 100 && fine.classes[17] == "fine17")
        let coarse = try CIFAR100(root: root, split: .train, labels: .coarse, download: false)
        #expect(coarse.labels == [0, 1, 2, 3, 4] && coarse.classes[3] == "coarse3")
        #expect(coarse[1].input.scalars()[0] == Float(1) / 255)
        // No test.bin: a clear error naming the folders searched.
        let missing = TestData.dataError { try CIFAR100(root: root, split: .test, download: false) }
        #expect(missing?.kind == .notFound && missing?.message.contains("test.bin") == true)
    }

    @Test func truncatedFileNamesRecordSize() throws {
        let dir = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(CIFARFiles.records(2) { _ in [1] }.dropLast(10)).write(to: dir.appendingPathComponent("test_batch.bin"))
        let e = TestData.dataError { try CIFAR10(folder: dir, split: .test) }
        #expect(e?.kind == .truncated && e?.file.hasSuffix("test_batch.bin") == true && e?.message.contains("3073-byte") == true)
        try Data(CIFARFiles.records(1) { _ in [12] }).write(to: dir.appendingPathComponent("test_batch.bin"))
        #expect(TestData.dataError { try CIFAR10(folder: dir, split: .test) }?.kind == .corrupt)
    }

    @Test func downloadChecksMD5AndUnpacks() throws {
        let root = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let archive = Gzip.compress(Tar.archive(CIFARFiles.cifar10Entries()))
        let source = root.appendingPathComponent("cifar-10-binary.tar.gz")
        try Data(archive).write(to: source)
        let dest = root.appendingPathComponent("data")
        let bad = TestData.dataError { try CIFAR10.download(to: dest, from: source, md5: String(repeating: "0", count: 32)) }
        #expect(bad?.kind == .checksumMismatch)
        #expect(!FileManager.default.fileExists(atPath: dest.appendingPathComponent("cifar-10-batches-bin").path))
        try CIFAR10.download(to: dest, from: source, md5: MD5.hash(archive).hex)
        #expect(try CIFAR10(root: dest, split: .test, download: false).count == 4)
    }
}
