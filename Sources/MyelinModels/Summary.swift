import Foundation
import MyelinCore
import MyelinNN

/// A composite layer that tells the summary how data flows through its children
/// (each `t.trace(child, name:, input:)` returns the child's output shape).
public protocol SummaryTraceable: UnaryLayer {
    func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int]
}

/// One row of a summary: a layer, its output shape, its parameters and multiply-accumulates.
public struct LayerSummary: Sendable, Equatable {
    /// Dotted path as in the state dict ("layer1.0.conv1").
    public var name: String
    /// The layer's class ("Conv2D").
    public var type: String
    public var depth: Int
    public var inputShape: [Int]
    public var outputShape: [Int]
    /// Parameters of this layer and everything inside it.
    public var parameters: Int
    /// Multiply-accumulates of convolutions and linear layers (inside it, for containers);
    /// nil when unknown (a layer the summary cannot see into).
    public var macs: Int?
    /// True for layers without children (the ones the totals add up).
    public var isLeaf: Bool
}

/// Follows shapes through a model without running it: convolutions, linear layers,
/// pooling, normalisation, activations, `Sequential`, `Concatenate` and any `SummaryTraceable` are
/// computed from their settings; other layers run once on zeros to learn their shape.
public final class SummaryTracer {
    public private(set) var rows: [LayerSummary] = []
    var prefix: [String] = []

    public init() {}

    /// Records `layer` (named `name` inside the current parent) on `input`; returns its output shape.
    @discardableResult
    public func trace(_ layer: any UnaryLayer, name: String, input: [Int]) -> [Int] {
        let composite: ((SummaryTracer) -> [Int])? = {
            if let seq = layer as? Sequential {
                return { t in seq.layers.enumerated().reduce(input) { s, e in t.trace(e.element, name: String(e.offset), input: s) } }
            }
            if let cat = layer as? Concatenate {
                // Every branch sees the same input; the output joins their shapes (MACs add up).
                return { t in
                    let shapes = cat.branches.enumerated().map { t.trace($0.element, name: String($0.offset), input: input) }
                    return Concatenate.joinedShape(shapes, axis: cat.axis)
                }
            }
            if let traceable = layer as? any SummaryTraceable { return { t in traceable.traceSummary(t, input: input) } }
            return nil
        }()
        return record(layer, name: name, input: input, composite: composite)
    }

    /// Records `module` as a container whose children `children` traces (with this tracer),
    /// for blocks that take more than one input (U-Net's up-sampling block takes the skip
    /// connection too); `input` is the shape shown as its input. Returns what `children` returns.
    @discardableResult
    public func trace(_ module: Module, name: String, input: [Int], children: (SummaryTracer) -> [Int]) -> [Int] {
        withoutActuallyEscaping(children) { record(module, name: name, input: input, composite: $0) }
    }

    /// Records `module` as a leaf whose output shape and MACs the caller computes (a layer the
    /// tracer cannot see into, such as multi-head attention). Returns `output`.
    @discardableResult
    public func traceLeaf(_ module: Module, name: String, input: [Int], output: [Int], macs: Int?) -> [Int] {
        let path = (prefix + [name]).filter { !$0.isEmpty }.joined(separator: ".")
        rows.append(LayerSummary(name: path, type: String(describing: type(of: module)), depth: prefix.count, inputShape: input,
                                 outputShape: output, parameters: module.parameterCount, macs: macs, isLeaf: true))
        return output
    }

    func record(_ module: Module, name: String, input: [Int], composite: ((SummaryTracer) -> [Int])?) -> [Int] {
        let path = (prefix + [name]).filter { !$0.isEmpty }.joined(separator: ".")
        let index = rows.count
        rows.append(LayerSummary(name: path, type: String(describing: type(of: module)), depth: prefix.count,
                                 inputShape: input, outputShape: [], parameters: module.parameterCount, macs: 0, isLeaf: false))
        let output: [Int]
        if let composite {
            prefix.append(name)
            output = composite(self)
            prefix.removeLast()
            let inner = rows[(index + 1)...].filter(\.isLeaf).map(\.macs)
            rows[index].macs = inner.contains { $0 == nil } ? nil : inner.reduce(0) { $0 + ($1 ?? 0) }
        } else if let layer = module as? any UnaryLayer {
            let (shape, macs) = Self.leaf(layer, input: input)
            output = shape
            rows[index].macs = macs
            rows[index].isLeaf = true
        } else {
            requirementFailure("summary: \(type(of: module)) at \(path) takes several inputs; trace it with trace(_:name:input:children:)")
        }
        rows[index].outputShape = output
        return output
    }

