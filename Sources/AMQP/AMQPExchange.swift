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
