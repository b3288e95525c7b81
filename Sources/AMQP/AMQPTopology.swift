/// An exchange to declare. Declarations are remembered by the connection and made again after
/// every reconnection.
public struct AMQPExchange: Sendable, Hashable {
    public enum Kind: String, Sendable { case direct, topic, fanout, headers }
    public var name: String
    public var kind: Kind
    public var durable: Bool
    public var autoDelete: Bool
    public var arguments: [String: AMQPFieldValue]

    public init(name: String, kind: Kind = .topic, durable: Bool = true, autoDelete: Bool = false, arguments: [String: AMQPFieldValue] = [:]) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.autoDelete = autoDelete
        self.arguments = arguments
    }
}

/// A queue to declare.
public struct AMQPQueue: Sendable, Hashable {
    public enum Kind: String, Sendable { case classic, quorum }
    public var name: String
    public var kind: Kind
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    /// Other `x-` arguments: `x-dead-letter-exchange`, `x-dead-letter-routing-key`,
    /// `x-message-ttl`, `x-delivery-limit`, `x-dead-letter-strategy`, `x-overflow`, ….
    public var arguments: [String: AMQPFieldValue]

    public init(name: String, kind: Kind = .quorum, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false, arguments: [String: AMQPFieldValue] = [:]) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }

    /// The arguments sent to the broker, with `x-queue-type` from `kind`.
    var declaredArguments: [String: AMQPFieldValue] {
        var arguments = self.arguments
        arguments["x-queue-type"] = .string(kind.rawValue)
        return arguments
    }
}

/// A binding of a queue to an exchange.
public struct AMQPBinding: Sendable, Hashable {
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public var arguments: [String: AMQPFieldValue]

    public init(queue: String, exchange: String, routingKey: String, arguments: [String: AMQPFieldValue] = [:]) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.arguments = arguments
    }
}

/// Counts the broker reported when a queue was declared.
public struct AMQPQueueState: Sendable, Hashable {
    public var messageCount: Int
    public var consumerCount: Int
}

/// How the broker settled a publish.
public enum AMQPPublishOutcome: Sendable, Hashable {
    /// The broker confirmed the message (routed and stored, or dropped as unroutable without
    /// `mandatory`).
    case confirmed
    /// A `mandatory` message matched no queue and came back with this reply (312 NO_ROUTE).
    case returned(replyCode: UInt16, replyText: String)
}