    /// The output shape and MACs of a layer without children.
    static func leaf(_ layer: any UnaryLayer, input: [Int]) -> ([Int], Int?) {
        let name = String(describing: type(of: layer))
        switch layer {
        case let conv as Conv2D:
            require(input.count == 4 && input[1] == conv.inChannels,
                    "summary: \(name) with \(conv.inChannels) input channels cannot take shape \(input)")
            let (pt, pb, pl, pr): (Int, Int, Int, Int)
            switch conv.padding {
            case .valid: (pt, pb, pl, pr) = (0, 0, 0, 0)
            case let .explicit(t, b, l, r): (pt, pb, pl, pr) = (t, b, l, r)
            case .same:
                let th = conv.dilation.height * (conv.kernelSize.height - 1), tw = conv.dilation.width * (conv.kernelSize.width - 1)
                (pt, pb, pl, pr) = (th / 2, th - th / 2, tw / 2, tw - tw / 2)
            }
            let oh = (input[2] + pt + pb - conv.dilation.height * (conv.kernelSize.height - 1) - 1) / conv.stride.height + 1
            let ow = (input[3] + pl + pr - conv.dilation.width * (conv.kernelSize.width - 1) - 1) / conv.stride.width + 1
            require(oh >= 1 && ow >= 1, "summary: \(conv.layerDescription) makes an empty output from shape \(input)")
            let out = [input[0], conv.outChannels, oh, ow]
            let macs = out.reduce(1, *) * (conv.inChannels / conv.groups) * conv.kernelSize.height * conv.kernelSize.width
            return (out, macs)
        case let linear as Linear:
            require(input.last == linear.inFeatures, "summary: Linear(\(linear.inFeatures), \(linear.outFeatures)) cannot take shape \(input)")
            let rows = input.dropLast().reduce(1, *)
            return (input.dropLast() + [linear.outFeatures], rows * linear.inFeatures * linear.outFeatures)
        case let pool as MaxPool2D:
            return (poolShape(input, pool.kernelSize, pool.stride, pool.padding, pool.dilation, pool.ceilMode, name), 0)
        case let pool as AvgPool2D:
            return (poolShape(input, pool.kernelSize, pool.stride, pool.padding, 1, pool.ceilMode, name), 0)
        case let pool as AdaptiveAvgPool2D:
            require(input.count == 4, "summary: AdaptiveAvgPool2D needs [N, C, H, W], got \(input)")
            return ([input[0], input[1], pool.outputSize.height, pool.outputSize.width], 0)
        case let pool as GlobalAvgPool2D:
            require(input.count == 4, "summary: GlobalAvgPool2D needs [N, C, H, W], got \(input)")
            return (pool.keepDims ? [input[0], input[1], 1, 1] : [input[0], input[1]], 0)
        case let flat as Flatten:
            let r = Swift.max(input.count, 1)
            let s = flat.startAxis < 0 ? flat.startAxis + r : flat.startAxis, e = flat.endAxis < 0 ? flat.endAxis + r : flat.endAxis
            require(s >= 0 && e < r && s <= e, "summary: Flatten(startAxis: \(flat.startAxis), endAxis: \(flat.endAxis)) cannot take shape \(input)")
            return (Array(input[..<s]) + [input[s...e].reduce(1, *)] + Array(input[(e + 1)...]), 0)
        case let conv as ConvTranspose2D:
            require(input.count == 4 && input[1] == conv.inChannels,
                    "summary: \(conv.layerDescription) cannot take shape \(input)")
            let size = conv.outputSize(height: input[2], width: input[3])
            require(size.height >= 1 && size.width >= 1, "summary: \(conv.layerDescription) makes an empty output from shape \(input)")
            // PyTorch's (and torchinfo's, fvcore's) count: every input element meets
            // outChannels/groups · kh · kw weights.
            let macs = input.reduce(1, *) * (conv.outChannels / conv.groups) * conv.kernelSize.height * conv.kernelSize.width
            return ([input[0], conv.outChannels, size.height, size.width], macs)
        case let up as Upsample:
            require(input.count == 4, "summary: \(up.layerDescription) needs [N, C, H, W], got \(input)")
            if let size = up.size { return ([input[0], input[1], size.height, size.width], 0) }
            let s = up.scaleFactor ?? 1
            return ([input[0], input[1], Int((Double(input[2]) * s).rounded(.down)), Int((Double(input[3]) * s).rounded(.down))], 0)
        case let pad as ZeroPad2D:
            require(input.count == 4, "summary: \(pad.layerDescription) needs [N, C, H, W], got \(input)")
            return ([input[0], input[1], input[2] + pad.top + pad.bottom, input[3] + pad.left + pad.right], 0)
        case is ReLU, is ReLU6, is LeakyReLU, is ELU, is Sigmoid, is Tanh, is GELU, is Softmax, is LogSoftmax, is Dropout,
             is BatchNorm, is LayerNorm, is LocalResponseNorm:
            return (input, 0)
        default:
            // Unknown: run it once on zeros, in evaluation mode and without recording.
            let wasTraining = layer.training
            layer.eval()
            defer { layer.train(wasTraining) }
            let out = withoutGradients { layer(Tensor.zeros(input)) }
            // Without parameters it is element-wise or a reshaping: no MACs to count.
            return (out.shape, layer.parameterCount == 0 ? 0 : nil)
        }
    }

