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
    /// How many inputs the operation had. The first three parents are stored inline (no
    /// array to allocate per recorded op); more go to `extraParents`.
    let parentCount: Int
    private let p0: GradNode?, p1: GradNode?, p2: GradNode?
    private let extraParents: [GradNode?]
    /// Which of the first three inputs need a gradient (bit i for input i).
    let needBits: Int
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

    var isLeaf: Bool { parentCount == 0 && backward == nil }

    /// Node of input `i`, aligned with the closure's result; `nil` for inputs that need no gradient.
    @inline(__always) func parent(_ i: Int) -> GradNode? {
        switch i {
        case 0: return p0
        case 1: return p1
        case 2: return p2
        default: return extraParents[i - 3]
        }
    }

    /// Nodes of the inputs (an array, for the rare caller that wants one).
    var parents: [GradNode?] { (0..<parentCount).map { parent($0) } }

    init(leafShape shape: [Int], dtype: DType) {
        self.name = "leaf"
        self.parentCount = 0
        self.p0 = nil; self.p1 = nil; self.p2 = nil
        self.extraParents = []
        self.needBits = 0
        self.backward = nil
        self.shape = shape
        self.dtype = dtype
    }

    init(name: String, inputs: [Tensor], shape: [Int], dtype: DType, backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.name = name
        let n = inputs.count
        self.parentCount = n
        self.p0 = n > 0 ? inputs[0].gradNode : nil
        self.p1 = n > 1 ? inputs[1].gradNode : nil
        self.p2 = n > 2 ? inputs[2].gradNode : nil
        self.extraParents = n > 3 ? inputs[3...].map(\.gradNode) : []
        var bits = 0
        for i in 0..<Swift.min(n, 3) where inputs[i].gradNode != nil { bits |= 1 << i }
        self.needBits = bits
        self.backward = backward
        self.shape = shape
        self.dtype = dtype
    }
}
