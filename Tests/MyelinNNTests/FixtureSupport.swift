import Foundation
import Testing
import Myelin

/// The PyTorch reference values written by scripts/fixtures_nn.py.
enum NNFixtures {
    static let tensors: [String: Tensor] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/nn.safetensors")
        do { return try SafeTensors.read(contentsOf: url).tensors } catch {
            fatalError("cannot read \(url.path): \(error); run scripts/fixtures_nn.py")
        }
    }()

    static func tensor(_ name: String) -> Tensor {
        guard let t = tensors[name] else { fatalError("fixture '\(name)' is missing; rerun scripts/fixtures_nn.py") }
        return t
    }

    static func has(_ name: String) -> Bool { tensors[name] != nil }

    /// Every fixture under `prefix`, keyed by the rest of its name.
    static func group(_ prefix: String) -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (k, v) in tensors where k.hasPrefix(prefix) { d[String(k.dropFirst(prefix.count))] = v }
        return d
    }
}

/// Elementwise |a − b| ≤ rtol·|b| + atol, naming the worst offender.
func expectClose(_ a: Tensor?, _ b: Tensor, rtol: Double = 1e-5, atol: Double = 1e-6, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard let a else {
        Issue.record("\(what): missing (PyTorch has shape \(b.shape))", sourceLocation: sourceLocation)
        return
    }
    #expect(a.shape == b.shape, "\(what): shape \(a.shape) vs PyTorch's \(b.shape)", sourceLocation: sourceLocation)
    let x = a.scalars(as: Double.self), y = b.scalars(as: Double.self)
    guard x.count == y.count else { return }
    var worst = 0.0, at = -1
    for i in x.indices {
        if x[i].isNaN != y[i].isNaN || (x[i].isInfinite && x[i] != y[i]) { at = i; break }
        if x[i].isNaN || x[i] == y[i] { continue }
        let excess = abs(x[i] - y[i]) - (rtol * abs(y[i]) + atol)
        if excess > worst { worst = excess; at = i }
    }
    #expect(at < 0, "\(what): element \(at) is \(at >= 0 ? x[at] : 0), PyTorch has \(at >= 0 ? y[at] : 0)",
            sourceLocation: sourceLocation)
}

