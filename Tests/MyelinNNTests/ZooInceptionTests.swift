import Foundation
import Myelin
import Testing

/// The reference values of scripts/fixtures_zoo.py: torchvision's state-dict names and shapes
/// of the full models, and parity cases whose weights are a formula both sides compute.
enum ZooFixtures {
    struct Case: Sendable {
        let name: String
        /// torchvision's state-dict entries in order: name, shape, and how the formula fills it.
        let keys: [(name: String, shape: [Int], kind: String)]
    }

    static let file: (tensors: [String: Tensor], metadata: [String: String]) = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/zoo.safetensors")
        do { return try SafeTensors.read(contentsOf: url) } catch {
            fatalError("cannot read \(url.path): \(error); run scripts/fixtures_zoo.py")
        }
    }()

    static func json(_ key: String) -> Any {
        guard let text = file.metadata[key], let value = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
            fatalError("fixture metadata '\(key)' is missing; rerun scripts/fixtures_zoo.py")
        }
        return value
    }

    static func tensor(_ name: String) -> Tensor {
        guard let t = file.tensors[name] else { fatalError("fixture '\(name)' is missing; rerun scripts/fixtures_zoo.py") }
        return t
    }

    static func group(_ prefix: String) -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (k, v) in file.tensors where k.hasPrefix(prefix) { d[String(k.dropFirst(prefix.count))] = v }
        return d
    }

    /// torchvision's state dict of a full model: name → shape.
    static func names(_ model: String) -> [String: [Int]] {
        let list = json("names.\(model)") as? [[Any]] ?? []
        var d: [String: [Int]] = [:]
        for entry in list {
            if let n = entry.first as? String, let s = entry.last as? [Int] { d[n] = s }
        }
        return d
    }

    static func parityCase(_ name: String) -> Case {
        let all = json("cases") as? [[String: Any]] ?? []
        guard let c = all.first(where: { $0["name"] as? String == name }), let raw = c["keys"] as? [[Any]] else {
            fatalError("no fixture case \(name); rerun scripts/fixtures_zoo.py")
        }
        return Case(name: name, keys: raw.compactMap { e in
            guard e.count == 3, let n = e[0] as? String, let s = e[1] as? [Int], let k = e[2] as? String else { return nil }
            return (n, s, k)
        })
    }

    /// Entry `index` of a case's state dict, as the script's `formula`: element k is
    /// u = fmix32((k·2654435761 + index·40503 + 12345) mod 2³²)/2³² − ½, scaled by kind.
    static func formula(kind: String, index: Int, shape: [Int]) -> Tensor {
        if kind == "count" { return Tensor([Int64(0)], shape: shape, dtype: .int64) }
        let n = shape.reduce(1, *)
        let offset = UInt64(index * 40503 + 12345)
        let fan = shape.dropFirst().reduce(1, *)
        let scale = kind == "w" ? (24.0 / Double(fan)).squareRoot() : 0
        var values = [Float](repeating: 0, count: n)
        for k in 0..<n {
            var h = UInt32(truncatingIfNeeded: UInt64(k) &* 2_654_435_761 &+ offset)
            h ^= h >> 16  // MurmurHash3's finaliser
            h = h &* 0x85EB_CA6B
            h ^= h >> 13
            h = h &* 0xC2B2_AE35
            h ^= h >> 16
            let u = Double(h) / 4_294_967_296.0 - 0.5
            switch kind {
            case "w": values[k] = Float(u * scale)
            case "b", "bnb", "mean": values[k] = Float(u * 0.2)
            default: values[k] = Float(1.0 + u * 0.5)
            }
        }
        return Tensor(values, shape: shape, dtype: .float32)
    }

    /// The case's state dict under torchvision's names.
    static func state(_ c: Case) -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (i, k) in c.keys.enumerated() { d[k.name] = formula(kind: k.kind, index: i, shape: k.shape) }
        return d
    }
}

