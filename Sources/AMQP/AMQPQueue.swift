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
