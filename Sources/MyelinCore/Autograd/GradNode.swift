/// One vertex of the autograd graph.
///
/// A leaf (a tensor the user marked `requiresGrad`) accumulates `grad` across
/// backward passes. An interior node remembers the operation that produced a
/// tensor: its parents and a closure that maps the output's gradient to the
/// gradients of the inputs. Nodes exist only when some input needs a gradient
/// and recording is enabled, so inference builds no graph at all.
final class GradNode {
    /// What produced the tensor ("add", "matmul", ...), for error messages and debugging.
    let name: String
    /// Nodes of the inputs, aligned with the closure's result; `nil` for inputs
    /// that need no gradient.
    let parents: [GradNode?]
    /// (output gradient, which inputs need one) → input gradients. `nil` for leaves and
    /// after the graph is freed. The mask is derived from `parents` when backward runs,
    /// so recording an op allocates nothing beyond the node and its closure.
    var backward: ((Tensor, [Bool]) -> [Tensor?])?
    /// The shape and dtype of the tensor this node belongs to: gradients must match them.
    let shape: [Int]
    let dtype: DType
    /// Accumulated gradient: persistent on leaves, transient on interior nodes.
    var grad: Tensor?
    /// Interior nodes keep their gradient after backward only when asked (PyTorch's retain_grad).
    var retainsGrad = false
    /// Scratch for the topological sort.
    var visitEpoch = 0

    var isLeaf: Bool { parents.isEmpty && backward == nil }

    init(leafShape shape: [Int], dtype: DType) {
        self.name = "leaf"
        self.parents = []
        self.backward = nil
        self.shape = shape
        self.dtype = dtype
    }

    init(name: String, parents: [GradNode?], shape: [Int], dtype: DType, backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.name = name
        self.parents = parents
        self.backward = backward
        self.shape = shape
        self.dtype = dtype
    }
}
