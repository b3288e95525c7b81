import AsyncHTTPClient
import Caching
import Foundation
import NIOFoundationCompat
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Talks to ServiceNow instances: OAuth client credentials, the Table API and metadata.
///
/// One client serves the whole process. It keeps one token per integration and one
/// ``InstanceGate`` per instance, so the per-instance request limit holds across everything
/// that calls it. Requests carry a timeout below ServiceNow's 60 s transaction limit, never send
/// cookies (AsyncHTTPClient keeps none), never follow redirects, and verify TLS.
///
/// ```swift
/// let client = ServiceNowClient(configuration: .init(), logger: logger)
/// let session = client.session(instance: try policy.validate("https://acme.service-now.com"),
///                              credentials: ServiceNowCredentials(clientID: id, clientSecret: secret))
/// let incident = try await session.create(table: "incident", fields: ["short_description": "CPU high"])
/// ```
public final class ServiceNowClient: Sendable {
    public struct Configuration: Sendable {
        /// Per request; keep it below ServiceNow's 60 s transaction limit.
        public var requestTimeout: Duration = .seconds(30)
        public var connectTimeout: Duration = .seconds(10)
        /// Concurrent requests per instance, across the process.
        public var concurrencyPerInstance: Int = 4
        /// How long a request may wait for a slot (or a rate-limit pause) before giving up.
        public var maximumSlotWait: Duration = .seconds(30)
        /// Largest answer read; larger ones are an invalid response.
        public var maximumResponseBytes: Int = 16 * 1024 * 1024
        /// Which peer addresses a connection may reach; checked on every new direct connection.
        public var addressPolicy = ConnectAddressPolicy(allowLoopback: false)
        /// `HTTPS_PROXY` / `NO_PROXY` for every instance, unless an integration chooses.
        public var proxy = ServiceNowProxySettings()
        /// A PEM file of CA certificates trusted besides the system's: the CA of a proxy that
        /// inspects TLS, or of a test instance.
        public var additionalTrustRootsFile: String?
        public var userAgent: String = "ceburu-itsm-worker"

        public init() {}
    }

    /// What one HTTP exchange looked like, for metrics and audit.
    public struct RequestRecord: Sendable {
        public let instance: String
        /// The instance's host, as metrics label it.
        public let host: String
        public let operation: String
        public let method: String
        public let table: String?
        public let sysID: String?
        public let status: Int?
        public let duration: Duration
        public let error: ServiceNowError?
        /// ServiceNow's `error.message: error.detail` for error statuses.
        public let serviceNowMessage: String?
    }

    public let configuration: Configuration
    let logger: Logger
    private let httpClient: HTTPClient
    private let observer: (@Sendable (RequestRecord) -> Void)?
    // One per instance and per integration; bounded all the same, since a gate or token dropped
    // for room is only made again.
    private let gates = BoundedCache<String, InstanceGate>(capacity: 20_000)
    private let tokens = BoundedCache<String, TokenCache>(capacity: 20_000)
    private let tokenRequests = Atomic<Int>(0)

    /// - Parameter observer: called after every request (token requests included).
    public init(configuration: Configuration = Configuration(), logger: Logger, observer: (@Sendable (RequestRecord) -> Void)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
        self.httpClient = Self.makeHTTPClient(configuration, through: nil)
    }

    /// One AsyncHTTPClient per route: direct, or through one proxy (few: the process-wide one
    /// and any an integration names). Never evicted, since each must be shut down.
    private let proxiedClients = Mutex<[ServiceNowProxy: HTTPClient]>([:])

    private func httpClient(through proxy: ServiceNowProxy?) -> HTTPClient {
        guard let proxy else { return httpClient }
        return proxiedClients.withLock { clients in
            if let client = clients[proxy] { return client }
            let client = Self.makeHTTPClient(configuration, through: proxy)
            clients[proxy] = client
            return client
        }
    }

