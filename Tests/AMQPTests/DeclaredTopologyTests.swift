@testable import AMQP
import Testing

/// What a recovered connection declares again, without a broker.
struct DeclaredTopologyTests {
    let exchange = AMQPExchange(name: "alerts", kind: .topic)
    let other = AMQPExchange(name: "events", kind: .topic)
    let queue = AMQPQueue(name: "work", kind: .classic)

    @Test func itemsReplayInDeclarationOrderOnce() {
        var topology = DeclaredTopology()
        topology.remember(.exchange(exchange))
        topology.remember(.queue(queue))
        topology.remember(.binding(AMQPBinding(queue: "work", exchange: "alerts", routingKey: "alert.#")))
        topology.remember(.exchange(exchange))
        #expect(topology.items == [.exchange(exchange), .queue(queue), .binding(AMQPBinding(queue: "work", exchange: "alerts", routingKey: "alert.#"))])
    }

    @Test func aDeletedQueueOrExchangeIsForgottenWithItsBindings() {
        var topology = DeclaredTopology()
        topology.remember(.exchange(exchange))
        topology.remember(.exchange(other))
        topology.remember(.queue(queue))
        topology.remember(.binding(AMQPBinding(queue: "work", exchange: "alerts", routingKey: "a")))
        topology.remember(.binding(AMQPBinding(queue: "work", exchange: "events", routingKey: "b")))
        topology.forgetExchange("alerts")
        #expect(topology.items == [.exchange(other), .queue(queue), .binding(AMQPBinding(queue: "work", exchange: "events", routingKey: "b"))])
        topology.forgetQueue("work")
        #expect(topology.items == [.exchange(other)])
    }
}