    static func poolShape(_ input: [Int], _ k: IntPair, _ s: IntPair, _ p: IntPair, _ d: IntPair, _ ceil: Bool, _ name: String) -> [Int] {
        require(input.count == 4, "summary: \(name) needs [N, C, H, W], got \(input)")
        func size(_ n: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int {
            let span = n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)
            var out = (span >= 0 ? span / s : -((-span + s - 1) / s)) + 1
            if ceil && (out - 1) * s >= n + p { out -= 1 }
            return out
        }
        let oh = size(input[2], k.height, s.height, p.height, d.height), ow = size(input[3], k.width, s.width, p.width, d.width)
        require(oh >= 1 && ow >= 1, "summary: \(name) makes an empty output from shape \(input)")
        return [input[0], input[1], oh, ow]
    }
}

/// A model's layer table and totals, as Keras' `summary()` or torchinfo:
///
///     let s = ModelSummary(ResNet(depth: 50), inputShape: [3, 224, 224])
///     print(s)          // the table
///     s.totalMACs       // 4,089,184,256
public struct ModelSummary: CustomStringConvertible, Sendable {
    public let modelType: String
    /// The traced input, batch axis first.
    public let inputShape: [Int]
    public let outputShape: [Int]
    public let layers: [LayerSummary]
    public let totalParameters: Int
    public let trainableParameters: Int
    /// Multiply-accumulates of all convolutions and linear layers for one pass of the batch.
    public let totalMACs: Int
    /// True when some layer's MACs could not be counted (the total is then a lower bound).
    public let macsIncomplete: Bool

    /// `inputShape` is one sample's shape ([C, H, W]); the batch axis is added in front.
    public init(_ model: any UnaryLayer, inputShape: [Int], batchSize: Int = 1) {
        require(!inputShape.isEmpty && inputShape.allSatisfy { $0 > 0 } && batchSize > 0,
                "summary: input shape \(inputShape) and batch size \(batchSize) must be positive")
        let tracer = SummaryTracer()
        let shape = [batchSize] + inputShape
        let out = tracer.trace(model, name: "", input: shape)
        modelType = String(describing: type(of: model))
        self.inputShape = shape
        outputShape = out
        layers = tracer.rows
        totalParameters = model.parameterCount
        trainableParameters = model.trainableParameterCount
        let leaves = tracer.rows.filter(\.isLeaf)
        totalMACs = leaves.reduce(0) { $0 + ($1.macs ?? 0) }
        macsIncomplete = leaves.contains { $0.macs == nil }
    }

