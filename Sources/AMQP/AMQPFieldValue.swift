/// A value in an AMQP field table (message headers, queue and exchange arguments).
public enum AMQPFieldValue: Sendable, Hashable {
    case string(String)
    case bytes([UInt8])
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case timestamp(UInt64)
    case table([String: AMQPFieldValue])
    case array([AMQPFieldValue])
    case void

    /// The value as text when it is a string (or UTF-8 bytes), for headers such as `x-reason`.
    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .bytes(let b): return String(validating: b, as: UTF8.self)
        default: return nil
        }
    }

    /// The value as a whole number when it is one (RabbitMQ's `x-delivery-count` is a long).
    public var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }
}

extension AMQPFieldValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

/// Message properties (the AMQP `basic` content header).
public struct AMQPProperties: Sendable, Hashable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: [String: AMQPFieldValue]
    /// `true` stores the message on disk (delivery mode 2).
    public var persistent: Bool
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    public var expiration: String?
    public var messageID: String?
    public var timestamp: UInt64?
    public var type: String?
    public var appID: String?

    public init(
        contentType: String? = nil,
        headers: [String: AMQPFieldValue] = [:],
        persistent: Bool = true,
        correlationID: String? = nil,
        replyTo: String? = nil,
        messageID: String? = nil,
        type: String? = nil,
        appID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = nil
        self.headers = headers
        self.persistent = persistent
        self.priority = nil
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = nil
        self.messageID = messageID
        self.timestamp = nil
        self.type = type
        self.appID = appID
    }
}