/// GoogLeNet, DenseNet and MobileNetV2: torchvision's names, parameter counts and
/// multiply-accumulates, and numeric parity with torchvision in both modes.
/// Serialized: the full models hold up to 28 million parameters each.
@Suite(.serialized) struct ZooInceptionTests {
    /// Myelin's state dict as name → shape.
    func shapes(_ m: Module) -> [String: [Int]] { m.stateDict().mapValues(\.shape) }

    func expectSameNames(_ model: Module, _ torchvision: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let mine = shapes(model), theirs = ZooFixtures.names(torchvision)
        #expect(!theirs.isEmpty, "\(torchvision): no names in the fixture", sourceLocation: sourceLocation)
        let missing = Set(theirs.keys).subtracting(mine.keys).sorted(), extra = Set(mine.keys).subtracting(theirs.keys).sorted()
        #expect(missing.isEmpty && extra.isEmpty, "\(torchvision): torchvision's keys missing here \(missing.prefix(5)), extra here \(extra.prefix(5))",
                sourceLocation: sourceLocation)
        let wrong = theirs.keys.filter { mine[$0] != nil && mine[$0] != theirs[$0] }.sorted()
        #expect(wrong.isEmpty, "\(torchvision): shapes differ for \(wrong.prefix(5).map { "\($0) \(mine[$0] ?? []) vs \(theirs[$0] ?? [])" })",
                sourceLocation: sourceLocation)
    }

    // MARK: Full models

    @Test func googLeNetNamesCountsAndMACs() {
        let net = GoogLeNet()
        expectSameNames(net, "googlenet")
        #expect(net.parameterCount == 13_004_888)
        #expect(net.stateDict()["conv1.conv.weight"]?.shape == [64, 3, 7, 7])
        #expect(net.stateDict()["conv1.bn.running_mean"]?.shape == [64])
        #expect(net.stateDict()["inception3a.branch3.1.conv.weight"]?.shape == [32, 16, 3, 3])  // torchvision's 3×3
        #expect(net.conv1.bn.eps == 0.001)
        // Training mode (a new model's): the auxiliary classifiers run and count.
        let train = ModelSummary(net, inputShape: [3, 224, 224])
        #expect(train.totalParameters == 13_004_888)
        #expect(train.totalMACs == 1_506_748_416)
        #expect(train.layers.contains { $0.name == "aux1.fc1" && $0.outputShape == [1, 1024] })
        #expect(!train.macsIncomplete)
        net.eval()
        let eval = ModelSummary(net, inputShape: [3, 224, 224])
        #expect(eval.totalMACs == 1_498_376_192)
        #expect(eval.outputShape == [1, 1000])
        #expect(!eval.layers.contains { $0.name.hasPrefix("aux") })
        #expect(eval.layers.first { $0.name == "inception4e" }?.outputShape == [1, 832, 14, 14])

        let plain = GoogLeNet(auxLogits: false)
        expectSameNames(plain, "googlenet-noaux")
        #expect(plain.parameterCount == 6_624_904)
        #expect(plain.aux1 == nil && plain.aux2 == nil)
        #expect(ModelSummary(plain, inputShape: [3, 224, 224]).totalMACs == 1_498_376_192)

        let features = GoogLeNet(includeTop: false)
        #expect(features.aux1 == nil && features.fc == nil)
        #expect(ModelSummary(features, inputShape: [3, 224, 224]).outputShape == [1, 1024, 7, 7])
    }

    @Test func denseNetNamesCountsAndMACs() {
        let expected: [(Int, Int, Int, Int)] = [
            (121, 7_978_856, 2_834_161_664, 1024), (169, 14_149_480, 3_359_843_328, 1664),
            (201, 20_013_928, 4_291_365_888, 1920), (161, 28_681_000, 7_727_907_072, 2208),
        ]
        for (depth, params, macs, channels) in expected {
            let net = DenseNet(depth: depth)
            expectSameNames(net, "densenet\(depth)")
            #expect(net.parameterCount == params, "DenseNet-\(depth)")
            #expect(net.featureChannels == channels)
            let s = ModelSummary(net, inputShape: [3, 224, 224])
            #expect(s.totalMACs == macs, "DenseNet-\(depth): \(s.totalMACs)")
            #expect(s.outputShape == [1, 1000] && !s.macsIncomplete)
            if depth == 121 {
                let state = net.stateDict()
                #expect(state["features.denseblock1.denselayer1.norm1.running_mean"]?.shape == [64])
                #expect(state["features.denseblock1.denselayer6.conv2.weight"]?.shape == [32, 128, 3, 3])
                #expect(state["features.transition3.conv.weight"]?.shape == [512, 1024, 1, 1])
                #expect(state["features.norm5.weight"]?.shape == [1024])
                #expect(state["classifier.weight"]?.shape == [1000, 1024])
                #expect(s.layers.first { $0.name == "features.denseblock2" }?.outputShape == [1, 512, 28, 28])
            }
        }
        let features = DenseNet(depth: 121, includeTop: false)
        #expect(features.classifier == nil && features.stateDict()["classifier.weight"] == nil)
        #expect(ModelSummary(features, inputShape: [3, 224, 224]).outputShape == [1, 1024, 7, 7])
    }

    @Test func mobileNetV2NamesCountsAndMACs() {
        let net = MobileNetV2()
        expectSameNames(net, "mobilenet-v2")
        #expect(net.parameterCount == 3_504_872)
        let s = ModelSummary(net, inputShape: [3, 224, 224])
        #expect(s.totalMACs == 300_774_272 && !s.macsIncomplete)
        #expect(s.outputShape == [1, 1000])
        #expect(s.layers.first { $0.name == "features.1.conv.0.0" }?.type == "Conv2D")
        #expect((net.features[1] as? InvertedResidual)?.useResidual == false)
        #expect((net.features[3] as? InvertedResidual)?.useResidual == true)
        let features = MobileNetV2(includeTop: false)
        #expect(ModelSummary(features, inputShape: [3, 224, 224]).outputShape == [1, 1280, 7, 7])
        // torchvision's _make_divisible.
        #expect(MobileNetV2.makeDivisible(32 * 0.25, 8) == 8)
        #expect(MobileNetV2.makeDivisible(16 * 0.35, 8) == 8)
        #expect(MobileNetV2.makeDivisible(24 * 0.75, 8) == 24)  // 18 → 16 loses more than 10%: one step up
        #expect(MobileNetV2.makeDivisible(1280 * 1.4, 8) == 1792)
        #expect(MobileNetV2(widthMultiplier: 0.5).lastChannels == 1280)
    }

    // MARK: Parity with torchvision

    /// Loads the case's formula weights under torchvision's names (strict), then compares
    /// the evaluation-mode output and input gradient of sum(y·r), and in training mode the
    /// outputs (`trainOutputs`: "out", and GoogLeNet's "aux1", "aux2" weighted by r1, r2), the
    /// input gradient and the running statistics after that one forward.
    func checkParity(_ name: String, _ model: any UnaryLayer, rtol: Double = 1e-4, atol: Double = 1e-5,
                     trainRtol: Double? = nil, trainAtol: Double? = nil, gradientNormTolerance: Double? = nil, trainOutputs: ((Tensor) -> [String: Tensor])? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let c = ZooFixtures.parityCase(name)
        try model.loadStateDict(ZooFixtures.state(c), strict: true)
        let x0 = ZooFixtures.tensor("\(name).x")
        let weights = ["out": ZooFixtures.tensor("\(name).r"), "aux1": ZooFixtures.file.tensors["\(name).r1"],
                       "aux2": ZooFixtures.file.tensors["\(name).r2"]]
        model.eval()
        let xe = x0.requiringGrad()
        let ye = model(xe)
        (ye * ZooFixtures.tensor("\(name).r")).sum().backward()
        expectClose(ye, ZooFixtures.tensor("\(name).eval.out"), rtol: rtol, atol: atol, "\(name) eval output", sourceLocation: sourceLocation)
        expectClose(xe.grad, ZooFixtures.tensor("\(name).eval.grad.x"), rtol: rtol, atol: atol, "\(name) eval input gradient",
                    sourceLocation: sourceLocation)

        model.train()
        // Training-mode batch norm on small maps amplifies float32 rounding: deep models get looser bounds.
        let rtol = trainRtol ?? rtol, atol = trainAtol ?? atol
        let xt = x0.requiringGrad()
        let outputs = trainOutputs?(xt) ?? ["out": model(xt)]
        var loss: Tensor?
        for (key, y) in outputs.sorted(by: { $0.key < $1.key }) {
            guard let w = weights[key] ?? nil else { Issue.record("\(name): no weights for output \(key)"); continue }
            expectClose(y, ZooFixtures.tensor("\(name).train.\(key)"), rtol: rtol, atol: atol, "\(name) training \(key)",
                        sourceLocation: sourceLocation)
            let term = (y * w).sum()
            loss = loss.map { $0 + term } ?? term
        }
        loss?.backward()
        let reference = ZooFixtures.tensor("\(name).train.grad.x")
        if let gradientNormTolerance {
            // Deep stacks of training-mode batch norm on tiny maps: compare the whole gradient.
            let err = relativeError(xt.grad, reference)
            #expect(err < gradientNormTolerance, "\(name) training input gradient: ‖Δ‖/‖g‖ = \(err)", sourceLocation: sourceLocation)
        } else {
            expectClose(xt.grad, reference, rtol: rtol, atol: atol, "\(name) training input gradient", sourceLocation: sourceLocation)
        }
        let stats = ZooFixtures.group("\(name).train.stats.")
        let buffers = Dictionary(uniqueKeysWithValues: model.namedBuffers().map { ($0.0, $0.1.value) })
        #expect(!stats.isEmpty, "\(name): no running statistics in the fixture", sourceLocation: sourceLocation)
        for (k, v) in stats {
            expectClose(buffers[k], v, rtol: rtol, atol: atol, "\(name) \(k) after a training forward", sourceLocation: sourceLocation)
        }
    }

    /// ‖a − b‖ / ‖b‖ (infinity when a is missing or shaped differently).
    func relativeError(_ a: Tensor?, _ b: Tensor) -> Double {
        guard let a, a.shape == b.shape else { return .infinity }
        let x = a.scalars(as: Double.self), y = b.scalars(as: Double.self)
        let d = zip(x, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }, n = y.reduce(0) { $0 + $1 * $1 }
        return (d / Swift.max(n, 1e-300)).squareRoot()
    }

    @Test func inceptionModuleMatchesTorchvision() throws {
        let m = Inception(8, ch1x1: 4, ch3x3Reduce: 4, ch3x3: 6, ch5x5Reduce: 2, ch5x5: 3, poolProjection: 3)
        #expect(m.outChannels == 16)
        try checkParity("inception", m)
    }

    @Test func inceptionAuxMatchesTorchvision() throws {
        // 7×7 → 4×4 adaptive pooling (uneven windows), the real 2048 → 1024 → classes head.
        try checkParity("aux", InceptionAux(6, classes: 3, dropout: 0))
    }

    @Test func googLeNetMatchesTorchvisionWithAuxiliaryClassifiers() throws {
        let net = GoogLeNet(classes: 5, transformInput: true, dropout: 0, auxDropout: 0)
        try checkParity("googlenet", net, trainRtol: 2e-3, trainAtol: 1e-4, gradientNormTolerance: 1e-2) { x in
            let (y, a1, a2) = net.forwardWithAuxiliary(x)
            var d = ["out": y]
            d["aux1"] = a1
            d["aux2"] = a2
            return d
        }
        // Evaluation mode: no auxiliary outputs, as torchvision; the logits are the call's.
        net.eval()
        let x = ZooFixtures.tensor("googlenet.x")
        let (y, a1, a2) = withoutGradients { net.forwardWithAuxiliary(x) }
        #expect(a1 == nil && a2 == nil)
        #expect(y.scalars(as: Float.self) == withoutGradients { net(x) }.scalars(as: Float.self))
    }

    @Test func denseNetMatchesTorchvision() throws {
        let net = DenseNet(growthRate: 4, blockConfig: [2, 2], initFeatures: 8, bnSize: 4, classes: 2)
        #expect(net.featureChannels == 16)  // 8 + 2·4 = 16, halved to 8, + 2·4
        try checkParity("densenet", net)
    }

    @Test func mobileNetV2MatchesTorchvision() throws {
        let net = MobileNetV2(classes: 3, widthMultiplier: 0.25, dropout: 0)
        try checkParity("mobilenet", net, trainRtol: 2e-3, trainAtol: 1e-4, gradientNormTolerance: 5e-3)
    }

    // MARK: Registry, auxiliary loss

    @Test func registeredWithTheirMinimumSizes() throws {
        for (name, size) in [("googlenet", 15), ("densenet121", 29), ("mobilenet-v2", 1)] {
            #expect(VisionModels.entry(name)?.minimumSize == size, "\(name)")
            let net = try VisionModels.make(name, classes: 10, inputShape: [3, size, size], generator: RandomGenerator(seed: 1))
            net.eval()
            let y = withoutGradients { net(Tensor.randn([1, 3, size, size], generator: RandomGenerator(seed: 2))) }
            #expect(y.shape == [1, 10], "\(name) at \(size)×\(size)")
            #expect(ModelSummary(net, inputShape: [3, size, size]).outputShape == [1, 10])
        }
        #expect(throws: ModelZooError.self) { try VisionModels.make("densenet121", inputShape: [3, 28, 28]) }
        for depth in [121, 169, 201, 161] { #expect(VisionModels.entry("densenet\(depth)") != nil) }
        #expect(VisionModels.canonicalName("MobileNetV2") == "mobilenet-v2")
        #expect(VisionModels.canonicalName("mobilenet_v2") == "mobilenet-v2")
        #expect(VisionModels.canonicalName("densenet-121") == "densenet121")
        #expect(VisionModels.canonicalName("GoogLeNet") == "googlenet")
        #expect(VisionModels.canonicalName("resnet-50") == "resnet50")
        #expect(VisionModels.canonicalName("densenet") == nil)
        // Feature extractors and other input channels.
        let gray = try VisionModels.make("googlenet", inputShape: [1, 64, 64], includeTop: false)
        #expect(ModelSummary(gray, inputShape: [1, 64, 64]).outputShape == [1, 1024, 2, 2])
    }

    @Test func googLeNetAuxiliaryLossIsThePapers() {
        let net = GoogLeNet(classes: 4, generator: RandomGenerator(seed: 3))
        let x = Tensor.randn([2, 3, 32, 32], generator: RandomGenerator(seed: 4))
        let labels = Tensor([Int64(1), 3], shape: [2], dtype: .int64)
        let out = net.forwardWithAuxiliary(x)
        guard let a1 = out.aux1, let a2 = out.aux2 else { Issue.record("training mode must give auxiliary logits"); return }
        #expect(a1.shape == [2, 4] && a2.shape == [2, 4])
        let loss = GoogLeNet.loss(out, labels: labels)
        let expected = crossEntropy(out.logits, labels) + (crossEntropy(a1, labels) + crossEntropy(a2, labels)) * 0.3
        #expect(abs(loss.itemDouble() - expected.itemDouble()) < 1e-6)
        // Every classifier gets a gradient from it.
        loss.backward()
        #expect(net.aux1?.fc2.weight.grad != nil && net.aux2?.fc1.weight.grad != nil && net.fc?.weight.grad != nil)
        // Without aux classifiers (or in eval mode) it is the main loss.
        let plain = GoogLeNet(classes: 4, auxLogits: false, generator: RandomGenerator(seed: 3))
        let p = plain.forwardWithAuxiliary(x)
        #expect(p.aux1 == nil && p.aux2 == nil)
        #expect(GoogLeNet.loss(p, labels: labels).itemDouble() == crossEntropy(p.logits, labels).itemDouble())
    }
}
