import MyelinCore
import MyelinNN

/// Convolution without bias → batch norm (eps 0.001) → ReLU: GoogLeNet's unit, torchvision's
/// `BasicConv2d` ("conv.weight", "bn.running_mean", ...).
public final class BasicConv2D: Module, UnaryLayer, SummaryTraceable {
    public let conv: Conv2D
    public let bn: BatchNorm2D

    public init(_ inChannels: Int, _ outChannels: Int, _ kernelSize: IntPair, stride: IntPair = 1, padding: Padding2D = 0,
                generator: RandomGenerator = .default) {
        conv = Conv2D(inChannels, outChannels, kernelSize, stride: stride, padding: padding, bias: false, generator: generator)
        bn = BatchNorm2D(outChannels, eps: 0.001)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { bn(conv(x)).relu() }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        t.trace(bn, name: "bn", input: t.trace(conv, name: "conv", input: input))
    }
}

/// GoogLeNet's Inception module: four parallel branches joined along channels,
///
///     branch1  1×1 conv                                  → ch1x1
///     branch2  1×1 conv (ch3x3Reduce) → 3×3 conv        → ch3x3
///     branch3  1×1 conv (ch5x5Reduce) → 3×3 conv        → ch5x5
///     branch4  3×3 max pooling (stride 1) → 1×1 conv    → poolProjection
///
/// branch3 is torchvision's: a 3×3 convolution where the paper has a 5×5 (a known slip,
/// pytorch/vision#906, kept there so its trained weights still load). Myelin keeps it too,
/// so torchvision's weights load here by name; the parameter counts are torchvision's.
public final class Inception: Module, UnaryLayer, SummaryTraceable {
    public let branch1: BasicConv2D
    public let branch2: Sequential, branch3: Sequential, branch4: Sequential
    public let outChannels: Int

    public init(_ inChannels: Int, ch1x1: Int, ch3x3Reduce: Int, ch3x3: Int, ch5x5Reduce: Int, ch5x5: Int, poolProjection: Int,
                generator: RandomGenerator = .default) {
        branch1 = BasicConv2D(inChannels, ch1x1, 1, generator: generator)
        branch2 = Sequential {
            BasicConv2D(inChannels, ch3x3Reduce, 1, generator: generator)
            BasicConv2D(ch3x3Reduce, ch3x3, 3, padding: 1, generator: generator)
        }
        branch3 = Sequential {
            BasicConv2D(inChannels, ch5x5Reduce, 1, generator: generator)
            BasicConv2D(ch5x5Reduce, ch5x5, 3, padding: 1, generator: generator)  // torchvision's 3×3, not the paper's 5×5
        }
        branch4 = Sequential {
            MaxPool2D(3, stride: 1, padding: 1, ceilMode: true)
            BasicConv2D(inChannels, poolProjection, 1, generator: generator)
        }
        outChannels = ch1x1 + ch3x3 + ch5x5 + poolProjection
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.concat([branch1(x), branch2(x), branch3(x), branch4(x)], axis: 1)
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        let shapes = [("branch1", branch1 as any UnaryLayer), ("branch2", branch2), ("branch3", branch3), ("branch4", branch4)]
            .map { t.trace($0.1, name: $0.0, input: input) }
        return Concatenate.joinedShape(shapes, axis: 1)
    }
}

/// GoogLeNet's auxiliary classifier, torchvision's `InceptionAux`: 4×4 adaptive average
/// pooling → 1×1 conv to 128 channels → flatten (2048) → fc1 (1024) → ReLU → dropout → fc2.
public final class InceptionAux: Module, UnaryLayer, SummaryTraceable {
    public let avgpool: AdaptiveAvgPool2D
    public let conv: BasicConv2D
    public let fc1: Linear, fc2: Linear
    public let dropout: Dropout

