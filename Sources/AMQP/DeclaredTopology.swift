/// The exchanges, queues and bindings a connection declared, in declaration order: what a new
/// connection declares again after a loss, before its consumers resume. A deleted queue or
/// exchange is forgotten with its bindings, so a recovery never brings it back.
struct DeclaredTopology {
    enum Item: Equatable {
        case exchange(AMQPExchange)
        case queue(AMQPQueue)
        case binding(AMQPBinding)
    }

    /// In replay order: an exchange or queue comes before the bindings that name it, since the
    /// application declared it first.
    private(set) var items: [Item] = []

    mutating func remember(_ item: Item) {
        if !items.contains(item) { items.append(item) }
    }

    mutating func forgetQueue(_ name: String) {
        items.removeAll { item in
            switch item {
            case .queue(let queue): return queue.name == name
            case .binding(let binding): return binding.queue == name
            case .exchange: return false
            }
        }
    }

    mutating func forgetExchange(_ name: String) {
        items.removeAll { item in
            switch item {
            case .exchange(let exchange): return exchange.name == name
            case .binding(let binding): return binding.exchange == name
            case .queue: return false
            }
        }
    }
}
