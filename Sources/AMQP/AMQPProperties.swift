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
