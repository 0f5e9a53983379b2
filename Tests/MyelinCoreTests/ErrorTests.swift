import Testing
import Myelin

@Suite struct ErrorTests {
    @Test func raggedRowsThrowWithThePath() {
        #expect(throws: TensorError.raggedArray(path: "[1]", expected: 2, found: 1)) {
            try Tensor([[1, 2], [3]] as [[Double]])
        }
        #expect(throws: TensorError.raggedArray(path: "[0][1]", expected: 3, found: 2)) {
            try Tensor(nested: [[[1, 2, 3], [4, 5]]] as [Any])
        }
        let message = TensorError.raggedArray(path: "[1]", expected: 2, found: 1).description
        #expect(message.contains("element [1] has 1 entries") && message.contains("2"))
    }

    @Test func wrongDepthThrows() {
        #expect(throws: TensorError.mixedDepth(path: "[1]", expected: "an array of 2", found: "a number")) {
            try Tensor(nested: [[1.0, 2.0], 3.0] as [Any])
        }
        #expect(throws: TensorError.mixedDepth(path: "[1]", expected: "a number", found: "an array of 1")) {
            try Tensor(nested: [1.0, [2.0]] as [Any])
        }
        #expect(throws: TensorError.mixedDepth(path: "[1][0]", expected: "an array of 0", found: "a number")) {
            try Tensor(nested: [[[Double]()], [1.0]] as [Any])
        }
        let message = TensorError.mixedDepth(path: "[1]", expected: "an array of 2", found: "a number").description
        #expect(message == "nested array of mixed depth: element [1] is a number where an array of 2 was expected; every row must be the same depth")
    }

    @Test func nonNumberLeavesThrow() {
        #expect(throws: TensorError.unsupportedElement(path: "[0][1]", type: "String")) {
            try Tensor(nested: [[1.0, "x"]] as [Any])
        }
        #expect(throws: TensorError.unsupportedElement(path: "", type: "String")) {
            try Tensor(nested: "hello")
        }
        #expect(TensorError.unsupportedElement(path: "", type: "String").description == "the top-level value is a String, not a number")
        #expect(throws: TensorError.mixedDepth(path: "[1]", expected: "an array of 1", found: "a String")) {
            try Tensor(nested: [[1.0], "x"] as [Any])
        }
    }

    @Test func nonFiniteOrOutOfRangeValuesForIntegerDtypesThrow() throws {
        #expect(throws: TensorError.self) { try Tensor(nested: [1.0, .nan], dtype: .int64) }
        #expect(throws: TensorError.self) { try Tensor(nested: [Double.infinity], dtype: .int32) }
        #expect(throws: TensorError.self) { try Tensor(nested: [3_000_000_000], dtype: .int32) }
        // Floats going to integers truncate toward zero, as torch.tensor(..., dtype=torch.int64).
        #expect(try Tensor(nested: [[1.7, -1.7]], dtype: .int64).integers() == [1, -1])
    }

    @Test func nestedIntegersAreExact() throws {
        let big = 9_007_199_254_740_993  // 2^53 + 1: not representable in Double
        #expect(try Tensor([[big, -big]]).integers() == [big, -big])
        #expect(try Tensor(nested: [Int64.max], dtype: .int64).integers() == [Int.max])
        #expect(try Tensor(nested: [[true, false]], dtype: .bool).bools() == [true, false])
    }

    @Test func nestedEdgeShapes() throws {
        let s = try Tensor(nested: 2.5)
        #expect(s.shape == [] && s.item() == 2.5)
        #expect(try Tensor(nested: [Double]()).shape == [0])
        #expect(try Tensor([[], []] as [[Double]]).shape == [2, 0])
        #expect(try Tensor(nested: [[Float(1), 2], [3, 4]] as [[Float]]).scalars() == [1, 2, 3, 4])
        #expect(try Tensor(nested: [[UInt8(1)], [UInt8(255)]]).scalars() == [1, 255])
    }

    @Test func byteBuffersAreValidated() throws {
        #expect(throws: TensorError.byteCountMismatch(expected: 8, found: 7, shape: [2], dtype: .float32)) {
            try Tensor(bytes: [UInt8](repeating: 0, count: 7), shape: [2], dtype: .float32)
        }
        #expect(throws: TensorError.invalidShape([-1, 2])) {
            try Tensor(bytes: [UInt8](), shape: [-1, 2], dtype: .float32)
        }
        #expect(throws: TensorError.invalidShape([Int.max, 2])) {
            try Tensor(bytes: [UInt8](), shape: [Int.max, 2], dtype: .float32)
        }
        #expect(throws: TensorError.invalidValue("byte 2 at index 2 is not a bool (0 or 1)")) {
            try Tensor(bytes: [0, 1, 2], shape: [3], dtype: .bool)
        }
        let ok = try Tensor(bytes: [0, 0, 0xC0, 0x3F], shape: [], dtype: .float32)  // 1.5 little-endian
        #expect(ok.item() == 1.5)
        #expect(try Tensor(bytes: [UInt8](), shape: [0, 3], dtype: .int64).shape == [0, 3])
        #expect(try Tensor(bytes: [1, 0], shape: [2], dtype: .bool).bools() == [true, false])
    }

    @Test func flatArraysValidatedOrEmpty() throws {
        #expect(throws: TensorError.countMismatch(expected: 4, found: 3, shape: [2, 2])) {
            try Tensor(validating: [Float(1), 2, 3], shape: [2, 2])
        }
        #expect(throws: TensorError.invalidShape([2, -2])) {
            try Tensor(validating: [Float(1), 2, 3, 4], shape: [2, -2])
        }
        // Empty arrays have no base address; building from them must not crash.
        #expect(Tensor([Float]()).shape == [0])
        #expect(Tensor([Double](), shape: [0, 3], dtype: .int64).shape == [0, 3])
        #expect(try Tensor(validating: [Int64](), shape: [2, 0]).shape == [2, 0])
    }

    @Test func castsToIntegersSaturateInsteadOfTrapping() {
        let t = Tensor([.nan, 1e30, -1e30, 2.7, -2.7])
        #expect(t.to(.int64).integers() == [0, Int.max, Int.min, 2, -2])
        #expect(t.to(.int32).integers() == [0, Int(Int32.max), Int(Int32.min), 2, -2])
    }

    // Misuse of ops stops the process with a message naming the op and the shapes
    // or axis. -O builds drop precondition messages, so the text is checked in debug.

    @Test func addShapeMismatchNamesOpAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("add") && err.contains("[2, 3]") && err.contains("[4]"), "stderr: \(err)")
    }

    @Test func badAxisNamesTheAxis() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).sum(axis: 2)
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("axis 2") && err.contains("rank 2"), "stderr: \(err)")
    }

    @Test func matmulInnerMismatchNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("matmul") && err.contains("[2, 3]") && err.contains("[4, 5]"), "stderr: \(err)")
    }

    @Test func flatArrayThatDoesNotFillShapeFails() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor([Float(1), 2, 3], shape: [2, 2])
        }
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains("3 values cannot fill shape [2, 2]"), "stderr: \(err)")
    }
}
