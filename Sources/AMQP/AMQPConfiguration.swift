import Foundation

/// Where and how to connect to a RabbitMQ broker.
///
/// Build one from an `amqp://user:password@host:port/vhost` URL; the parts are
/// percent-decoded, so the default vhost `/` is written `%2f`.
public struct AMQPConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String
    public var virtualHost: String
    /// Heartbeat interval negotiated with the broker, in seconds (0 disables heartbeats).
    public var heartbeatSeconds: Int
    /// Shown in the broker's connection list (`rabbitmqctl list_connections client_properties`).
    public var connectionName: String?
    /// Bound on TCP connect and on the AMQP handshake.
    public var connectTimeout: Duration
    /// Bound on synchronous broker calls (declare, bind, qos, consume).
    public var rpcTimeout: Duration
    /// First and largest delay between reconnection attempts; the delay doubles in between.
    public var reconnectDelay: (initial: Duration, maximum: Duration)
    /// Publishes sent but not yet confirmed by the broker; further publishes wait for room.
    public var maxUnconfirmedPublishes: Int
    /// How long a publish may wait for its confirm (or for room in the window) before it fails
    /// with ``AMQPError/timeout(operation:)``: a broker that blocked the connection (a memory or
    /// disk alarm) or stopped answering must not hold its callers forever.
    public var confirmTimeout: Duration

    public init(
        host: String = "127.0.0.1",
        port: Int = 5672,
        username: String = "guest",
        password: String = "guest",
        virtualHost: String = "/",
        heartbeatSeconds: Int = 30,
        connectionName: String? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeatSeconds = heartbeatSeconds
        self.connectionName = connectionName
        self.connectTimeout = .seconds(10)
        self.rpcTimeout = .seconds(30)
        self.reconnectDelay = (.milliseconds(200), .seconds(10))
        self.maxUnconfirmedPublishes = 1024
        self.confirmTimeout = .seconds(30)
    }

    /// Parses `amqp://user:password@host:port/vhost`. Missing parts take RabbitMQ's defaults
    /// (`guest`/`guest`, port 5672, vhost `/`). `amqps://` is refused: this build has no TLS.
    public init(url: String) throws(AMQPError) {
        guard let components = URLComponents(string: url) else {
            throw .invalidURL("not a URL")
        }
        guard let scheme = components.scheme?.lowercased() else {
            throw .invalidURL("missing scheme, expected amqp://")
        }
        guard scheme == "amqp" else {
            throw .invalidURL("unsupported scheme '\(scheme)', expected amqp://")
        }
        self.init()
        if let host = components.percentEncodedHost, !host.isEmpty {
            self.host = host.removingPercentEncoding ?? host
        }
        if let port = components.port {
            guard (1...65535).contains(port) else { throw .invalidURL("port \(port) out of range") }
            self.port = port
        }
        if let user = components.percentEncodedUser {
            self.username = user.removingPercentEncoding ?? user
        }
        if let password = components.percentEncodedPassword {
            self.password = password.removingPercentEncoding ?? password
        }
        let path = components.percentEncodedPath
        if path.count > 1 {
            let encoded = String(path.dropFirst())
            guard !encoded.contains("/"), let vhost = encoded.removingPercentEncoding else {
                throw .invalidURL("the vhost must be one path segment, percent-encoded (%2f for /)")
            }
            self.virtualHost = vhost
        }
        for item in components.queryItems ?? [] {
            switch item.name {
            case "heartbeat":
                guard let value = item.value.flatMap(Int.init), value >= 0 else {
                    throw .invalidURL("heartbeat must be a whole number of seconds")
                }
                self.heartbeatSeconds = value
            case "connection_timeout":
                guard let value = item.value.flatMap(Int.init), value > 0 else {
                    throw .invalidURL("connection_timeout must be a positive number of milliseconds")
                }
                self.connectTimeout = .milliseconds(value)
            default:
                continue
            }
        }
    }

    /// The URL without its password, for logs.
    public var redactedURL: String {
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost
        return "amqp://\(username)@\(host):\(port)/\(vhost)"
    }
}
