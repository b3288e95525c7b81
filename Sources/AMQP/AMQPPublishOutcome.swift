/// How the broker settled a publish.
public enum AMQPPublishOutcome: Sendable, Hashable {
    /// The broker confirmed the message (routed and stored, or dropped as unroutable without
    /// `mandatory`).
    case confirmed
    /// A `mandatory` message matched no queue and came back with this reply (312 NO_ROUTE).
    case returned(replyCode: UInt16, replyText: String)
}