    public init(_ inChannels: Int, classes: Int, dropout: Double = 0.7, generator: RandomGenerator = .default) {
        avgpool = AdaptiveAvgPool2D(4)
        conv = BasicConv2D(inChannels, 128, 1, generator: generator)
        fc1 = Linear(2048, 1024, generator: generator)
        fc2 = Linear(1024, classes, generator: generator)
        self.dropout = Dropout(dropout, generator: generator)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let f = conv(avgpool(x)).flattened(startAxis: 1)
        return fc2(dropout(fc1(f).relu()))
    }

    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        var s = t.trace(avgpool, name: "avgpool", input: input)
        s = t.trace(conv, name: "conv", input: s)
        s = t.trace(fc1, name: "fc1", input: [s[0], s.dropFirst().reduce(1, *)])
        s = t.trace(dropout, name: "dropout", input: s)
        return t.trace(fc2, name: "fc2", input: s)
    }
}

/// GoogLeNet (Inception v1; Szegedy et al., 2014) with torchvision's layout and names
/// ("conv1.conv.weight", "inception3a.branch2.1.bn.running_var", "aux1.fc1.weight", "fc"),
/// so a torchvision state dict saved as safetensors loads by name:
///
///     GoogLeNet()                    13,004,888 parameters (6,624,904 without aux1/aux2)
///     GoogLeNet(auxLogits: false)     6,624,904
///     1,498,376,192 MACs at 224×224 (inference; the auxiliary classifiers add 8,372,224 in training)
///
/// Differences from the paper, all torchvision's: batch norm after every convolution,
/// a 3×3 convolution in each module's third branch where the paper has a 5×5 (see
/// `Inception`), adaptive 4×4 pooling in the auxiliary classifiers, dropout 0.2 before `fc`.
///
/// As in torchvision, the auxiliary classifiers `aux1` (after inception4a) and `aux2`
/// (after inception4d) exist when `auxLogits` is true and run only in training mode.
/// Calling the model returns the main logits only, in both modes (torchvision returns a
/// tuple in training mode); `forwardWithAuxiliary(_:)` returns all three and
/// `GoogLeNet.loss(_:labels:)` combines them as the paper trains. `myelin train` and
/// `Trainer` call the model, so they train the main classifier alone: aux1 and aux2 then
/// get no gradient, as with `auxLogits: false`.
///
/// `transformInput: true` (what torchvision's pretrained weights were built with) turns
/// ImageNet-normalised input (mean 0.485/0.456/0.406, std 0.229/0.224/0.225) into the [−1, 1]
/// scale the original weights expect; torchvision's constructor default is false, as here.
///
/// `includeTop: false` is a feature extractor: no auxiliary classifiers, no pooling, no `fc`;
/// it returns inception5b's [N, 1024, ⌈H/32⌉, ⌈W/32⌉]. Images must be at least 15×15.
/// Weights start as torchvision's: convolution and linear weights N(0, 0.01²), batch norm 1 and 0.
public final class GoogLeNet: Module, UnaryLayer, SummaryTraceable {
    public let conv1: BasicConv2D
    public let maxpool1: MaxPool2D
    public let conv2: BasicConv2D, conv3: BasicConv2D
    public let maxpool2: MaxPool2D
    public let inception3a: Inception, inception3b: Inception
    public let maxpool3: MaxPool2D
    public let inception4a: Inception, inception4b: Inception, inception4c: Inception, inception4d: Inception, inception4e: Inception
    public let maxpool4: MaxPool2D
    public let inception5a: Inception, inception5b: Inception
    public let aux1: InceptionAux?, aux2: InceptionAux?
    public let avgpool: AdaptiveAvgPool2D?
    public let dropout: Dropout?
    public let fc: Linear?
    public let transformInput: Bool
    public let classes: Int

