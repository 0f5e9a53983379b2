import MyelinCore

/// y = x·Wᵀ + b over the last axis of `input` (weight [out, in], bias [out]), as
/// PyTorch's `F.linear`. The bias is written into the output first and the GEMM adds
/// the product onto it (beta = 1), so the bias costs no extra pass or temporary.
public func linear(_ input: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    require(weight.rank == 2, "linear: weight must be [out, in], got shape \(weight.shape)")
    let (outF, inF) = (weight.shape[0], weight.shape[1])
    require(input.rank >= 1 && input.shape.last == inF,
            "linear: input of shape \(input.shape) must end in \(inF) features (weight \(weight.shape))")
    if let bias { require(bias.shape == [outF], "linear: bias of shape \(bias.shape) must be [\(outF)] (weight \(weight.shape))") }
    var dt = DType.float32
    if input.dtype == .float64 || weight.dtype == .float64 || bias?.dtype == .float64 { dt = .float64 }
    let x = input.to(dt), w = weight.to(dt), b = bias?.to(dt)
    let rows = inF == 0 ? input.count : input.count / inF
    var outShape = input.shape
    outShape[outShape.count - 1] = outF
    let out = Tensor(uninitializedShape: outShape, dtype: dt)
    func run<T: FloatElement>(_: T.Type) {
        let c = out.storage.pointer(as: T.self)
        if let b {
            let bp = b.storage.pointer(as: T.self)
            for r in 0..<rows { (c + r * outF).update(from: bp, count: outF) }
        }
        GEMM.gemm(transA: false, transB: true, m: rows, n: outF, k: inF, alpha: 1,
                  a: x.storage.pointer(as: T.self), lda: inF, b: w.storage.pointer(as: T.self), ldb: inF,
                  beta: b == nil ? 0 : 1, c: c, ldc: outF)
    }
    withExtendedLifetime((x, w, b)) {
        switch dt {
        case .float64: run(Double.self)
        default: run(Float.self)
        }
    }
    // The backward calls GEMM directly on raw pointers (no matmul op, no transposed
    // copies, no reshape bookkeeping): dX = G·W, dW = Gᵀ·X, db = column sums of G.
    let inputs: [Tensor] = b.map { [x, w, $0] } ?? [x, w]
    return Autograd.record(out, inputs: inputs, name: "linear") { g, needs in
        let g = g.to(dt)
        var gx: Tensor? = nil, gw: Tensor? = nil, gb: Tensor? = nil
        func run<T: FloatElement>(_: T.Type) {
            let gp = g.storage.pointer(as: T.self)
            if needs[0] {
                let t = Tensor(uninitializedShape: x.shape, dtype: dt)
                GEMM.gemm(transA: false, transB: false, m: rows, n: inF, k: outF, alpha: 1,
                          a: gp, lda: outF, b: w.storage.pointer(as: T.self), ldb: inF,
                          beta: 0, c: t.storage.pointer(as: T.self), ldc: inF)
                gx = t
            }
            if needs[1] {
                let t = Tensor(uninitializedShape: [outF, inF], dtype: dt)
                if rows == 0 {
                    t.storage.pointer(as: T.self).update(repeating: 0, count: outF * inF)
                } else {
                    GEMM.gemm(transA: true, transB: false, m: outF, n: inF, k: rows, alpha: 1,
                              a: gp, lda: outF, b: x.storage.pointer(as: T.self), ldb: inF,
                              beta: 0, c: t.storage.pointer(as: T.self), ldc: inF)
                }
                gw = t
            }
            if needs.count > 2 && needs[2] {
                let t = Tensor(uninitializedShape: [outF], dtype: dt)
                let tp = t.storage.pointer(as: T.self)
                if rows == 0 {
                    tp.update(repeating: 0, count: outF)
                } else {
                    Kernels.reduceColumns(SumCombiner.self, gp, rows: rows, stride: outF, width: outF, into: tp)
                }
                gb = t
            }
        }
        withExtendedLifetime((g, x, w)) {
            switch dt {
            case .float64: run(Double.self)
            default: run(Float.self)
            }
        }
        return needs.count > 2 ? [gx, gw, gb] : [gx, gw]
    }
}

/// y = x·Wᵀ + b over the last axis, as PyTorch's `nn.Linear` (weight shape [out, in]).
///
/// Initialised as PyTorch does: W and b uniform in ±1/√in (kaiming_uniform with a = √5).
public final class Linear: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    public let bias: Parameter?
    public let inFeatures: Int, outFeatures: Int

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: RandomGenerator = .default) {
        require(inFeatures > 0 && outFeatures > 0, "Linear: feature counts must be positive, got \(inFeatures) → \(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        let bound = 1 / Double(inFeatures).squareRoot()
        _weight = Parameter(wrappedValue: Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, generator: generator))
        self.bias = bias ? Parameter(wrappedValue: Tensor.uniform([outFeatures], low: -bound, high: bound, generator: generator)) : nil
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        require(x.rank >= 1 && x.shape.last == inFeatures,
                "Linear(\(inFeatures) → \(outFeatures)): input shape \(x.shape) must end in \(inFeatures)")
        return linear(x, weight: weight, bias: bias?.value)
    }
}