/// A layer case of the fixtures: loads PyTorch's state (strict, by PyTorch's names), then
/// checks the training-mode output, the input and parameter gradients of sum(y·R), the
/// buffers after that forward, the state after 3 SGD(lr = 0.1) steps, and eval mode.
/// `evalTolerance` (rtol, atol) applies to the eval-mode checks after the 3 steps, where
/// float32 rounding differences of deep networks have been amplified by training.
func checkLayerCase(_ name: String, _ model: any UnaryLayer, input: ((Tensor) -> Tensor)? = nil,
                    rtol: Double = 1e-5, atol: Double = 1e-6, evalTolerance: (Double, Double)? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    try model.loadStateDict(NNFixtures.group("\(name).state."))
    model.train()
    var x0 = NNFixtures.tensor("\(name).x")
    if let input { x0 = input(x0) }
    let floatInput = x0.dtype.isFloatingPoint
    let r = NNFixtures.tensor("\(name).r")
    let opt = SGD(model.parameters(), learningRate: 0.1)
    for step in 0..<3 {
        opt.zeroGrad()
        let x = floatInput ? x0.requiringGrad() : x0
        let y = model(x)
        (y * r).sum().backward()
        if step == 0 {
            expectClose(y, NNFixtures.tensor("\(name).out"), rtol: rtol, atol: atol, "\(name) output", sourceLocation: sourceLocation)
            if floatInput {
                expectClose(x.grad, NNFixtures.tensor("\(name).grad.x"), rtol: rtol, atol: atol, "\(name) input gradient", sourceLocation: sourceLocation)
            }
            let grads = NNFixtures.group("\(name).grad.")
            #expect(Set(grads.keys.filter { $0 != "x" }) == Set(model.namedParameters().map(\.0)), "\(name): parameters",
                    sourceLocation: sourceLocation)
            for (k, p) in model.namedParameters() {
                guard let expected = grads[k] else { Issue.record("\(name): no PyTorch gradient for \(k)"); continue }
                expectClose(p.grad, expected, rtol: rtol, atol: atol, "\(name) gradient of \(k)", sourceLocation: sourceLocation)
            }
            let stats = NNFixtures.group("\(name).stats1.")
            #expect(Set(stats.keys) == Set(model.namedBuffers().map(\.0)), "\(name): buffers", sourceLocation: sourceLocation)
            for (k, b) in model.namedBuffers() {
                guard let expected = stats[k] else { continue }
                #expect(b.value.dtype == expected.dtype, "\(name) buffer \(k) dtype", sourceLocation: sourceLocation)
                expectClose(b.value, expected, rtol: rtol, atol: atol, "\(name) buffer \(k) after one training forward", sourceLocation: sourceLocation)
            }
        }
        opt.step()
    }
    let state = model.stateDict()
    let expected = NNFixtures.group("\(name).step3.")
    #expect(Set(state.keys) == Set(expected.keys), "\(name): state dict keys \(state.keys.sorted()) vs \(expected.keys.sorted())",
            sourceLocation: sourceLocation)
    for (k, v) in expected {
        expectClose(state[k], v, rtol: rtol, atol: atol, "\(name) \(k) after 3 SGD steps", sourceLocation: sourceLocation)
    }
    model.eval()
    let (rtol, atol) = evalTolerance ?? (rtol, atol)
    let x = floatInput ? x0.requiringGrad() : x0
    let y = model(x)
    (y * r).sum().backward()
    expectClose(y, NNFixtures.tensor("\(name).eval.out"), rtol: rtol, atol: atol, "\(name) eval output", sourceLocation: sourceLocation)
    if floatInput {
        expectClose(x.grad, NNFixtures.tensor("\(name).eval.grad.x"), rtol: rtol, atol: atol, "\(name) eval input gradient", sourceLocation: sourceLocation)
    }
}

/// A loss case of the fixtures: values and gradients for each reduction, then (when
/// `model` is given) 3 SGD steps of a small model trained on the mean loss.
func checkLossCase(_ name: String, floatTarget: Bool = true, labels: ((Tensor) -> Tensor)? = nil,
                   model: (() -> any UnaryLayer)? = nil, rtol: Double = 1e-5, atol: Double = 1e-6,
                   sourceLocation: SourceLocation = #_sourceLocation,
                   _ loss: (Tensor, Tensor, LossReduction) -> Tensor) throws {
    let input = NNFixtures.tensor("\(name).input")
    var target = NNFixtures.tensor("\(name).target")
    if let labels { target = labels(target) }
    for (red, label) in [(LossReduction.mean, "mean"), (.sum, "sum"), (.none, "none")] {
        let i = input.requiringGrad()
        let t = floatTarget ? target.requiringGrad() : target
        let v = loss(i, t, red)
        if red == .none { (v * NNFixtures.tensor("\(name).r")).sum().backward() } else { v.backward() }
        expectClose(v, NNFixtures.tensor("\(name).\(label).value"), rtol: rtol, atol: atol, "\(name) \(label) value", sourceLocation: sourceLocation)
        expectClose(i.grad, NNFixtures.tensor("\(name).\(label).grad.input"), rtol: rtol, atol: atol,
                    "\(name) \(label) input gradient", sourceLocation: sourceLocation)
        if floatTarget {
            expectClose(t.grad, NNFixtures.tensor("\(name).\(label).grad.target"), rtol: rtol, atol: atol,
                        "\(name) \(label) target gradient", sourceLocation: sourceLocation)
        }
    }
    guard let model else { return }
    let m = model()
    try m.loadStateDict(NNFixtures.group("\(name).train.state."))
    let x = NNFixtures.tensor("\(name).train.x")
    var y = NNFixtures.tensor("\(name).train.target")
    if let labels { y = labels(y) }
    let opt = SGD(m.parameters(), learningRate: 0.1)
    for step in 0..<3 {
        opt.zeroGrad()
        let l = loss(m(x), y, .mean)
        if step == 0 {
            expectClose(l, NNFixtures.tensor("\(name).train.loss0"), rtol: rtol, atol: atol, "\(name) training loss", sourceLocation: sourceLocation)
        }
        l.backward()
        opt.step()
    }
    let state = m.stateDict()
    let trained = NNFixtures.group("\(name).train.step3.")
    #expect(Set(trained.keys) == Set(state.keys) && !trained.isEmpty, "\(name): model keys", sourceLocation: sourceLocation)
    for (k, v) in trained {
        expectClose(state[k], v, rtol: rtol, atol: atol, "\(name) model \(k) after 3 SGD steps", sourceLocation: sourceLocation)
    }
}

