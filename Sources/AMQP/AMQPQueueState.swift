/// Counts the broker reported when a queue was declared.
public struct AMQPQueueState: Sendable, Hashable {
    public var messageCount: Int
    public var consumerCount: Int
}
