import Foundation
import Testing
import Myelin

/// Transfer learning: load a pretrained backbone by name, freeze it, train a new head;
/// then unfreeze and fine-tune with a smaller learning rate.
@Suite struct TransferLearningTests {
    func pretrained() -> CIFARResNet {
        let net = CIFARResNet(depth: 8, classes: 10, inputChannels: 1, widths: [4, 8, 8], generator: RandomGenerator(seed: 3))
        // Give the batch norms non-default statistics, as a trained network has.
        let opt = SGD(net.parameters(), learningRate: 0.05, momentum: 0.9)
        let x = Tensor.randn([8, 1, 12, 12], generator: RandomGenerator(seed: 4))
        let y = Tensor.randint(0, 10, [8], generator: RandomGenerator(seed: 5))
        for _ in 0..<3 {
            opt.zeroGrad()
            crossEntropy(net(x), y).backward()
            opt.step()
        }
        return net
    }

    func snapshot(_ m: Module) -> [String: [Double]] { m.stateDict().mapValues { $0.scalars(as: Double.self) } }

    @Test func frozenWeightsDoNotChangeWhileTheNewHeadTrains() throws {
        let source = pretrained()
        let net = CIFARResNet(depth: 8, classes: 3, inputChannels: 1, widths: [4, 8, 8], generator: RandomGenerator(seed: 9))
        #expect(net.headName == "fc")
        let report = try net.loadPretrained(source.stateDict(), skipping: ["fc"])
        #expect(!report.loaded.contains { $0.hasPrefix("fc.") } && report.loaded.contains("conv1.weight"))
        let before = snapshot(net)
        #expect(before["layer1.0.bn1.running_mean"] == source.stateDict()["layer1.0.bn1.running_mean"]?.scalars(as: Double.self))

        net.freeze(except: ["fc"])
        net.train()
        #expect(!net.layer1.training && !net.bn1.training && net.fc?.training == true && net.training)
        #expect(net.trainableParameters().count == 2)
        // All parameters to the optimizer, with momentum and weight decay: frozen ones must still not move.
        let opt = SGD(net.parameters(), learningRate: 0.1, momentum: 0.9, weightDecay: 1e-2)
        let x = Tensor.randn([6, 1, 12, 12], generator: RandomGenerator(seed: 6))
        let y = Tensor.randint(0, 3, [6], generator: RandomGenerator(seed: 7))
        var losses: [Double] = []
        for _ in 0..<5 {
            opt.zeroGrad()
            let loss = crossEntropy(net(x), y)
            losses.append(loss.itemDouble())
            loss.backward()
            opt.step()
        }
        #expect(losses.last ?? 0 < losses.first ?? 0, "the head learns: \(losses)")
        let after = snapshot(net)
        for (name, values) in before where !name.hasPrefix("fc.") {
            #expect(after[name] == values, "\(name) changed while frozen")  // bitwise, batch-norm statistics included
        }
        #expect(after["fc.weight"] != before["fc.weight"] && after["fc.bias"] != before["fc.bias"])

        // Fine-tuning: everything trains, the backbone ten times slower than the head.
        net.unfreeze()
        net.train()
        #expect(net.layer1.training && net.trainableParameters().count == net.parameters().count)
        let head = net.fc.map { $0.parameters() } ?? []
        let headIDs = Set(head.map(ObjectIdentifier.init))
        let backbone = net.parameters().filter { !headIDs.contains(ObjectIdentifier($0)) }
        let fine = SGD([ParamGroup(backbone, learningRate: 1e-3), ParamGroup(head, learningRate: 1e-2)], momentum: 0.9)
        fine.zeroGrad()
        crossEntropy(net(x), y).backward()
        fine.step()
        let tuned = snapshot(net)
        #expect(tuned["conv1.weight"] != after["conv1.weight"])
        #expect(tuned["layer1.0.bn1.running_mean"] != after["layer1.0.bn1.running_mean"], "batch norm statistics update again")
    }

    @Test func headNames() {
        #expect(ResNet(depth: 18, classes: 2).headName == "fc")
        #expect(VGG(.a, classes: 2).headName == "classifier")
        #expect(LeNet5().headName == "fc3")
        #expect(SmallVGG().headName == "classifier")
        #expect(SmallVGG(includeTop: false).headName == "features")
    }

    @Test func aFeatureExtractorLoadsFromAFullModel() throws {
        let source = pretrained()
        let features = CIFARResNet(depth: 8, classes: 10, inputChannels: 1, widths: [4, 8, 8], includeTop: false)
        // The file's fc is extra: ignored, as Keras' include_top=False with ImageNet weights.
        let report = try features.loadPretrained(source.stateDict())
        #expect(report.loaded.count == features.stateDict().count)
        let x = Tensor.randn([2, 1, 12, 12], generator: RandomGenerator(seed: 8))
        source.eval()
        features.eval()
        let expected = withoutGradients { source.layer3(source.layer2(source.layer1(source.bn1(source.conv1(x)).relu()))) }
        #expect(withoutGradients { features(x) }.scalars(as: Float.self) == expected.scalars(as: Float.self))
    }

    @Test func aBackboneThatDoesNotFitThrowsAndChangesNothing() throws {
        let source = pretrained()
        let other = CIFARResNet(depth: 8, classes: 3, inputChannels: 1, widths: [4, 8, 16])
        let before = snapshot(other)
        #expect(throws: StateDictReport.self) { try other.loadPretrained(source.stateDict(), skipping: ["fc"]) }
        #expect(snapshot(other) == before)
        // Same backbone, different classes: the head must be skipped or it is a mismatch.
        let three = CIFARResNet(depth: 8, classes: 3, inputChannels: 1, widths: [4, 8, 8])
        do {
            try three.loadPretrained(source.stateDict())
            Issue.record("a head of 10 classes loaded into one of 3")
        } catch let report as StateDictReport {
            #expect(report.mismatched.map(\.name).sorted() == ["fc.bias", "fc.weight"])
        }
        // A missing backbone tensor is an error too.
        var partial = source.stateDict()
        partial["layer2.0.conv1.weight"] = nil
        do {
            try three.loadPretrained(partial, skipping: ["fc"])
            Issue.record("a state without layer2.0.conv1.weight loaded")
        } catch let report as StateDictReport {
            #expect(report.missing == ["layer2.0.conv1.weight"])
        }
    }

    @Test func freezingAnUnknownSubmoduleStops() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            CIFARResNet(depth: 8).freeze(except: ["head"])
        } .map { result in
            #expect(stopMessage(result).contains("no submodule \"head\""))
        }
    }
}
