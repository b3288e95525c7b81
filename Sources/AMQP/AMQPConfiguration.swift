import Coordination
import Foundation

/// Where and how to connect to a RabbitMQ broker or to one of the nodes of a cluster.
///
/// Build one from an `amqp://user:password@host:port/vhost` URL (`amqps://` for TLS), or from
/// several such URLs of one cluster, comma-separated; the parts are percent-decoded, so the
/// default vhost `/` is written `%2f`.
public struct AMQPConfiguration: Sendable {
    /// One node to connect to.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// TLS settings for `amqps://`. The broker's certificate and host name are always verified.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the CA that signs the broker's certificate; nil uses the system's CAs.
        public var caFile: String?
        /// PEM client certificate (chain) and key, for brokers that require mutual TLS.
        public var certificateFile: String?
        public var keyFile: String?

        /// Where Debian and its derivatives keep the system's CA bundle.
        public static let systemCAFile = "/etc/ssl/certs/ca-certificates.crt"

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// The nodes, in the order given; a connection starts at one of them (see
    /// ``firstEndpoint``) and moves on to the next when it cannot connect or loses its node.
    public var endpoints: [Endpoint]
    /// Which endpoint a new connection tries first; nil picks one at random, so workers given
    /// the same list spread across the nodes.
    public var firstEndpoint: Int?
    /// TLS (`amqps://`), or nil for plain TCP.
    public var tls: TLS?

    /// The first node's host (a single broker's).
    public var host: String {
        get { endpoints[0].host }
        set { endpoints[0].host = newValue }
    }

    /// The first node's port.
    public var port: Int {
        get { endpoints[0].port }
        set { endpoints[0].port = newValue }
    }

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
    /// Delays between reconnection attempts: doubling from 200 ms to 10 s, with jitter.
    public var reconnectDelay: Backoff
    /// Publishes sent but not yet confirmed by the broker; further publishes wait for room.
    public var maxUnconfirmedPublishes: Int
    /// How long a publish may wait for its confirm (or for room in the window) before it fails
    /// with ``AMQPError/timeout(operation:)``: a broker that blocked the connection (a memory or
    /// disk alarm) or stopped answering must not hold its callers forever.
    public var confirmTimeout: Duration
    /// How long an ack may be held so that it leaves with others as one `multiple` ack (see
    /// `PendingAcks`); zero still joins acks that arrive together.
    public var ackHold: Duration

    public init(
        host: String = "127.0.0.1",
        port: Int = 5672,
        username: String = "guest",
        password: String = "guest",
        virtualHost: String = "/",
        heartbeatSeconds: Int = 30,
        connectionName: String? = nil
    ) {
        self.endpoints = [Endpoint(host: host, port: port)]
        self.username = username
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeatSeconds = heartbeatSeconds
        self.connectionName = connectionName
        self.connectTimeout = .seconds(10)
        self.rpcTimeout = .seconds(30)
        self.reconnectDelay = Backoff(initial: .milliseconds(200), maximum: .seconds(10))
        self.maxUnconfirmedPublishes = 1024
        self.confirmTimeout = .seconds(30)
        self.ackHold = .milliseconds(5)
    }

    /// Parses `amqp://user:password@host:port/vhost` or `amqps://…`, or several such URLs of one
    /// cluster separated by commas (they must agree on everything but host and port). Missing
    /// parts take RabbitMQ's defaults (`guest`/`guest`, port 5672 or 5671 with TLS, vhost `/`).
    /// TLS files may be given in the query as `cacertfile`, `certfile` and `keyfile`;
    /// verification cannot be turned off.
    public init(url: String) throws(AMQPError) {
        let parts = url.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else { throw .invalidURL("an empty node in the list") }
        var first = try Self.single(parts[0])
        for part in parts.dropFirst() {
            let node = try Self.single(part)
            guard node.username == first.username, node.password == first.password, node.virtualHost == first.virtualHost,
                  node.tls == first.tls, node.heartbeatSeconds == first.heartbeatSeconds else {
                throw .invalidURL("the nodes of one cluster must share scheme, user, password, vhost and settings; only host and port may differ")
            }
            if !first.endpoints.contains(node.endpoints[0]) { first.endpoints.append(node.endpoints[0]) }
        }
        self = first
    }

    private static func single(_ url: String) throws(AMQPError) -> AMQPConfiguration {
        guard let components = URLComponents(string: url) else {
            throw .invalidURL("not a URL")
        }
        guard let scheme = components.scheme?.lowercased() else {
            throw .invalidURL("missing scheme, expected amqp:// or amqps://")
        }
        guard scheme == "amqp" || scheme == "amqps" else {
            throw .invalidURL("unsupported scheme '\(scheme)', expected amqp:// or amqps://")
        }
        var configuration = AMQPConfiguration()
        if scheme == "amqps" {
            configuration.tls = TLS()
            configuration.port = 5671
        }
        if let host = components.percentEncodedHost, !host.isEmpty {
            configuration.host = host.removingPercentEncoding ?? host
        }
        if let port = components.port {
            guard (1...65535).contains(port) else { throw .invalidURL("port \(port) out of range") }
            configuration.port = port
        }
        if let user = components.percentEncodedUser {
            configuration.username = user.removingPercentEncoding ?? user
        }
        if let password = components.percentEncodedPassword {
            configuration.password = password.removingPercentEncoding ?? password
        }
        let path = components.percentEncodedPath
        if path.count > 1 {
            let encoded = String(path.dropFirst())
            guard !encoded.contains("/"), let vhost = encoded.removingPercentEncoding else {
                throw .invalidURL("the vhost must be one path segment, percent-encoded (%2f for /)")
            }
            configuration.virtualHost = vhost
        }
        for item in components.queryItems ?? [] {
            switch item.name {
            case "heartbeat":
                guard let value = item.value.flatMap(Int.init), value >= 0 else {
                    throw .invalidURL("heartbeat must be a whole number of seconds")
                }
                configuration.heartbeatSeconds = value
            case "connection_timeout":
                guard let value = item.value.flatMap(Int.init), value > 0 else {
                    throw .invalidURL("connection_timeout must be a positive number of milliseconds")
                }
                configuration.connectTimeout = .milliseconds(value)
            case "cacertfile", "certfile", "keyfile":
                guard configuration.tls != nil else { throw .invalidURL("\(item.name) needs amqps://") }
                guard let value = item.value, !value.isEmpty else { throw .invalidURL("\(item.name) needs a file path") }
                switch item.name {
                case "cacertfile": configuration.tls?.caFile = value
                case "certfile": configuration.tls?.certificateFile = value
                default: configuration.tls?.keyFile = value
                }
            case "verify":
                guard item.value == "verify_peer" else {
                    throw .invalidURL("verify=\(item.value ?? "") is not supported: the broker's certificate is always verified")
                }
            default:
                continue
            }
        }
        if let tls = configuration.tls, (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw .invalidURL("certfile and keyfile go together")
        }
        return configuration
    }

    /// The URL without its password, for logs.
    public var redactedURL: String {
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost
        let scheme = tls == nil ? "amqp" : "amqps"
        return endpoints.map { "\(scheme)://\(username)@\($0)/\(vhost)" }.joined(separator: ",")
    }
}
