import Testing
import Myelin

/// SGD's per-case loops against a scalar reference of torch.optim.SGD's rule, for every
/// combination of momentum, dampening, weight decay and Nesterov, on odd lengths, with 1
/// and 2 threads, and with a parameter large enough to be split over threads.
@Suite struct SGDLoopTests {
    struct Case: CustomStringConvertible, Sendable {
        let momentum: Double, dampening: Double, weightDecay: Double, nesterov: Bool
        var description: String { "mu \(momentum) damp \(dampening) wd \(weightDecay) nesterov \(nesterov)" }
    }

    static let cases: [Case] = {
        var out: [Case] = []
        for momentum in [0.0, 0.9] {
            for dampening in momentum == 0 ? [0.0] : [0.0, 0.1] {
                for wd in [0.0, 0.01] {
                    for nesterov in momentum > 0 && dampening == 0 ? [false, true] : [false] {
                        out.append(Case(momentum: momentum, dampening: dampening, weightDecay: wd, nesterov: nesterov))
                    }
                }
            }
        }
        return out
    }()

    /// torch.optim.SGD's update in Float, element by element.
    static func reference(_ c: Case, params: [Float], grads: [[Float]], lr: Float) -> [Float] {
        var p = params
        var buf = [Float](repeating: 0, count: params.count)
        for (step, g) in grads.enumerated() {
            for i in p.indices {
                var d = g[i]
                if c.weightDecay != 0 { d = d + Float(c.weightDecay) * p[i] }
                if c.momentum != 0 {
                    buf[i] = step == 0 ? d : buf[i] * Float(c.momentum) + Float(1 - c.dampening) * d
                    d = c.nesterov ? d + Float(c.momentum) * buf[i] : buf[i]
                }
                p[i] = p[i] + (-lr) * d
            }
        }
        return p
    }

    @Test(arguments: cases)
    func matchesTheScalarRule(_ c: Case) {
        for threads in [1, 2] {
            for n in [1, 7, 33, 70_001] {
                let saved = Threading.threadCount
                Threading.threadCount = threads
                defer { Threading.threadCount = saved }
                let start = Tensor.randn([n], generator: RandomGenerator(seed: 1))
                let p = Parameter(wrappedValue: start)
                let opt = SGD([p], learningRate: 0.1, momentum: c.momentum, dampening: c.dampening,
                              weightDecay: c.weightDecay, nesterov: c.nesterov)
                var grads: [[Float]] = []
                for k in 0..<3 {
                    let g = Tensor.randn([n], generator: RandomGenerator(seed: UInt64(10 + k)))
                    grads.append(g.scalars())
                    p.grad = g
                    opt.step()
                }
                let expected = Self.reference(c, params: start.scalars(), grads: grads, lr: 0.1)
                let got = p.value.scalars(as: Float.self)
                var worst: Float = 0
                for i in 0..<n { worst = Swift.max(worst, Swift.abs(got[i] - expected[i])) }
                #expect(worst <= 1e-6, "\(c), n \(n), \(threads) threads: max difference \(worst)")
            }
        }
    }

    @Test func changingAnOptionReachesTheNextStep() {
        let p = Parameter(wrappedValue: Tensor([1.0, 2.0]))
        let opt = SGD([p], learningRate: 0.1)
        p.grad = Tensor([1.0, 1.0])
        opt.step()
        #expect(p.value.scalars() == [0.9, 1.9])
        opt.learningRate = 1
        p.grad = Tensor([1.0, 1.0])
        opt.step()
        #expect(abs(p.value.scalars()[0] - (-0.1)) < 1e-6)
        opt.paramGroups[0]["weight_decay"] = 1
        p.grad = Tensor([0.0, 0.0])
        opt.step()
        #expect(p.value.scalars() == [0, 0])  // p − 1·(0 + 1·p)
    }
}
