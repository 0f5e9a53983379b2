import MyelinCore

// Batch and layer normalisation as fused kernels: one pass per channel (or row) for
// the statistics, one pass that normalises and applies the affine transform; the
// backward pass is the closed form (one reduction pass, one element-wise pass), not
// the chain of tensor ops the formula would otherwise record.

// MARK: - Batch normalisation

/// Batch normalisation with running statistics, as PyTorch's `F.batch_norm`.
///
/// `input` is [N, C, *]. In training (`training` true) the batch's mean and biased
/// variance per channel normalise the input, and the running statistics are updated
/// in place: new = (1 − momentum)·old + momentum·batch, with the unbiased batch
/// variance for `runningVar`. In evaluation the running statistics normalise.
public func batchNorm(
    _ input: Tensor, runningMean: inout Tensor, runningVar: inout Tensor,
    weight: Tensor? = nil, bias: Tensor? = nil, training: Bool = false, momentum: Double = 0.1, eps: Double = 1e-5
) -> Tensor {
    let channels = BatchNormSupport.channels(of: input, op: "batchNorm")
    require(runningMean.shape == [channels] && runningVar.shape == [channels],
            "batchNorm: running statistics of shapes \(runningMean.shape) and \(runningVar.shape) do not match the \(channels) channels of input \(input.shape)")
    if training {
        let (out, mean, unbiasedVar) = BatchNormSupport.forward(input, weight: weight, bias: bias, eps: eps, running: nil, op: "batchNorm")
        BatchNormSupport.update(&runningMean, with: mean, factor: momentum)
        BatchNormSupport.update(&runningVar, with: unbiasedVar, factor: momentum)
        return out
    }
    return BatchNormSupport.forward(input, weight: weight, bias: bias, eps: eps, running: (runningMean, runningVar), op: "batchNorm").0
}

/// Batch normalisation with the batch's own statistics and no running statistics
/// (PyTorch's `F.batch_norm(x, None, None, training=True)`).
public func batchNorm(_ input: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) -> Tensor {
    BatchNormSupport.forward(input, weight: weight, bias: bias, eps: eps, running: nil, op: "batchNorm").0
}

enum BatchNormSupport {
    /// The channel count (axis 1) of a batch-norm input, after checking its rank.
    static func channels(of input: Tensor, op: String) -> Int {
        require(input.rank >= 2, "\(op): input must be [N, C, *], got shape \(input.shape)")
        return input.shape[1]
    }

    /// running ← (1 − factor)·running + factor·batch, in the running tensor's dtype.
    static func update(_ running: inout Tensor, with batch: [Double], factor: Double) {
        switch running.dtype {
        case .float64:
            running.withUnsafeMutablePointer(as: Double.self) { p in
                for c in batch.indices { p[c] = (1 - factor) * p[c] + factor * batch[c] }
            }
        case .float32:
            let f = Float(factor), g = Float(1 - factor)
            running.withUnsafeMutablePointer(as: Float.self) { p in
                for c in batch.indices { p[c] = g * p[c] + f * Float(batch[c]) }
            }
        default: requirementFailure("batchNorm: running statistics must be float32 or float64, not \(running.dtype)")
        }
    }

