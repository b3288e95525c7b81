import AsyncHTTPClient
import Foundation
import NIOFoundationCompat
import Logging
import NIOCore
import NIOHTTP1
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
        public var userAgent: String = "ceburu-itsm-worker"

        public init() {}
    }

    /// What one HTTP exchange looked like, for metrics and audit.
    public struct RequestRecord: Sendable {
        public let instance: String
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
    private let gates = Mutex<[String: InstanceGate]>([:])
    private let tokens = Mutex<[String: TokenCache]>([:])
    private let tokenRequests = Atomic<Int>(0)

    /// - Parameter observer: called after every request (token requests included).
    public init(configuration: Configuration = Configuration(), logger: Logger, observer: (@Sendable (RequestRecord) -> Void)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
        var http = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(configuration.connectTimeout.milliseconds),
                           read: .milliseconds(configuration.requestTimeout.milliseconds)))
        http.decompression = .disabled
        http.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, configuration.concurrencyPerInstance))
        self.httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    public func shutdown() async {
        try? await httpClient.shutdown()
    }

    /// A handle for calls to one instance with one integration's credentials. Cheap: the token
    /// and the instance's limits live in the client.
    public func session(instance: InstanceURL, credentials: ServiceNowCredentials) -> ServiceNowSession {
        ServiceNowSession(client: self, instance: instance, credentials: credentials)
    }

    /// How many token requests this client has made (for tests and metrics).
    public var tokenRequestCount: Int { tokenRequests.load(ordering: .relaxed) }

    /// The most requests this process had in flight at once to `instance`.
    public func peakConcurrency(for instance: InstanceURL) -> Int { gate(for: instance).peakInFlight }

    func gate(for instance: InstanceURL) -> InstanceGate {
        gates.withLock { gates in
            if let gate = gates[instance.key] { return gate }
            let gate = InstanceGate(limit: configuration.concurrencyPerInstance)
            gates[instance.key] = gate
            return gate
        }
    }

    func tokenCache(for instance: InstanceURL, credentials: ServiceNowCredentials) -> TokenCache {
        // Keyed by the secret too, so that changed credentials never reuse an old token.
        let key = "\(instance.key)|\(credentials.clientID)|\(credentials.clientSecret.hashValue)"
        return tokens.withLock { tokens in
            if let cache = tokens[key] { return cache }
            let cache = TokenCache()
            tokens[key] = cache
            return cache
        }
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
        instance: InstanceURL, method: HTTPMethod, path: String, query: [(String, String)] = [],
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
            observer?(RequestRecord(instance: instance.key, operation: operation, method: method.rawValue, table: table, sysID: sysID,
                                    status: status, duration: ContinuousClock.now - started, error: error, serviceNowMessage: message))
        }
        let response: Response
        do {
            let answer = try await httpClient.execute(request, timeout: .milliseconds(configuration.requestTimeout.milliseconds))
            let bytes = try await answer.body.collect(upTo: configuration.maximumResponseBytes)
            response = Response(status: Int(answer.status.code), headers: answer.headers, body: Data(buffer: bytes))
        } catch {
            let failure = Self.classifyTransport(error, timeout: configuration.requestTimeout)
            report(nil, failure)
            logger.debug("ServiceNow request failed", metadata: ["servicenow.instance": "\(instance.key)", "servicenow.operation": "\(operation)", "error": "\(failure)"])
            throw failure
        }
        if let limit = response.headers.first(name: "x-ratelimit-limit").flatMap(Int.init),
           let reset = response.headers.first(name: "x-ratelimit-reset").flatMap(Double.init) {
            gate.noteRateLimit(limit: limit, reset: Date(timeIntervalSince1970: reset))
        }
        if response.status == 429 {
            let delay = Self.retryDelay(response.headers) ?? .seconds(5)
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

    /// `Retry-After` (seconds) or else `X-RateLimit-Reset` (Unix time).
    static func retryDelay(_ headers: HTTPHeaders) -> Duration? {
        if let seconds = headers.first(name: "retry-after").flatMap(Double.init), seconds >= 0 {
            return .milliseconds(Int64(seconds * 1000))
        }
        if let reset = headers.first(name: "x-ratelimit-reset").flatMap(Double.init) {
            let seconds = max(0, reset - Date().timeIntervalSince1970)
            return .milliseconds(Int64(seconds * 1000))
        }
        return nil
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

    /// `application/x-www-form-urlencoded` escaping (also right for query strings).
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
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
