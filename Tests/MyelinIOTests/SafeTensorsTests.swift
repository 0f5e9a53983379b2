import Foundation
import Testing
import Myelin

/// Temporary files for one test, removed at the end.
final class Scratch {
    let dir: URL
    init() {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("myelin-io-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: dir) }
    func url(_ name: String) -> URL { dir.appendingPathComponent(name) }
}

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Elements compared bit for bit after widening (so -0.0, NaN and infinities count).
func sameBits(_ a: Tensor, _ b: Tensor) -> Bool {
    guard a.shape == b.shape else { return false }
    if a.dtype.isFloatingPoint || b.dtype.isFloatingPoint {
        return zip(a.scalars(as: Double.self), b.scalars(as: Double.self)).allSatisfy { x, y in
            x.isNaN ? y.isNaN : x.bitPattern == y.bitPattern
        }
    }
    return a.integers() == b.integers()
}

/// A file from a header string and data bytes (the header is not padded).
func rawFile(_ header: String, data: [UInt8] = []) -> Data {
    let h = Array(header.utf8)
    var out = Data()
    withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: h)
    out.append(contentsOf: data)
    return out
}

func problem(_ body: () throws -> Void) -> SafeTensors.Problem? {
    do { try body() } catch let e as SafeTensors.Error { return e.problem } catch { return nil }
    return nil
}

@Suite struct SafeTensorsTests {
    static let sample: [String: Tensor] = [
        "f32": Tensor([1.5, -2, 0, .infinity, -.infinity, .leastNonzeroMagnitude] as [Float], shape: [2, 3]),
        "f64": Tensor([Double.pi, -0.0, .nan, .leastNonzeroMagnitude], shape: [4], dtype: .float64),
        "i32": Tensor([Int32.min, Int32.max, 0, -1], shape: [2, 1, 2]),
        "i64": Tensor([Int64.min, Int64.max, 7], shape: [3]),
        "bool": Tensor([true, false, true], shape: [3]),
        "scalar": Tensor(scalar: 3.25),
        "empty": Tensor.zeros([0, 4]),
        "layer.0.weight": Tensor([1, 2, 3, 4] as [Float], shape: [2, 2]),
    ]

    @Test func roundTripEveryDType() throws {
        let scratch = Scratch()
        let meta = ["epoch": "3", "note": "quote \" backslash \\ newline \n tab \t ✓"]
        let url = scratch.url("all.safetensors")
        try SafeTensors.write(Self.sample, metadata: meta, to: url)
        for (tensors, metadata) in [try SafeTensors.read(contentsOf: url), try SafeTensors.decode(SafeTensors.encode(Self.sample, metadata: meta))] {
            #expect(metadata == meta)
            #expect(Set(tensors.keys) == Set(Self.sample.keys))
            #expect(Set(tensors.values.map(\.dtype)) == Set(DType.allCases))
            for (name, t) in Self.sample {
                let r = try #require(tensors[name])
                #expect(r.dtype == t.dtype, "\(name)")
                #expect(sameBits(r, t), "\(name)")
            }
        }
        // The streamed file and the in-memory encoding are the same bytes.
        #expect(try Data(contentsOf: url) == SafeTensors.encode(Self.sample, metadata: meta))
        #expect(AtomicFile.leftoverTemporaries(of: url).isEmpty)
    }

    @Test func headerLayoutFollowsTheReference() throws {
        let data = try SafeTensors.encode(["b": Tensor([1, 2] as [Float]), "a": Tensor([true])], metadata: ["k": "v"])
        let n = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        #expect(n % 8 == 0)  // data start 8-byte aligned
        let header = String(decoding: data[8..<(8 + n)], as: UTF8.self)
        let json = #"{"__metadata__":{"k":"v"},"a":{"dtype":"BOOL","shape":[1],"data_offsets":[8,9]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(header == json + String(repeating: " ", count: n - json.utf8.count))
        // Larger elements first: the F32 data come before the BOOL byte.
        #expect(Array(data[(8 + n)...]) == [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 1])
    }