    /// Normalises `input` [N, C, S...] per channel with the batch statistics (`running` nil)
    /// or the given running statistics. Returns the output, and in the batch case the batch
    /// mean and unbiased variance per channel (for the running statistics).
    static func forward(
        _ input: Tensor, weight: Tensor?, bias: Tensor?, eps: Double, running: (Tensor, Tensor)?, op: String
    ) -> (Tensor, [Double], [Double]) {
        let c = channels(of: input, op: op)
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let t { require(t.shape == [c], "\(op): \(name) of shape \(t.shape) does not match the \(c) channels of input \(input.shape)") }
        }
        var dt = input.dtype.isFloatingPoint ? input.dtype : .float32
        if weight?.dtype == .float64 || bias?.dtype == .float64 { dt = .float64 }
        let x = input.to(dt), w = weight?.to(dt), b = bias?.to(dt)
        let n = input.shape[0], s = Shape.count(Array(input.shape[2...])), m = n * s
        if running == nil {
            require(m > 1, "\(op): expected more than 1 value per channel when training, got input of shape \(input.shape)")
        }
        // Per-channel statistics in Double: the batch's, or the running ones.
        var mean = [Double](repeating: 0, count: c), variance = [Double](repeating: 0, count: c)
        if let (rm, rv) = running {
            mean = rm.scalars(as: Double.self)
            variance = rv.scalars(as: Double.self)
        } else if m > 0 {
            withExtendedLifetime(x) {
                switch dt {
                case .float64: channelMoments(x.storage.pointer(as: Double.self), n: n, c: c, s: s, mean: &mean, variance: &variance)
                default: channelMoments(x.storage.pointer(as: Float.self), n: n, c: c, s: s, mean: &mean, variance: &variance)
                }
            }
        }
        let invstd = variance.map { 1 / ($0 + eps).squareRoot() }
        let wv = w?.scalars(as: Double.self), bv = b?.scalars(as: Double.self)
        // y = (x − mean)·scale + shift per channel; subtracting the mean first keeps digits that
        // x·scale + (shift − mean·scale) would cancel away when |mean| ≫ std.
        var scale = [Double](repeating: 0, count: c), shift = [Double](repeating: 0, count: c)
        for k in 0..<c {
            scale[k] = (wv?[k] ?? 1) * invstd[k]
            shift[k] = bv?[k] ?? 0
        }
        let out = Tensor(uninitializedShape: input.shape, dtype: dt)
        withExtendedLifetime(x) {
            switch dt {
            case .float64: affinePerChannel(x.storage.pointer(as: Double.self), out.storage.pointer(as: Double.self), n: n, c: c, s: s, mean: mean, scale: scale, shift: shift)
            default: affinePerChannel(x.storage.pointer(as: Float.self), out.storage.pointer(as: Float.self), n: n, c: c, s: s, mean: mean, scale: scale, shift: shift)
            }
        }
        let batchStats = running == nil
        var inputs = [x]
        if let w { inputs.append(w) }
        if let b { inputs.append(b) }
        let hasWeight = w != nil, hasBias = b != nil
        let result = Autograd.record(out, inputs: inputs, name: op) { g, needs in
            let g = g.to(dt)
            let needX = needs[0], needW = hasWeight && needs[1], needB = hasBias && needs[hasWeight ? 2 : 1]
            let gx = needX ? Tensor(uninitializedShape: x.shape, dtype: dt) : nil
            var sumG = [Double](repeating: 0, count: c), sumGXhat = [Double](repeating: 0, count: c)
            withExtendedLifetime((g, x, gx)) {
                switch dt {
                case .float64:
                    backward(g.storage.pointer(as: Double.self), x.storage.pointer(as: Double.self), gx?.storage.pointer(as: Double.self),
                             n: n, c: c, s: s, mean: mean, invstd: invstd, weight: wv, batchStats: batchStats, sumG: &sumG, sumGXhat: &sumGXhat)
                default:
                    backward(g.storage.pointer(as: Float.self), x.storage.pointer(as: Float.self), gx?.storage.pointer(as: Float.self),
                             n: n, c: c, s: s, mean: mean, invstd: invstd, weight: wv, batchStats: batchStats, sumG: &sumG, sumGXhat: &sumGXhat)
                }
            }
            var grads: [Tensor?] = [gx]
            if hasWeight { grads.append(needW ? Tensor(sumGXhat, shape: [c], dtype: dt) : nil) }
            if hasBias { grads.append(needB ? Tensor(sumG, shape: [c], dtype: dt) : nil) }
            return grads
        }
        let unbiased = variance.map { m > 1 ? $0 * Double(m) / Double(m - 1) : $0 }
        return (result, mean, unbiased)
    }

    /// Mean and biased variance of each channel of [n, c, s], one pass over the data:
    /// sums of x − K and (x − K)² in Double around a pivot K taken from the channel,
    /// so the subtraction does not cancel catastrophically.
    static func channelMoments<T: FloatElement>(
        _ x: UnsafePointer<T>, n: Int, c: Int, s: Int, mean: inout [Double], variance: inout [Double]
    ) {
        let m = Double(n * s)
        mean.withUnsafeMutableBufferPointer { meanP in
            variance.withUnsafeMutableBufferPointer { varP in
                let mp = meanP, vp = varP
                Threading.parallelFor(c, grain: Swift.max(1, Threading.elementwiseGrain / Swift.max(n * s, 1))) { range in
                    for k in range {
                        let pivotT = x[k * s], pivot = Double(pivotT)
                        var s1 = 0.0, s2 = 0.0
                        for i in 0..<n {
                            let (r1, r2) = NNKernels.shiftedMoments(x + (i * c + k) * s, s, shift: pivotT)
                            s1 += r1
                            s2 += r2
                        }
                        let meanShift = s1 / m
                        mp[k] = pivot + meanShift
                        vp[k] = Swift.max(0, s2 / m - meanShift * meanShift)
                    }
                }
            }
        }
    }

    /// out = (x − mean[c])·scale[c] + shift[c] over [n, c, s].
    static func affinePerChannel<T: FloatElement>(
        _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, n: Int, c: Int, s: Int,
        mean: [Double], scale: [Double], shift: [Double]
    ) {
        // The mean as a rounded head and the tail it lost, subtracted in turn.
        let m = mean.map { T($0) }, mt = zip(mean, m).map { T($0 - Double($1)) }
        let a = scale.map { T($0) }, b = shift.map { T($0) }
        Threading.parallelFor(n * c, grain: Swift.max(1, Threading.elementwiseGrain / Swift.max(s, 1))) { range in
            for row in range {
                let k = row % c, sm = m[k], st = mt[k], sa = a[k], sb = b[k]
                let src = x + row * s, dst = out + row * s
                for j in 0..<s { dst[j] = ((src[j] - sm) - st) * sa + sb }
            }
        }
    }

    /// Per channel: Σg and Σg·x̂; then, when `gx` is given, the input gradient:
    /// batch statistics: gx = w·invstd·(g − Σg/M − x̂·Σg·x̂/M); running statistics: gx = w·invstd·g.
    static func backward<T: FloatElement>(
        _ g: UnsafePointer<T>, _ x: UnsafePointer<T>, _ gx: UnsafeMutablePointer<T>?, n: Int, c: Int, s: Int,
        mean: [Double], invstd: [Double], weight: [Double]?, batchStats: Bool,
        sumG: inout [Double], sumGXhat: inout [Double]
    ) {
        let m = Double(n * s)
        sumG.withUnsafeMutableBufferPointer { sgP in
            sumGXhat.withUnsafeMutableBufferPointer { sgxP in
                let sgp = sgP, sgxp = sgxP
                Threading.parallelFor(c, grain: Swift.max(1, Threading.elementwiseGrain / Swift.max(n * s, 1))) { range in
                    for k in range {
                        // Moments around the channel's first element (exact in T), then moved to the mean.
                        let mu = mean[k], r = invstd[k], pivotT = n * s > 0 ? x[k * s] : 0, pivot = Double(pivotT)
                        var a = 0.0, b = 0.0
                        for i in 0..<n {
                            let off = (i * c + k) * s
                            let (ra, rb) = NNKernels.gradientMoments(g + off, nil, x + off, s, shift: pivotT)
                            a += ra
                            b += rb
                        }
                        b = (b - a * (mu - pivot)) * r
                        sgp[k] = a
                        sgxp[k] = b
                        guard let gx else { continue }
                        let scale = (weight?[k] ?? 1) * r
                        if batchStats {
                            // gx = scale·(g − a/M − (x − μ)·r·b/M) = g·scale + (x − μ)·cx + c0
                            let cg = T(scale), cx = T(-scale * r * b / m), c0 = T(-scale * a / m), tmu = T(mu)
                            for i in 0..<n {
                                let off = (i * c + k) * s
                                for j in 0..<s { gx[off + j] = g[off + j] * cg + (x[off + j] - tmu) * cx + c0 }
                            }
                        } else {
                            let cg = T(scale)
                            for i in 0..<n {
                                let off = (i * c + k) * s
                                for j in 0..<s { gx[off + j] = g[off + j] * cg }
                            }
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Layer normalisation

/// Layer normalisation over the trailing `normalizedShape` axes, as PyTorch's `F.layer_norm`:
/// each row is normalised by its own mean and biased variance, then scaled by `weight`
/// and shifted by `bias` (both of shape `normalizedShape`, element-wise).
public func layerNorm(
    _ input: Tensor, normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5
) -> Tensor {
    let k = normalizedShape.count
    require(k >= 1 && input.rank >= k && Array(input.shape.suffix(k)) == normalizedShape,
            "layerNorm: input of shape \(input.shape) does not end in the normalized shape \(normalizedShape)")
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let t { require(t.shape == normalizedShape, "layerNorm: \(name) of shape \(t.shape) must have the normalized shape \(normalizedShape)") }
    }
    var dt = input.dtype.isFloatingPoint ? input.dtype : .float32
    if weight?.dtype == .float64 || bias?.dtype == .float64 { dt = .float64 }
    let x = input.to(dt), w = weight?.to(dt), b = bias?.to(dt)
    let d = Shape.count(normalizedShape), rows = d == 0 ? 0 : input.count / d
    let out = Tensor(uninitializedShape: input.shape, dtype: dt)
    var mean = [Double](repeating: 0, count: rows), invstd = [Double](repeating: 0, count: rows)
    withExtendedLifetime((x, w, b)) {
        switch dt {
        case .float64:
            LayerNormSupport.forward(x.storage.pointer(as: Double.self), w?.storage.pointer(as: Double.self), b?.storage.pointer(as: Double.self),
                                     out.storage.pointer(as: Double.self), rows: rows, d: d, eps: eps, mean: &mean, invstd: &invstd)
        default:
            LayerNormSupport.forward(x.storage.pointer(as: Float.self), w?.storage.pointer(as: Float.self), b?.storage.pointer(as: Float.self),
                                     out.storage.pointer(as: Float.self), rows: rows, d: d, eps: eps, mean: &mean, invstd: &invstd)
        }
    }
    var inputs = [x]
    if let w { inputs.append(w) }
    if let b { inputs.append(b) }
    let hasWeight = w != nil, hasBias = b != nil
    return Autograd.record(out, inputs: inputs, name: "layerNorm") { g, needs in
        let g = g.to(dt)
        let needW = hasWeight && needs[1], needB = hasBias && needs[hasWeight ? 2 : 1]
        let gx = needs[0] ? Tensor(uninitializedShape: x.shape, dtype: dt) : nil
        let gw = needW ? Tensor(uninitializedShape: normalizedShape, dtype: dt) : nil
        let gb = needB ? Tensor(uninitializedShape: normalizedShape, dtype: dt) : nil
        withExtendedLifetime((g, x, w, gx, gw, gb)) {
            switch dt {
            case .float64:
                LayerNormSupport.backward(g.storage.pointer(as: Double.self), x.storage.pointer(as: Double.self), w?.storage.pointer(as: Double.self),
                                          gx?.storage.pointer(as: Double.self), gw?.storage.pointer(as: Double.self), gb?.storage.pointer(as: Double.self),
                                          rows: rows, d: d, mean: mean, invstd: invstd)
            default:
                LayerNormSupport.backward(g.storage.pointer(as: Float.self), x.storage.pointer(as: Float.self), w?.storage.pointer(as: Float.self),
                                          gx?.storage.pointer(as: Float.self), gw?.storage.pointer(as: Float.self), gb?.storage.pointer(as: Float.self),
                                          rows: rows, d: d, mean: mean, invstd: invstd)
            }
        }
        var grads: [Tensor?] = [gx]
        if hasWeight { grads.append(gw) }
        if hasBias { grads.append(gb) }
        return grads
    }
}

enum LayerNormSupport {
    static func rowGrain(_ d: Int) -> Int { Swift.max(1, Threading.elementwiseGrain / Swift.max(d, 1)) }

    /// Per row: mean and variance (two passes over the row, which stays in cache), then
    /// y = (x − μ)·invstd·w + b.
    static func forward<T: FloatElement>(
        _ x: UnsafePointer<T>, _ w: UnsafePointer<T>?, _ b: UnsafePointer<T>?, _ y: UnsafeMutablePointer<T>,
        rows: Int, d: Int, eps: Double, mean: inout [Double], invstd: inout [Double]
    ) {
        mean.withUnsafeMutableBufferPointer { meanP in
            invstd.withUnsafeMutableBufferPointer { invP in
                let mp = meanP, ip = invP
                Threading.parallelFor(rows, grain: rowGrain(d)) { range in
                    for r in range {
                        let (mu, inv) = forwardRow(x + r * d, w, b, y + r * d, d: d, eps: eps)
                        mp[r] = mu
                        ip[r] = inv
                    }
                }
            }
        }
    }

    /// One row of `forward`: normalises x[0..<d] into y (which may be x itself) and returns
    /// the row's mean and inverse standard deviation.
    @inline(__always)
    static func forwardRow<T: FloatElement>(
        _ src: UnsafePointer<T>, _ w: UnsafePointer<T>?, _ b: UnsafePointer<T>?, _ dst: UnsafeMutablePointer<T>, d: Int, eps: Double
    ) -> (mean: Double, invstd: Double) {
        // One pass around the row's first element: no catastrophic cancellation
        // unless the row's spread is tiny next to its offset from that element.
        let (s1, s2) = NNKernels.shiftedMoments(src, d, shift: src[0])
        let shiftMean = s1 / Double(d)
        let mu = Double(src[0]) + shiftMean
        let inv = 1 / (Swift.max(0, s2 / Double(d) - shiftMean * shiftMean) + eps).squareRoot()
        // The mean as a rounded head and the tail it lost, subtracted in turn.
        let tmu = T(mu), tail = T(mu - Double(tmu)), tinv = T(inv)
        switch (w, b) {
        case let (w?, b?): for j in 0..<d { dst[j] = ((src[j] - tmu) - tail) * tinv * w[j] + b[j] }
        case let (w?, nil): for j in 0..<d { dst[j] = ((src[j] - tmu) - tail) * tinv * w[j] }
        case let (nil, b?): for j in 0..<d { dst[j] = ((src[j] - tmu) - tail) * tinv + b[j] }
        case (nil, nil): for j in 0..<d { dst[j] = ((src[j] - tmu) - tail) * tinv }
        }
        return (mu, inv)
    }

    /// gx = invstd·(gŵ − mean(gŵ) − x̂·mean(gŵ·x̂)) per row, with gŵ = g·w; gw = Σ_rows g·x̂ and
    /// gb = Σ_rows g, accumulated per block of rows in Double and then added up.
    static func backward<T: FloatElement>(
        _ g: UnsafePointer<T>, _ x: UnsafePointer<T>, _ w: UnsafePointer<T>?,
        _ gx: UnsafeMutablePointer<T>?, _ gw: UnsafeMutablePointer<T>?, _ gb: UnsafeMutablePointer<T>?,
        rows: Int, d: Int, mean: [Double], invstd: [Double]
    ) {
        let needParams = gw != nil || gb != nil
        let blocks = needParams ? Swift.max(1, Swift.min(Threading.threadCount, rows * d / Threading.elementwiseGrain)) : 1
        var partialW = [Double](repeating: 0, count: needParams ? blocks * d : 0)
        var partialB = [Double](repeating: 0, count: needParams ? blocks * d : 0)
        partialW.withUnsafeMutableBufferPointer { pwP in
            partialB.withUnsafeMutableBufferPointer { pbP in
                let pw = pwP, pb = pbP
                let body: (Int, Range<Int>) -> Void = { block, range in
                    for r in range {
                        let gr = g + r * d, xr = x + r * d
                        let mu = mean[r], inv = invstd[r]
                        if needParams {
                            let ow = block * d
                            for j in 0..<d {
                                let gv = Double(gr[j])
                                pw[ow + j] += gv * (Double(xr[j]) - mu) * inv
                                pb[ow + j] += gv
                            }
                        }
                        guard let gx else { continue }
                        let (a, bShifted) = NNKernels.gradientMoments(gr, w, xr, d, shift: xr[0])
                        let bsum = (bShifted - a * (mu - Double(xr[0]))) * inv
                        let dd = Double(d)
                        // gx = inv·gŵ − inv·a/D − x̂·inv·b/D = gŵ·inv + (x − μ)·cx + c0
                        let ci = T(inv), cx = T(-inv * inv * bsum / dd), c0 = T(-inv * a / dd), tmu = T(mu)
                        let out = gx + r * d
                        if let w {
                            for j in 0..<d { out[j] = gr[j] * w[j] * ci + (xr[j] - tmu) * cx + c0 }
                        } else {
                            for j in 0..<d { out[j] = gr[j] * ci + (xr[j] - tmu) * cx + c0 }
                        }
                    }
                }
                if needParams {
                    Threading.parallelFor(blocks, grain: 1) { br in
                        for block in br { body(block, (rows * block / blocks)..<(rows * (block + 1) / blocks)) }
                    }
                } else {
                    Threading.parallelFor(rows, grain: rowGrain(d)) { range in body(0, range) }
                }
            }
        }
        guard needParams else { return }
        for j in 0..<d {
            var sw = 0.0, sb = 0.0
            for block in 0..<blocks {
                sw += partialW[block * d + j]
                sb += partialB[block * d + j]
            }
            gw?[j] = T(sw)
            gb?[j] = T(sb)
        }
    }
}