/// Expects a gradient check to pass, showing its worst element otherwise.
func expectGradients(_ inputs: [Tensor], _ what: String, atol: Double = 1e-5, rtol: Double = 1e-4,
                     sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor) {
    let r = checkGradients(inputs, atol: atol, rtol: rtol, f)
    #expect(r.passed, "\(what): \(r)", sourceLocation: sourceLocation)
}

/// Random float64 values for gradient checks.
func randomDoubles(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor {
    Tensor.randn(shape, dtype: .float64, generator: RandomGenerator(seed: seed)) * scale
}

/// The standard error of a child process that stops, for misuse messages.
func stopMessage(_ result: ExitTest.Result?) -> String {
    String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
}

/// A fixture file whose metadata "cases" (JSON) lists each case's name, op and arguments,
/// as the convolution scripts write them (scripts/fixtures_conv.py, fixtures_conv4.py).
struct CaseFixtures: Sendable {
    /// One case: its name, op and arguments by kind.
    struct Case: Sendable {
        let name: String, op: String
        var pairs: [String: IntPair] = [:], ints: [String: Int] = [:], numbers: [String: Double] = [:]
        var bools: [String: Bool] = [:], strings: [String: String] = [:]

        func pair(_ key: String) -> IntPair {
            guard let p = pairs[key] else { fatalError("case \(name): '\(key)' is not a pair") }
            return p
        }
        func number(_ key: String) -> Double {
            guard let v = numbers[key] else { fatalError("case \(name): '\(key)' is not a number") }
            return v
        }
    }

    let tensors: [String: Tensor]
    let cases: [Case]
    let script: String

    /// Reads Fixtures/`file`; keys in `flags` are booleans, whole numbers also fill `ints`.
    init(file: String, script: String, flags: Set<String>) {
        self.script = script
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(file)")
        do {
            let (tensors, metadata) = try SafeTensors.read(contentsOf: url)
            let raw = try JSONSerialization.jsonObject(with: Data((metadata["cases"] ?? "[]").utf8)) as? [[String: Any]] ?? []
            self.tensors = tensors
            self.cases = raw.map { entry -> Case in
                var c = Case(name: entry["name"] as? String ?? "?", op: entry["op"] as? String ?? "?")
                for (key, value) in entry where key != "name" && key != "op" {
                    if let v = value as? [Int], v.count == 2 { c.pairs[key] = IntPair(v[0], v[1]) }
                    else if let v = value as? String { c.strings[key] = v }
                    else if flags.contains(key), let v = value as? Bool { c.bools[key] = v }
                    else if let v = value as? Double {
                        c.numbers[key] = v
                        if let i = value as? Int { c.ints[key] = i }
                    }
                }
                return c
            }
        } catch {
            fatalError("cannot read \(url.path): \(error); run scripts/\(script)")
        }
    }

    func tensor(_ name: String) -> Tensor {
        guard let t = tensors[name] else { fatalError("fixture '\(name)' is missing; rerun scripts/\(script)") }
        return t
    }

    func has(_ name: String) -> Bool { tensors[name] != nil }

    func named(_ name: String) -> Case {
        guard let c = cases.first(where: { $0.name == name }) else { fatalError("no fixture case \(name)") }
        return c
    }

    func names(op: String) -> [String] { cases.filter { $0.op == op }.map(\.name) }
}