    /// Total MACs in billions (what papers call GMACs, and often "GFLOPs").
    public var gigaMACs: Double { Double(totalMACs) / 1e9 }

    public var description: String { table(maxDepth: .max) }

    /// The table down to `maxDepth` levels of nesting (0: the model's direct children).
    public func table(maxDepth: Int = .max) -> String {
        let shown = layers.dropFirst().filter { $0.depth - 1 <= maxDepth }
        func fmt(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
        let rows = shown.map { l -> [String] in
            let label = String(repeating: "  ", count: Swift.max(0, l.depth - 1)) + (l.name.split(separator: ".").last.map(String.init) ?? l.name)
            return ["\(label) (\(l.type))", fmt(l.outputShape), l.parameters == 0 ? "--" : groupDigits(l.parameters),
                    l.macs.map { $0 == 0 ? "--" : groupDigits($0) } ?? "?"]
        }
        let header = ["Layer (type)", "Output shape", "Params", "MACs"]
        var widths = header.map(\.count)
        for r in rows { for i in 0..<4 { widths[i] = Swift.max(widths[i], r[i].count) } }
        func line(_ r: [String]) -> String {
            r[0].padding(toLength: widths[0], withPad: " ", startingAt: 0) + "  "
                + r[1].padding(toLength: widths[1], withPad: " ", startingAt: 0) + "  "
                + String(repeating: " ", count: widths[2] - r[2].count) + r[2] + "  "
                + String(repeating: " ", count: widths[3] - r[3].count) + r[3]
        }
        let rule = String(repeating: "=", count: widths.reduce(6, +))
        var out = [rule, line(header), rule]
        out += rows.map(line)
        out.append(rule)
        out.append("\(modelType): input \(fmt(inputShape)) → output \(fmt(outputShape))")
        out.append("Total params: \(groupDigits(totalParameters))")
        out.append("Trainable params: \(groupDigits(trainableParameters))")
        out.append("Non-trainable params: \(groupDigits(totalParameters - trainableParameters))")
        let (unit, scale) = totalMACs >= 1_000_000_000 ? ("G", 1e9) : ("M", 1e6)
        out.append("Total mult-adds (\(unit)): \(String(format: "%.2f", Double(totalMACs) / scale))" + (macsIncomplete ? " (lower bound: some layers uncounted)" : ""))
        out.append("Params size (MB): \(String(format: "%.2f", Double(totalParameters) * 4 / 1e6))")
        out.append(rule)
        return out.joined(separator: "\n")
    }
}

/// 61100840 → "61,100,840".
func groupDigits(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

// The earlier zoo models call their pooling and activations as functions; these say how
// shapes flow through them, so their summaries count every MAC.
extension LeNet5: SummaryTraceable {
    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        var s = t.trace(conv1, name: "conv1", input: input)
        s = SummaryTracer.poolShape(s, 2, 2, 0, 1, false, "pool")
        s = t.trace(conv2, name: "conv2", input: s)
        s = SummaryTracer.poolShape(s, 2, 2, 0, 1, false, "pool")
        s = t.trace(fc1, name: "fc1", input: [s[0], s.dropFirst().reduce(1, *)])
        s = t.trace(fc2, name: "fc2", input: s)
        return t.trace(fc3, name: "fc3", input: s)
    }
}

extension DigitsCNN: SummaryTraceable {
    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        var s = t.trace(conv1, name: "conv1", input: input)
        s = SummaryTracer.poolShape(s, 2, 2, 0, 1, false, "pool")
        s = t.trace(conv2, name: "conv2", input: s)
        s = SummaryTracer.poolShape(s, 2, 2, 0, 1, false, "pool")
        s = t.trace(fc1, name: "fc1", input: [s[0], s.dropFirst().reduce(1, *)])
        s = t.trace(dropout, name: "dropout", input: s)
        return t.trace(fc2, name: "fc2", input: s)
    }
}

extension LogisticRegression: SummaryTraceable {
    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        t.trace(linear, name: "linear", input: input.count > 2 ? [input[0], input.dropFirst().reduce(1, *)] : input)
    }
}

extension MLP: SummaryTraceable {
    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] { t.trace(layers, name: "layers", input: input) }
}