    /// - Parameters:
    ///   - auxLogits: build the two auxiliary classifiers (torchvision's `aux_logits`, default true).
    ///   - transformInput: rescale ImageNet-normalised input as torchvision's `transform_input` (3 channels only).
    ///   - dropout: before `fc` (0.2); `auxDropout`: inside the auxiliary classifiers (0.7).
    public init(classes: Int = 1000, auxLogits: Bool = true, transformInput: Bool = false, includeTop: Bool = true,
                inputChannels: Int = 3, dropout: Double = 0.2, auxDropout: Double = 0.7, generator: RandomGenerator = .default) {
        require(classes > 0 && inputChannels > 0, "GoogLeNet: classes and inputChannels must be positive, got \(classes) and \(inputChannels)")
        require(!transformInput || inputChannels == 3,
                "GoogLeNet: transformInput rescales the three ImageNet channels, but inputChannels is \(inputChannels)")
        let g = generator
        conv1 = BasicConv2D(inputChannels, 64, 7, stride: 2, padding: 3, generator: g)
        maxpool1 = MaxPool2D(3, stride: 2, ceilMode: true)
        conv2 = BasicConv2D(64, 64, 1, generator: g)
        conv3 = BasicConv2D(64, 192, 3, padding: 1, generator: g)
        maxpool2 = MaxPool2D(3, stride: 2, ceilMode: true)
        func inception(_ c: Int, _ a: Int, _ b: Int, _ d: Int, _ e: Int, _ f: Int, _ p: Int) -> Inception {
            Inception(c, ch1x1: a, ch3x3Reduce: b, ch3x3: d, ch5x5Reduce: e, ch5x5: f, poolProjection: p, generator: g)
        }
        inception3a = inception(192, 64, 96, 128, 16, 32, 32)
        inception3b = inception(256, 128, 128, 192, 32, 96, 64)
        maxpool3 = MaxPool2D(3, stride: 2, ceilMode: true)
        inception4a = inception(480, 192, 96, 208, 16, 48, 64)
        inception4b = inception(512, 160, 112, 224, 24, 64, 64)
        inception4c = inception(512, 128, 128, 256, 24, 64, 64)
        inception4d = inception(512, 112, 144, 288, 32, 64, 64)
        inception4e = inception(528, 256, 160, 320, 32, 128, 128)
        maxpool4 = MaxPool2D(2, stride: 2, ceilMode: true)
        inception5a = inception(832, 256, 160, 320, 32, 128, 128)
        inception5b = inception(832, 384, 192, 384, 48, 128, 128)
        let withAux = auxLogits && includeTop
        aux1 = withAux ? InceptionAux(512, classes: classes, dropout: auxDropout, generator: g) : nil
        aux2 = withAux ? InceptionAux(528, classes: classes, dropout: auxDropout, generator: g) : nil
        avgpool = includeTop ? AdaptiveAvgPool2D(1) : nil
        self.dropout = includeTop ? Dropout(dropout, generator: g) : nil
        fc = includeTop ? Linear(1024, classes, generator: g) : nil
        self.transformInput = transformInput
        self.classes = classes
        super.init()
        // torchvision: trunc_normal_(std 0.01, a −2, b 2) on every convolution and linear
        // weight; the bounds are 200 standard deviations away, so a plain normal is the same law.
        for (_, m) in namedModules() {
            if let c = m as? Conv2D { Init.normal(c.$weight, std: 0.01, generator: g) }
            if let l = m as? Linear { Init.normal(l.$weight, std: 0.01, generator: g) }
        }
    }

    /// The main logits (or inception5b's features without the top), in either mode.
    public func callAsFunction(_ input: Tensor) -> Tensor { forward(input, auxiliary: false).logits }

    /// The main logits with the auxiliary classifiers' logits, which are present only in
    /// training mode and when the model has them (torchvision's `GoogLeNetOutputs`, whose
    /// order is (logits, aux_logits2, aux_logits1); here they are named).
    public func forwardWithAuxiliary(_ input: Tensor) -> (logits: Tensor, aux1: Tensor?, aux2: Tensor?) {
        forward(input, auxiliary: training)
    }

