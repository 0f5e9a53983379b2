import ArgumentParser
import Foundation
import Myelin

/// A short tour of tensors and gradients.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show tensors, broadcasting and automatic differentiation at work.")

    func run() throws {
        let a = try Tensor([[1, 2, 3], [4, 5, 6]] as [[Double]])
        let b = Tensor([10.0, 20.0, 30.0])
        print("a =", a)
        print("a + b (broadcast over rows) =", a + b)
        var w = Tensor([0.5, -1.0, 2.0])
        w.requiresGrad = true
        let y = (a * w).sum()
        y.backward()
        print("d/dw sum(a * w) =", w.grad!, "(the column sums of a)")
    }
}