    @Test func readsTheFileWrittenByPythonSafetensors() throws {
        let url = fixtures.appendingPathComponent("io.safetensors")
        let (tensors, metadata) = try SafeTensors.read(contentsOf: url)
        #expect(metadata == ["producer": "scripts/fixtures_io.py", "note": "ünïcode ✓ \"quoted\""])
        let expectedDType: [String: DType] = [
            "f32": .float32, "f64": .float64, "f16": .float32, "bf16": .float32, "f8_e4m3": .float32, "f8_e5m2": .float32,
            "i64": .int64, "i32": .int32, "i16": .int32, "i8": .int32, "u8": .int32, "u16": .int32, "u32": .int64, "u64": .int64,
        ]
        for (name, dtype) in expectedDType {
            let t = try #require(tensors[name], "\(name)")
            let e = try #require(tensors[name + ".expected"])
            #expect(t.dtype == dtype, "\(name)")
            #expect(sameBits(t, e), "\(name): \(t) vs \(e)")
        }
        #expect(tensors["bool"]?.bools() == [true, false, true, false, false, true])
        #expect(tensors["bool"]?.shape == [2, 3])
        #expect(tensors["scalar"]?.shape == [] && tensors["scalar"]?.item() == 2.75)
        #expect(tensors["empty"]?.shape == [0, 3])
        let info = try SafeTensors.inspect(contentsOf: url)
        #expect(info.tensors.count == tensors.count)
        #expect(info.tensors.first { $0.name == "bf16" }.map { ($0.dtype, $0.shape, $0.readAs) } ?? ("", [], .bool) == ("BF16", [12], .float32))
    }

    @Test func halfPrecisionConversionIsExact() throws {
        // Every finite F16 bit pattern, against Swift's own Float16 conversion where available.
        var bytes: [UInt8] = []
        for h in 0...UInt16.max { bytes += [UInt8(h & 0xFF), UInt8(h >> 8)] }
        let file = rawFile(#"{"h":{"dtype":"F16","shape":[65536],"data_offsets":[0,131072]}}"#, data: bytes)
        let t = try #require(try SafeTensors.decode(file).tensors["h"])
        let v = t.scalars(as: Float.self)
        #expect(v[0x3C00] == 1 && v[0xC000] == -2 && v[0x7BFF] == 65504 && v[0x0001] == 0x1p-24 && v[0x03FF] == 0x1.ff8p-15)
        #expect(v[0x7C00] == .infinity && v[0xFC00] == -.infinity && v[0x7E00].isNaN && v[0x8000].sign == .minus)
        #if arch(x86_64) || arch(arm64)
        #if !os(macOS)
        for h in 0...UInt16.max where !v[Int(h)].isNaN { #expect(v[Int(h)] == Float(Float16(bitPattern: h)), "\(h)") }
        #endif
        #endif
    }

    // MARK: Corrupt files: each defect has its own error, naming the tensor and the numbers.

    @Test func tooSmall() {
        #expect(problem { _ = try SafeTensors.decode(Data([1, 2, 3])) } == .fileTooSmall(bytes: 3))
    }

    @Test func headerLengthTooLarge() {
        var d = Data()
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array("{}".utf8))
        #expect(problem { _ = try SafeTensors.decode(d) } == .headerTooLarge(length: 1 << 40, limit: 100_000_000))
    }

    @Test func headerLengthBeyondTheFile() {
        var d = Data()
        withUnsafeBytes(of: UInt64(1000).littleEndian) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array("{}".utf8))
        #expect(problem { _ = try SafeTensors.decode(d) } == .headerBeyondFile(length: 1000, available: 2))
    }

