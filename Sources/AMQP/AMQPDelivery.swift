/// A message delivered to a consumer. Settle it exactly once with ``ack()``, ``nack(requeue:)``
/// or ``reject(requeue:)``; until then it counts against the consumer's prefetch.
public struct AMQPDelivery: Sendable {
    public let body: [UInt8]
    public let exchange: String
    public let routingKey: String
    /// `true` when the broker delivered this message before (to this or another consumer)
    /// without an ack.
    public let redelivered: Bool
    public let properties: AMQPProperties
    public let deliveryTag: UInt64
    /// The channel incarnation that delivered the message; acks must go to that channel.
    let channelGeneration: UInt64
    let connection: AMQPConnection

    /// Tells the broker the message is handled; it is removed from the queue.
    public func ack() async throws(AMQPError) {
        try await connection.settle(self, .ack)
    }

    /// Returns the message to the queue (`requeue: true`, redelivered with the flag set) or
    /// drops it to the queue's dead-letter exchange.
    public func nack(requeue: Bool) async throws(AMQPError) {
        try await connection.settle(self, .nack(requeue: requeue))
    }

    /// Like ``nack(requeue:)``; without requeue the message is dead-lettered with reason `rejected`.
    public func reject(requeue: Bool = false) async throws(AMQPError) {
        try await connection.settle(self, .reject(requeue: requeue))
    }
}

extension AMQPDelivery {
    /// A delivery as the broker would hand it over, for tests of how messages are read (its
    /// settlement goes to `connection`, which never delivered it: do not settle it).
    package init(body: [UInt8], exchange: String, routingKey: String, properties: AMQPProperties, connection: AMQPConnection) {
        self.init(body: body, exchange: exchange, routingKey: routingKey, redelivered: false, properties: properties, deliveryTag: 0,
                  channelGeneration: 0, connection: connection)
    }
}
