import MyelinCore
import MyelinNN

// The head most image classifiers share (torchvision's layout): pooling, flattening and a
// classifier ("classifier" or "fc"). With `includeTop: false` a model has neither, and its
// features pass through. Children run through callWithHooks, so forward hooks see them.

/// `classifier(flatten(pool(features)))`, or `features` when the model has no head.
func classify(_ features: Tensor, pool: (any UnaryLayer)?, classifier: (any UnaryLayer)?) -> Tensor {
    guard let pool, let classifier else { return features }
    return classifier.callWithHooks(pool.callWithHooks(features).flattened(startAxis: 1))
}

extension SummaryTracer {
    /// Traces named children one after the other; returns the last output shape.
    public func traceChain(_ layers: [(String, any UnaryLayer)], input: [Int]) -> [Int] {
        layers.reduce(input) { shape, layer in trace(layer.1, name: layer.0, input: shape) }
    }

    /// Traces the head of `classify`: the pool as "avgpool", then the classifier as `name`.
    func traceHead(_ features: [Int], pool: (any UnaryLayer)?, classifier: (any UnaryLayer)?, name: String) -> [Int] {
        guard let pool, let classifier else { return features }
        let pooled = trace(pool, name: "avgpool", input: features)
        return trace(classifier, name: name, input: [pooled[0], pooled.dropFirst().reduce(1, *)])
    }
}
