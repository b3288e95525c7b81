/// What went wrong talking to the broker.
///
/// Descriptions name the host and the broker's reply but never a password.
public enum AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The connection URL could not be used.
    case invalidURL(String)
    /// TCP connect or the AMQP handshake failed (broker down, wrong port, timeout).
    case connectFailed(host: String, port: Int, reason: String)
    /// The broker refused the credentials or the vhost.
    case loginFailed(reason: String)
    /// The broker closed the connection with this reply (e.g. 320 CONNECTION_FORCED).
    case connectionClosed(replyCode: UInt16, replyText: String)
    /// The broker closed the channel with this reply (e.g. 404 NOT_FOUND, 406 PRECONDITION_FAILED).
    case channelClosed(replyCode: UInt16, replyText: String)
    /// The connection dropped while the operation was in flight or before it could start; the
    /// operation may or may not have reached the broker (an unconfirmed publish is not known to
    /// be stored). Retry it after the connection recovers.
    case connectionLost(reason: String)
    /// The broker answered a publish with `basic.nack`: it did not take responsibility for it.
    case publishNacked
    /// A delivery from an earlier channel or connection can no longer be acknowledged; the broker
    /// redelivers it.
    case staleDelivery
    /// The broker did not answer within the configured time.
    case timeout(operation: String)
    /// The connection was closed by the application.
    case closed
    /// Any other failure reported by librabbitmq-c.
    case library(operation: String, reason: String)
    /// The TLS settings cannot be used (an unreadable CA file, a certificate without its key).
    case tls(reason: String)

    /// Whether trying again later (after a reconnection) can succeed.
    public var isRetryable: Bool {
        switch self {
        case .connectFailed, .connectionClosed, .connectionLost, .publishNacked, .staleDelivery, .timeout:
            return true
        case .invalidURL, .loginFailed, .channelClosed, .closed, .library, .tls:
            return false
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let reason): return "invalid AMQP URL: \(reason)"
        case .connectFailed(let host, let port, let reason): return "cannot connect to RabbitMQ at \(host):\(port): \(reason)"
        case .loginFailed(let reason): return "RabbitMQ refused the login: \(reason)"
        case .tls(let reason): return "RabbitMQ TLS settings: \(reason)"
        case .connectionClosed(let code, let text): return "RabbitMQ closed the connection: \(code) \(text)"
        case .channelClosed(let code, let text): return "RabbitMQ closed the channel: \(code) \(text)"
        case .connectionLost(let reason): return "RabbitMQ connection lost: \(reason)"
        case .publishNacked: return "RabbitMQ did not accept the message (basic.nack)"
        case .staleDelivery: return "the delivery belongs to a channel that is gone; the broker will redeliver it"
        case .timeout(let operation): return "RabbitMQ did not answer \(operation) in time"
        case .closed: return "the AMQP connection is closed"
        case .library(let operation, let reason): return "\(operation) failed: \(reason)"
        }
    }
}
