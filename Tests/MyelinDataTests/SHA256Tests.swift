import Foundation
import Testing
import Myelin

@Suite struct SHA256Tests {
    // FIPS 180-2 appendix B and the NIST example vectors.
    @Test func fipsVectors() {
        #expect(SHA256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hex
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hash(Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8)).hex
                == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    @Test func millionAs() {
        #expect(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hex
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Padding edge cases: lengths around the 55/56/64-byte boundaries, checked
    /// against values from Python's hashlib.
    @Test func boundaryLengths() {
        let expected: [Int: String] = [
            55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
            56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
            63: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
            64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
            65: "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0",
        ]
        for (n, hex) in expected {
            #expect(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: n)).hex == hex, "length \(n)")
        }
    }

    /// Feeding the bytes in odd pieces gives the same digest as one piece.
    @Test func streamingMatchesOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var h = SHA256()
        var i = 0
        for step in [1, 3, 60, 64, 65, 7, 200, 0, 600] {
            let end = min(bytes.count, i + step)
            h.update(bytes[i..<end])
            i = end
        }
        h.update(bytes[i...])
        #expect(h.finalize() == SHA256.hash(bytes))
    }

    /// The real MNIST files hash to the sums in shared/data/README.md.
    @Test(.enabled(if: TestData.hasMNIST, "needs ../shared/data/mnist"))
    func mnistFilesMatchPublishedSums() throws {
        for name in ["t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
            let digest = try SHA256.hash(fileAt: TestData.mnistFolder.appendingPathComponent(name))
            #expect(digest.hex == MNIST.sha256[name], "\(name)")
        }
    }

    @Test func readmeSumsAreTheOnesMNISTChecks() throws {
        let readme = TestData.shared.appendingPathComponent("README.md")
        guard let text = try? String(contentsOf: readme, encoding: .utf8) else { return }
        for (name, sum) in MNIST.sha256 {
            #expect(text.contains("\(sum)  mnist/\(name)"), "\(name)")
        }
    }
}
