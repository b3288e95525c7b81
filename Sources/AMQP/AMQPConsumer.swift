/// The deliveries of one consumer, in order. Consumption survives reconnections: after a
/// connection loss the consumer is subscribed again and the sequence goes on. It ends when the
/// consumer is cancelled (by ``cancel()``, by the broker when its queue is deleted, or when the
/// connection is closed).
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    public let consumerTag: String
    let stream: AsyncThrowingStream<AMQPDelivery, any Error>
    let connection: AMQPConnection

    public func makeAsyncIterator() -> AsyncThrowingStream<AMQPDelivery, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }

    /// Stops deliveries to this consumer. Unacknowledged deliveries go back to the queue when
    /// the channel closes, or can still be settled now.
    public func cancel() async throws(AMQPError) {
        try await connection.cancel(consumerTag: consumerTag)
    }
}
