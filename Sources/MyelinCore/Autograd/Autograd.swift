import Foundation
import Synchronization

/// Reverse-mode automatic differentiation: the tape is the graph of `GradNode`s
/// hanging off tensors; `backward()` walks it in reverse topological order.
public enum Autograd {
    /// Whether operations record graph nodes on this thread/task.
    @TaskLocal public static var isRecording = true

    /// A fresh mark per backward pass, so visited nodes are recognised without a Set.
    private static let epoch = Atomic<Int>(0)

    /// Attaches a graph node to `output` when recording is on and an input needs a
    /// gradient. `backward` receives the output gradient and a mask of the inputs
    /// that need one; it returns one gradient (or nil) per input, each already of
    /// that input's shape.
    public static func record(
        _ output: Tensor, inputs: [Tensor], name: String,
        backward: @escaping (_ grad: Tensor, _ needs: [Bool]) -> [Tensor?]
    ) -> Tensor {
        guard isRecording else { return output }
        var any = false
        for x in inputs where x.gradNode != nil { any = true; break }
        guard any else { return output }
        return attach(output, inputs: inputs, name: name, backward: backward)
    }

    static func attach(
        _ output: Tensor, inputs: [Tensor], name: String,
        backward: @escaping (Tensor, [Bool]) -> [Tensor?]
    ) -> Tensor {
        var out = output
        out.gradNode = GradNode(name: name, inputs: inputs, shape: output.shape,
                                dtype: output.dtype, backward: backward)
        return out
    }

    /// Runs `body` without recording any graph (inference, optimizer updates).
    public static func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
        try $isRecording.withValue(false) { try body() }
    }

    /// Runs `body` with recording on, even inside `withoutGradients`.
    public static func withGradients<R>(_ body: () throws -> R) rethrows -> R {
        try $isRecording.withValue(true) { try body() }
    }

    static func nextEpoch() -> Int { epoch.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Backpropagates `seed` (the gradient of some scalar with respect to `root`)
    /// to every leaf reachable from `root`.
    static func backpropagate(from root: GradNode, seed: Tensor, retainGraph: Bool) {
        // Topological order by iterative depth-first search (no recursion limit for long RNN graphs).
        let mark = nextEpoch()
        var order: [GradNode] = []
        order.reserveCapacity(32)
        var stack: [(GradNode, Int)] = []
        stack.reserveCapacity(32)
        stack.append((root, 0))
        root.visitEpoch = mark
        while let (node, next) = stack.popLast() {
            if next < node.parentCount {
                stack.append((node, next + 1))
                if let p = node.parent(next), p.visitEpoch != mark {
                    p.visitEpoch = mark
                    stack.append((p, 0))
                }
            } else {
                order.append(node)
            }
        }
        root.grad = accumulate(root.isLeaf ? root.grad : nil, seed)
        withoutGradients {
            for node in order.reversed() {
                guard let fn = node.backward else { continue }  // leaves keep their grad
                guard let g = node.grad else { continue }      // no gradient reached this node
                if !node.retainsGrad { node.grad = nil }
                let inputGrads = fn(g, needsMask(node))
                require(inputGrads.count == node.parentCount,
                        "backward of \(node.name) returned \(inputGrads.count) gradients for \(node.parentCount) inputs")
                for i in 0..<node.parentCount {
                    guard let parent = node.parent(i), let ig = inputGrads[i] else { continue }
                    require(ig.shape == parent.shape,
                            "backward of \(node.name): gradient shape \(ig.shape) does not match input shape \(parent.shape)")
                    parent.grad = accumulate(parent.grad, ig.dtype == parent.dtype ? ig : ig.to(parent.dtype))
                }
                if !retainGraph { node.backward = nil }
            }
        }
    }

    /// Which inputs need a gradient. Masks of up to three inputs are shared constants,
    /// so most backward steps allocate no array for them.
    static func needsMask(_ node: GradNode) -> [Bool] {
        let n = node.parentCount
        guard n <= 3 else { return (0..<n).map { node.parent($0) != nil } }
        return sharedMasks[n][node.needBits]
    }

    private static let sharedMasks: [[[Bool]]] = (0...3).map { n in
        (0..<(1 << n)).map { bits in (0..<n).map { bits & (1 << $0) != 0 } }
    }

    @inline(__always) static func accumulate(_ old: Tensor?, _ new: Tensor) -> Tensor {
        guard let old else { return new.detached() }
        return old + new
    }
}

// MARK: - The user-facing autograd API on Tensor

extension Tensor {
    /// Whether gradients are computed for this tensor. Setting it on a tensor that
    /// is the result of an operation detaches it first (it becomes a new leaf).
    public var requiresGrad: Bool {
        get { gradNode != nil }
        set {
            if newValue {
                require(dtype.isFloatingPoint, "requiresGrad: only floating-point tensors can require gradients, not \(dtype)")
                if gradNode == nil || gradNode?.isLeaf == false { gradNode = GradNode(leafShape: shape, dtype: dtype) }
            } else {
                gradNode = nil
            }
        }
    }

    /// This tensor as a new leaf that requires gradients.
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        var t = self
        t.gradNode = nil
        t.requiresGrad = flag
        return t
    }

    /// True for tensors the user created (not produced by a recorded operation).
    public var isLeaf: Bool { gradNode?.isLeaf ?? true }

    /// The accumulated gradient of a leaf (or of an interior tensor after `retainGrad()`).
    public var grad: Tensor? {
        get { gradNode?.grad }
        nonmutating set { gradNode?.grad = newValue }
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { gradNode?.grad = nil }

    /// Keeps this interior tensor's gradient after backward, as PyTorch's `retain_grad()`.
    public func retainGrad() { gradNode?.retainsGrad = true }

    /// The same values, cut from the graph: no gradient flows through the result.
    public func detached() -> Tensor {
        var t = self
        t.gradNode = nil
        return t
    }

    /// Computes gradients of this scalar with respect to every leaf it depends on,
    /// accumulating into their `.grad`. The graph is freed unless `retainGraph`.
    public func backward(retainGraph: Bool = false) {
        require(count == 1, "backward(): called on a tensor of shape \(shape); give a gradient for non-scalar outputs, backward(gradient:)")
        backward(gradient: Tensor.ones(like: self), retainGraph: retainGraph)
    }

    /// Backpropagates `gradient` (same shape as this tensor) through the graph.
    public func backward(gradient: Tensor, retainGraph: Bool = false) {
        guard let node = gradNode else {
            requirementFailure("backward(): this tensor does not require gradients; set requiresGrad on an input first")
        }
        require(gradient.shape == shape, "backward(gradient:): gradient shape \(gradient.shape) does not match tensor shape \(shape)")
        Autograd.backpropagate(from: node, seed: gradient.to(dtype), retainGraph: retainGraph)
    }
}

/// Runs `body` without recording a graph: PyTorch's `torch.no_grad()`.
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try Autograd.withoutGradients(body)
}