    /// The paper's training loss: cross-entropy of the main logits plus `auxiliaryWeight`
    /// (0.3) times the cross-entropy of each auxiliary classifier's logits that is present
    /// (none in evaluation mode or with `auxLogits: false`, leaving the main loss).
    public static func loss(_ outputs: (logits: Tensor, aux1: Tensor?, aux2: Tensor?), labels: Tensor,
                            auxiliaryWeight: Double = 0.3) -> Tensor {
        var total = crossEntropy(outputs.logits, labels)
        for aux in [outputs.aux1, outputs.aux2].compactMap({ $0 }) {
            total = total + crossEntropy(aux, labels) * auxiliaryWeight
        }
        return total
    }

    /// ImageNet-normalised input → the [−1, 1] scale of the original weights, channel by channel:
    /// x·(std/0.5) + (mean − 0.5)/0.5, as torchvision's `_transform_input`.
    func transformed(_ x: Tensor) -> Tensor {
        guard transformInput else { return x }
        require(x.rank == 4 && x.shape[1] == 3, "GoogLeNet(transformInput: true): input must be [N, 3, H, W], got shape \(x.shape)")
        let scale = Tensor([0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5], shape: [1, 3, 1, 1], dtype: x.dtype)
        let shift = Tensor([(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5], shape: [1, 3, 1, 1], dtype: x.dtype)
        return x * scale + shift
    }

    func forward(_ input: Tensor, auxiliary: Bool) -> (logits: Tensor, aux1: Tensor?, aux2: Tensor?) {
        // Children run through callWithHooks, so forward hooks can observe each of them.
        var x = transformed(input)
        for layer in [conv1, maxpool1, conv2, conv3, maxpool2, inception3a, inception3b, maxpool3, inception4a] as [any UnaryLayer] {
            x = layer.callWithHooks(x)
        }
        let a1 = auxiliary ? aux1.map { $0.callWithHooks(x) } : nil
        for layer in [inception4b, inception4c, inception4d] as [any UnaryLayer] { x = layer.callWithHooks(x) }
        let a2 = auxiliary ? aux2.map { $0.callWithHooks(x) } : nil
        for layer in [inception4e, maxpool4, inception5a, inception5b] as [any UnaryLayer] { x = layer.callWithHooks(x) }
        guard let avgpool, let dropout, let fc else { return (x, nil, nil) }
        return (fc.callWithHooks(dropout.callWithHooks(avgpool.callWithHooks(x).flattened(startAxis: 1))), a1, a2)
    }

    /// Traces the path the forward pass takes in the current mode: the auxiliary
    /// classifiers (and their MACs) appear in training mode only.
    public func traceSummary(_ t: SummaryTracer, input: [Int]) -> [Int] {
        var s = t.traceChain([("conv1", conv1), ("maxpool1", maxpool1), ("conv2", conv2), ("conv3", conv3), ("maxpool2", maxpool2),
                              ("inception3a", inception3a), ("inception3b", inception3b), ("maxpool3", maxpool3),
                              ("inception4a", inception4a)], input: input)
        if training, let aux1 { t.trace(aux1, name: "aux1", input: s) }
        s = t.traceChain([("inception4b", inception4b), ("inception4c", inception4c), ("inception4d", inception4d)], input: s)
        if training, let aux2 { t.trace(aux2, name: "aux2", input: s) }
        s = t.traceChain([("inception4e", inception4e), ("maxpool4", maxpool4), ("inception5a", inception5a), ("inception5b", inception5b)],
                         input: s)
        guard let avgpool, let dropout, let fc else { return s }
        s = t.trace(avgpool, name: "avgpool", input: s)
        s = t.trace(dropout, name: "dropout", input: [s[0], s.dropFirst().reduce(1, *)])
        return t.trace(fc, name: "fc", input: s)
    }
}

extension VisionModels {
    static let googLeNetEntries: [VisionModelEntry] = [
        VisionModelEntry("googlenet", "GoogLeNet (Inception v1), torchvision's layout with the auxiliary classifiers", minimumSize: 15) { o, g in
            GoogLeNet(classes: o.classes, includeTop: o.includeTop, inputChannels: o.inputChannels, generator: g)
        },
    ]
}
