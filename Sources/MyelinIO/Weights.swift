import Foundation
import MyelinCore
import MyelinNN

/// Saves a module's state dict (parameters and persistent buffers, by their PyTorch-style
/// names) as a safetensors file, atomically. PyTorch reads it with
/// `model.load_state_dict(safetensors.torch.load_file(path))`.
public func saveWeights(_ module: Module, to url: URL, metadata: [String: String] = [:]) throws {
    // "format": "pt" is what Hugging Face writes; its loaders look for it.
    try SafeTensors.write(module.stateDict(), metadata: ["format": "pt"].merging(metadata) { _, new in new }, to: url)
}

/// Loads a safetensors state dict into a module by name. Strict mode throws the
/// `StateDictReport` (missing, unexpected and mis-shaped keys) and changes nothing;
/// lenient mode loads what matches and returns the report. Tensors are converted to
/// each parameter's dtype (a float16 or float64 file loads into float32 weights).
@discardableResult
public func loadWeights(into module: Module, from url: URL, strict: Bool = true) throws -> StateDictReport {
    let (tensors, _) = try SafeTensors.read(contentsOf: url)
    return try module.loadStateDict(tensors, strict: strict)
}

extension Module {
    /// `saveWeights(self, to: url)`.
    public func saveWeights(to url: URL, metadata: [String: String] = [:]) throws {
        try MyelinIO.saveWeights(self, to: url, metadata: metadata)
    }

    /// `loadWeights(into: self, from: url, strict: strict)`.
    @discardableResult
    public func loadWeights(from url: URL, strict: Bool = true) throws -> StateDictReport {
        try MyelinIO.loadWeights(into: self, from: url, strict: strict)
    }
}
