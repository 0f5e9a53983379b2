import Foundation

/// Draws an index from `logits` [V] (or the last row of [..., V]) with a temperature:
/// softmax(logits / temperature); temperature 0 takes the arg-max. Seeded by `generator`.
public func sampleCategorical(logits: Tensor, temperature: Double = 1, generator: RandomGenerator = .default) -> Int {
    require(temperature >= 0 && temperature.isFinite, "sampleCategorical: temperature must be ≥ 0, got \(temperature)")
    let values = logits.detached().to(.float64).scalars(as: Double.self)
    let v = logits.shape.last ?? values.count
    require(v > 0 && values.count >= v, "sampleCategorical: logits must have a last axis of at least 1, got shape \(logits.shape)")
    let row = Array(values[(values.count - v)...])
    if temperature == 0 { return row.indices.max { row[$0] < row[$1] } ?? 0 }
    let top = row.max() ?? 0
    let weights = row.map { Foundation.exp(($0 - top) / temperature) }
    let total = weights.reduce(0, +)
    var u = Tensor.uniform([1], dtype: .float64, generator: generator).scalars(as: Double.self)[0] * total
    for (i, w) in weights.enumerated() {
        u -= w
        if u < 0 { return i }
    }
    return v - 1
}