    @Test func badJSON() {
        guard case .headerNotJSON = problem({ _ = try SafeTensors.decode(rawFile(#"{"a": {"dtype": "F32",,}"#)) }) else {
            Issue.record("expected headerNotJSON"); return
        }
        #expect(problem { _ = try SafeTensors.decode(rawFile("[1, 2]")) } == .headerNotJSON(reason: "it does not start with '{'"))
        #expect(problem { _ = try SafeTensors.decode(rawFile("")) } == .headerNotJSON(reason: "it is empty"))
    }

    @Test func malformedEntries() throws {
        let name = "w"
        for (header, expected) in [
            (#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, "has no 'dtype' field (every tensor needs dtype, shape and data_offsets)"),
            (#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, "'shape[0]' must be an integer (found 1.5)"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,true]}}"#, "'data_offsets[1]' must be an integer (found true)"),
            (#"{"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}"#, "'shape[0]' must be an integer (found 1e+30)"),
            (#"{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#, "'dtype' must be a string"),
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "shape [-1] has a negative extent"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, "data_offsets must be [begin, end], not [0]"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, "data_offsets must be [begin, end], not [0, 4, 8]"),
        ] {
            let p = problem { _ = try SafeTensors.decode(rawFile(header, data: [0, 0, 0, 0])) }
            guard case let .badEntry(n, reason)? = p else { Issue.record("\(header): \(String(describing: p))"); continue }
            #expect(n == name)
            #expect(reason == expected, "\(header)")
        }
        guard case .badMetadata? = problem({ _ = try SafeTensors.decode(rawFile(#"{"__metadata__":{"a":1}}"#)) }) else {
            Issue.record("expected badMetadata"); return
        }
    }

    @Test func overlappingOffsets() {
        let h = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
        #expect(problem { _ = try SafeTensors.decode(rawFile(h, data: .init(repeating: 0, count: 24))) }
            == .overlap(name: "b", begin: 8, previous: "a", previousEnd: 16))
    }

    @Test func gapBetweenTensors() {
        let h = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        #expect(problem { _ = try SafeTensors.decode(rawFile(h, data: .init(repeating: 0, count: 12))) }
            == .gap(name: "b", begin: 8, previous: "a", previousEnd: 4))
    }

    @Test func shapeDisagreesWithTheByteSpan() {
        let h = #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#
        let p = problem { _ = try SafeTensors.decode(rawFile(h, data: .init(repeating: 0, count: 20))) }
        #expect(p == .sizeMismatch(name: "w", dtype: "F32", shape: [2, 3], expectedBytes: 24, spanBytes: 20))
        #expect(p?.description == "tensor 'w' of dtype F32 and shape [2, 3] needs 24 bytes, but its data_offsets span 20 bytes")
    }

    @Test func offsetsEndBeforeTheyStart() {
        let h = #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#
        #expect(problem { _ = try SafeTensors.decode(rawFile(h, data: .init(repeating: 0, count: 8))) } == .badOffsets(name: "w", begin: 8, end: 4))
    }

    @Test func unknownDType() {
        let h = #"{"z":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#
        #expect(problem { _ = try SafeTensors.decode(rawFile(h, data: .init(repeating: 0, count: 8))) } == .unsupportedDType(name: "z", dtype: "C64"))
    }

    @Test func truncatedData() throws {
        let scratch = Scratch()
        let url = scratch.url("cut.safetensors")
        let full = try SafeTensors.encode(["a": Tensor.zeros([10]), "b": Tensor.zeros([3, 3], dtype: .float64)])
        try full.prefix(full.count - 10).write(to: url)
        do {
            _ = try SafeTensors.read(contentsOf: url)
            Issue.record("a truncated file was read")
        } catch let e as SafeTensors.Error {
            // "b" (float64) comes first, then "a" ends at 72 + 40 = 112, but 10 bytes are missing.
            #expect(e.problem == .truncated(name: "a", end: 112, dataBytes: 102))
            #expect(e.path == url.path)
            #expect(e.description.contains("'a'") && e.description.contains("112") && e.description.contains("truncated"))
        }
    }

    @Test func bytesBeyondTheLastTensor() {
        let h = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(problem { _ = try SafeTensors.decode(rawFile(h, data: .init(repeating: 0, count: 6))) } == .trailingBytes(covered: 4, dataBytes: 6))
    }

    @Test func invalidBoolByte() {
        let h = #"{"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}"#
        #expect(problem { _ = try SafeTensors.decode(rawFile(h, data: [1, 0, 7])) }
            == .invalidValue(name: "m", reason: "byte 7 at element 2 is not a bool (0 or 1)"))
    }

    @Test func unsignedValueBeyondInt64() {
        let h = #"{"u":{"dtype":"U64","shape":[2],"data_offsets":[0,16]}}"#
        let data: [UInt8] = [5, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8)
        #expect(problem { _ = try SafeTensors.decode(rawFile(h, data: data)) }
            == .invalidValue(name: "u", reason: "U64 element 1 is 18446744073709551615, above Int64.max, so it cannot be read as int64"))
    }

    @Test func missingFileAndReservedName() throws {
        guard case .unreadable? = problem({ _ = try SafeTensors.read(contentsOf: URL(fileURLWithPath: "/nonexistent/x.safetensors")) }) else {
            Issue.record("expected unreadable"); return
        }
        guard case .badEntry(name: "__metadata__", _)? = problem({ _ = try SafeTensors.encode(["__metadata__": Tensor.zeros([1])]) }) else {
            Issue.record("expected badEntry for the reserved name"); return
        }
    }

    @Test func largeFileStreamsAndMaps() throws {
        let scratch = Scratch()
        let url = scratch.url("big.safetensors")
        let n = 3_000_000
        let big = Tensor((0..<n).map { Float($0) }, shape: [n / 1000, 1000])
        try SafeTensors.write(["big": big, "tail": Tensor([Int64(1)])], to: url)
        let back = try #require(try SafeTensors.read(contentsOf: url).tensors["big"])
        #expect(back.shape == [3000, 1000])
        let v = back.scalars(as: Float.self)
        #expect(v[0] == 0 && v[n - 1] == Float(n - 1) && v[1_234_567] == 1_234_567)
    }

    /// Myelin-written files read by the real Python library. Runs only where a Python with
    /// torch and safetensors exists (MYELIN_PYTHON, or /work/venv-torch); CI skips it.
    @Test(.enabled(if: pythonWithTorch != nil)) func pythonReadsMyelinFiles() throws {
        let scratch = Scratch()
        let url = scratch.url("from-swift.safetensors")
        try SafeTensors.write(Self.sample, metadata: ["source": "myelin"], to: url)
        let script = """
        import sys, math, torch
        from safetensors import safe_open
        from safetensors.torch import load_file
        t = load_file(sys.argv[1])
        with safe_open(sys.argv[1], "pt") as f: assert f.metadata() == {"source": "myelin"}, f.metadata()
        assert t["f32"].dtype == torch.float32 and t["f32"].shape == (2, 3) and t["f32"][0, 0] == 1.5 and t["f32"][1, 1] == -math.inf
        assert t["f64"].dtype == torch.float64 and math.isnan(t["f64"][2]) and t["f64"][0] == math.pi
        assert t["i32"].tolist() == [[[-2**31, 2**31 - 1]], [[0, -1]]]
        assert t["i64"].tolist() == [-2**63, 2**63 - 1, 7]
        assert t["bool"].tolist() == [True, False, True]
        assert t["scalar"].shape == () and t["scalar"].item() == 3.25
        assert t["empty"].shape == (0, 4)
        assert t["layer.0.weight"].tolist() == [[1, 2], [3, 4]]
        print("python-ok")
        """
        #expect(try runPython(script, arguments: [url.path]).contains("python-ok"))
    }
}

/// A Python interpreter with torch and safetensors, if this machine has one.
let pythonWithTorch: String? = {
    let candidates = [ProcessInfo.processInfo.environment["MYELIN_PYTHON"], "/work/venv-torch/bin/python"].compactMap { $0 }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

func runPython(_ script: String, arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: pythonWithTorch ?? "python3")
    p.arguments = ["-c", script] + arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    if p.terminationStatus != 0 { Issue.record("python failed: \(text)") }
    return text
}
