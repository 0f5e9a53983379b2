import Testing
import Myelin

/// clipGradNorm / clipGradValue against torch.nn.utils on the first step's gradients.
@Suite struct ClippingTests {
    static func withGradients() -> [Parameter] {
        let ps = Fixtures.parameters()
        Fixtures.setGradients(ps, step: 0)
        return ps
    }

    static func check(_ name: String, _ ps: [Parameter], norm: Double?, sourceLocation: SourceLocation = #_sourceLocation) {
        if let norm {
            let expected = Fixtures.tensor("clip.\(name).norm").scalars(as: Double.self)
            expectClose([norm], expected, rtol: 1e-6, atol: 0, "\(name) total norm", sourceLocation: sourceLocation)
        }
        for (i, p) in ps.enumerated() {
            guard let g = p.grad else { Issue.record("\(name): gradient \(i) vanished"); continue }
            expectClose(g, Fixtures.tensor("clip.\(name).\(i)"), "\(name) gradient \(i)", sourceLocation: sourceLocation)
        }
    }

    @Test func norm2() {
        let ps = Self.withGradients()
        let n = clipGradNorm(ps, maxNorm: 1)
        #expect(n > 1)
        Self.check("norm2", ps, norm: n)
    }

    @Test func infinityNorm() {
        let ps = Self.withGradients()
        Self.check("norm_inf", ps, norm: clipGradNorm(ps, maxNorm: 0.5, normType: .infinity))
    }

    @Test func norm1BelowTheLimitLeavesGradientsAlone() {
        let ps = Self.withGradients()
        let before = ps.map { $0.grad?.scalars(as: Float.self) ?? [] }
        Self.check("norm1_unclipped", ps, norm: clipGradNorm(ps, maxNorm: 100, normType: 1))
        #expect(ps.map { $0.grad?.scalars(as: Float.self) ?? [] } == before)
    }

    @Test func norm3() {
        let ps = Self.withGradients()
        Self.check("norm3", ps, norm: clipGradNorm(ps, maxNorm: 0.7, normType: 3))
    }

    @Test func byValue() {
        let ps = Self.withGradients()
        clipGradValue(ps, clipValue: 0.3)
        Self.check("value", ps, norm: nil)
    }

    @Test func parametersWithoutGradientsAreSkipped() {
        let ps = Self.withGradients()
        ps[1].zeroGrad()
        let n = clipGradNorm(ps, maxNorm: 1)
        #expect(ps[1].grad == nil)
        #expect(n > 0)
        #expect(clipGradNorm([Parameter(wrappedValue: Tensor.zeros([2]))], maxNorm: 1) == 0)
    }

    @Test func float64Gradients() {
        let p = Parameter(wrappedValue: Tensor([3.0, 4.0], shape: [2], dtype: .float64))
        p.grad = Tensor([3.0, 4.0], shape: [2], dtype: .float64)
        #expect(clipGradNorm([p], maxNorm: 1) == 5)
        let g = p.grad?.scalars(as: Double.self) ?? []
        #expect(abs(g[0] - 3 / (5 + 1e-6)) < 1e-15 && abs(g[1] - 4 / (5 + 1e-6)) < 1e-15)
    }
}