    private static func makeHTTPClient(_ configuration: Configuration, through proxy: ServiceNowProxy?) -> HTTPClient {
        var http = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(configuration.connectTimeout.milliseconds),
                           read: .milliseconds(configuration.requestTimeout.milliseconds)))
        http.decompression = .disabled
        // The worker bootstraps no tracer: a no-op span per request (its attributes, a task-local
        // context) would be work for nobody.
        http.tracing.tracer = nil
        if let file = configuration.additionalTrustRootsFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(file)]
            http.tlsConfiguration = tls
        }
        if let proxy {
            // The peer of a proxied connection is the proxy, which the operator chose (often on
            // a private address); the proxy resolves and reaches the instance.
            http.proxy = .server(host: proxy.host, port: proxy.port,
                                 authorization: proxy.username.map { .basic(username: $0, password: proxy.password ?? "") })
        } else {
            // Each new connection's peer is checked before a request is written on it (DNS may
            // answer differently than when the URL was checked).
            let policy = configuration.addressPolicy
            let checkPeer: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
                guard let address = channel.remoteAddress?.ipAddress else {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(ServiceNowError(.urlRefused, message: "the connection has no peer address to check"))
                }
                if let refusal = policy.refusal(address) {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(ServiceNowError(.urlRefused, message: "the instance's name led to a refused address: \(refusal)"))
                }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            http.http1_1ConnectionDebugInitializer = checkPeer
            http.http2ConnectionDebugInitializer = checkPeer
        }
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, configuration.concurrencyPerInstance))
        // A refused peer must fail the request, not be dialled again until the deadline; a
        // connection that fails for other reasons is retried by the message's own retry.
        pool.retryConnectionEstablishment = false
        http.connectionPool = pool
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    public func shutdown() async {
        try? await httpClient.shutdown()
        for client in proxiedClients.withLock({ Array($0.values) }) { try? await client.shutdown() }
    }

    /// A handle for calls to one instance with one integration's credentials. Cheap: the token
    /// and the instance's limits live in the client.
    public func session(instance: InstanceURL, credentials: ServiceNowCredentials, proxy choice: ServiceNowProxyChoice = .environment) -> ServiceNowSession {
        let proxy: ServiceNowProxy?
        switch choice {
        case .environment: proxy = configuration.proxy.proxy(for: instance.host)
        case .direct: proxy = nil
        case .proxy(let chosen): proxy = chosen
        }
        return ServiceNowSession(client: self, instance: instance, credentials: credentials, proxy: proxy)
    }

    /// How many token requests this client has made (for tests and metrics).
    public var tokenRequestCount: Int { tokenRequests.load(ordering: .relaxed) }

    /// The most requests this process had in flight at once to `instance`.
    public func peakConcurrency(for instance: InstanceURL) -> Int { gate(for: instance).peakInFlight }

    func gate(for instance: InstanceURL) -> InstanceGate {
        gates.value(for: instance.key) { InstanceGate(limit: configuration.concurrencyPerInstance) }
    }

    func tokenCache(for instance: InstanceURL, credentials: ServiceNowCredentials) -> TokenCache {
        // Keyed by the secret too, so that changed credentials never reuse an old token.
        let key = "\(instance.key)|\(credentials.clientID)|\(credentials.clientSecret.hashValue)"
        return tokens.value(for: key) { TokenCache() }
    }

    // MARK: - HTTP

    struct Response: Sendable {
        let status: Int
        let headers: HTTPHeaders
        let body: Data

        var looksLikeHTML: Bool {
            if let type = headers.first(name: "content-type")?.lowercased(), type.contains("text/html") { return true }
            let start = body.prefix(64).drop { $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }
            return start.first == UInt8(ascii: "<")
        }
    }

    /// One request through the instance's gate; classifies transport failures, notes rate-limit
    /// headers, and reports to the observer. HTTP error statuses are returned, not thrown.
    func send(
        instance: InstanceURL, through proxy: ServiceNowProxy? = nil, method: HTTPMethod, path: String, query: [(String, String)] = [],
        headers extraHeaders: [(String, String)] = [], body: Data? = nil, operation: String,
        table: String? = nil, sysID: String? = nil
    ) async throws(ServiceNowError) -> Response {
        let gate = self.gate(for: instance)
        try await gate.acquire(maximumWait: configuration.maximumSlotWait)
        defer { gate.release() }

        var url = instance.description + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        for (name, value) in extraHeaders { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }

        let started = ContinuousClock.now
        func report(_ status: Int?, _ error: ServiceNowError?, message: String? = nil) {
            observer?(RequestRecord(instance: instance.key, host: instance.host, operation: operation, method: method.rawValue, table: table, sysID: sysID,
                                    status: status, duration: ContinuousClock.now - started, error: error, serviceNowMessage: message))
        }
        let response: Response
        do {
            let answer = try await httpClient(through: proxy).execute(request, timeout: .milliseconds(configuration.requestTimeout.milliseconds))
            // The timeout above ends with the answer's head; the body gets as long again.
            let deadline = ContinuousClock.now + configuration.requestTimeout
            let body = try await Self.readBody(answer.body, upTo: configuration.maximumResponseBytes, deadline: deadline,
                                               timeout: configuration.requestTimeout)
            response = Response(status: Int(answer.status.code), headers: answer.headers, body: body)
        } catch {
            var failure = Self.classifyTransport(error, timeout: configuration.requestTimeout)
            if let proxy, failure.kind != .timeout || "\(error)".lowercased().contains("connect") {
                // Name the proxy: through it, a connection failure is as likely the proxy's.
                failure = ServiceNowError(failure.kind == .timeout ? .timeout : .unreachable,
                                          message: "through the proxy \(proxy): \(failure.message ?? "\(error)")")
            }
            report(nil, failure)
            logger.debug("ServiceNow request failed", metadata: ["servicenow.instance": "\(instance.key)", "servicenow.operation": "\(operation)", "error": "\(failure)"])
            throw failure
        }
        if let limit = UntrustedNumber.count(response.headers.first(name: "x-ratelimit-limit"), within: 1...1_000_000_000),
           let resetIn = Self.rateLimitReset(response.headers) {
            gate.noteRateLimit(limit: limit, resetIn: resetIn)
        }
        if response.status == 429 {
            let delay = Self.retryDelay(response.headers) ?? Self.defaultRetryDelay
            gate.block(for: delay)
        }
        var message: String?
        if response.status >= 400 {
            let envelope = ServiceNowSession.errorEnvelope(response.body)
            message = [envelope.message, envelope.detail].compactMap { $0 }.joined(separator: ": ").nonEmptyOrNil
        }
        report(response.status, nil, message: message)
        return response
    }

    /// The longest pause an instance may impose through `Retry-After` or `X-RateLimit-Reset`.
    /// Rate-limit windows are an hour at most; anything longer is an absurd answer, and the
    /// message is retried (parked) rather than held.
    public static let longestRetryDelay: Duration = .seconds(3600)
    /// The pause after a 429 that gives no usable delay.
    static let defaultRetryDelay: Duration = .seconds(5)

    /// `Retry-After` (seconds) or else `X-RateLimit-Reset` (Unix time), within
    /// 0...``longestRetryDelay``; nil when neither is a usable number.
    static func retryDelay(_ headers: HTTPHeaders) -> Duration? {
        UntrustedNumber.seconds(headers.first(name: "retry-after"), within: .zero...longestRetryDelay) ?? rateLimitReset(headers)
    }

    /// How long until the rate-limit window of `X-RateLimit-Reset` (Unix time) ends: a reset in
    /// the past is now, one further away than ``longestRetryDelay`` is that.
    static func rateLimitReset(_ headers: HTTPHeaders) -> Duration? {
        guard let text = headers.first(name: "x-ratelimit-reset"), text.utf8.count <= 40,
              let reset = Double(text.trimmingCharacters(in: .whitespaces)), reset.isFinite else { return nil }
        return UntrustedNumber.seconds(reset - Date().timeIntervalSince1970, within: .zero...longestRetryDelay)
    }

    /// Reads an answer's body, refusing one larger than `limit` bytes or one that is still
    /// arriving at `deadline` (a trickle never trips the idle read timeout).
    static func readBody(_ body: HTTPClientResponse.Body, upTo limit: Int, deadline: ContinuousClock.Instant,
                         timeout: Duration) async throws(ServiceNowError) -> Data {
        var data = Data()
        do {
            for try await chunk in body {
                guard data.count + chunk.readableBytes <= limit else {
                    throw ServiceNowError(.invalidResponse, message: "the answer is larger than \(limit) bytes")
                }
                data.append(contentsOf: chunk.readableBytesView)
                if ContinuousClock.now > deadline {
                    throw ServiceNowError(.timeout, message: "the answer's body was still arriving \(timeout) after its head")
                }
            }
        } catch let error as ServiceNowError {
            throw error
        } catch {
            throw classifyTransport(error, timeout: timeout)
        }
        return data
    }

    static func classifyTransport(_ error: any Error, timeout: Duration) -> ServiceNowError {
        if let error = error as? ServiceNowError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                return ServiceNowError(.timeout, message: "no answer within \(timeout)")
            case .connectTimeout, .remoteConnectionClosed:
                return ServiceNowError(.unreachable, message: "\(error)")
            case .bodyLengthMismatch:
                return ServiceNowError(.invalidResponse, message: "\(error)")
            case .proxyAuthenticationRequired:
                return ServiceNowError(.unreachable, message: "the proxy refused the worker's credentials (407)")
            case .invalidProxyResponse:
                return ServiceNowError(.unreachable, message: "the proxy refused to open a tunnel to the instance")
            default:
                break
            }
        }
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("ssl") || lower.contains("tls") || lower.contains("certificate") || lower.contains("handshake") {
            return ServiceNowError(.tls, message: text)
        }
        if lower.contains("timeout") || lower.contains("timed out") {
            return ServiceNowError(.timeout, message: text)
        }
        return ServiceNowError(.unreachable, message: text)
    }

    /// `application/x-www-form-urlencoded` escaping (also right for query strings): ASCII letters,
    /// digits and `-._~` as they are, every other byte of the UTF-8 as `%XX`. Written out because
    /// Foundation's `addingPercentEncoding` goes through `NSString` on Linux, and every request's
    /// query passes here.
    static func formEncode(_ text: String) -> String {
        func unreserved(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
            default: false
            }
        }
        guard !text.utf8.allSatisfy(unreserved) else { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(text.utf8.count * 3)
        for byte in text.utf8 {
            if unreserved(byte) {
                encoded.append(byte)
            } else {
                encoded.append(contentsOf: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    func countTokenRequest() { tokenRequests.add(1, ordering: .relaxed) }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension String {
    var nonEmptyOrNil: String? { isEmpty ? nil : self }
}
