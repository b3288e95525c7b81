import AMQP
import Configuration
import Foundation
import ITSMCore
import Postgres
import ServiceNow

/// Everything the worker reads from its environment (and, optionally, an env-style file).
///
/// Names and defaults follow the contract (`ITSM_AMQP_URL`, `ITSM_DATABASE_URL`, …); a bad value
/// is a ``ConfigurationError`` that names the variable.
public struct WorkerConfiguration: Sendable {
    public var amqpURL: String
    /// `ITSM_AMQP_TLS_CA_FILE`, `…_CERT_FILE`, `…_KEY_FILE`: TLS files for `amqps://` (the URL's
    /// `cacertfile`, `certfile`, `keyfile` may give them too; these variables win).
    public var amqpTLSCAFile: String?
    public var amqpTLSCertificateFile: String?
    public var amqpTLSKeyFile: String?
    public var databaseURL: String
    /// Base64 of 32 bytes; needed to store or read client secrets.
    public var secretKey: String?
    /// Older keys (comma-separated base64) still accepted for reading, during a rotation.
    public var previousSecretKeys: [String]
    public var allowInsecureInstanceURLs: Bool
    /// Host suffixes accepted for instance URLs besides `service-now.com`.
    public var instanceHostAllowlist: [String]
    /// Ports an https instance URL may name besides 443.
    public var instancePorts: Set<Int>
    /// `HTTPS_PROXY` / `NO_PROXY` (or `ITSM_HTTPS_PROXY` / `ITSM_NO_PROXY`): every ServiceNow
    /// call goes through the proxy unless its host is listed.
    public var serviceNowProxy: ServiceNowProxySettings
    /// `ITSM_SERVICENOW_CA_FILE`: CA certificates (PEM) trusted for instances besides the
    /// system's, such as a TLS-inspecting proxy's.
    public var serviceNowCAFile: String?
    /// Queues (by name prefix) a command's `reply_to` may name besides RabbitMQ's direct
    /// reply-to (`amq.rabbitmq.reply-to…`), which is always allowed.
    public var commandReplyPrefixes: [String]
    /// How long processed event ids and published outbox rows are kept: a redelivery older than
    /// this is no longer recognised as a duplicate.
    public var eventRetention: Duration
    public var syncInterval: Duration
    public var httpPort: Int
    public var logLevel: String
    public var logFormat: LogFormat
    /// Deliveries the broker sends ahead of acknowledgement at first, per queue; the intake grows
    /// with the instances in use (each one's bulkhead and waiting room), up to `maxPrefetch`.
    public var prefetch: Int
    public var maxPrefetch: Int
    /// Messages being prepared at once, per queue (a message at its instance's bulkhead no
    /// longer counts: the bulkhead bounds it).
    public var maxInFlight: Int
    public var queueType: AMQPQueue.Kind
    /// Processing attempts of a message before it is dead-lettered.
    public var maxAttempts: Int
    /// Concurrent ServiceNow requests per instance, shared by everything in the process.
    public var instanceConcurrency: Int
    public var requestTimeout: Duration
    public var databasePoolSize: Int
    /// Event loops (threads) the process runs its tasks and ServiceNow connections on. One keeps
    /// every step of an alert on one thread; see `EventLoopExecutor` in the binary.
    public var eventLoops: Int
    public var maxMessageBytes: Int
    public var alertsExchange: String
    public var eventsExchange: String
    /// Prefix of the queues the worker declares (`itsm.alerts`, `itsm.dead`, …).
    public var queuePrefix: String
    public var shutdownGrace: Duration
    /// A resolved alert that fires again within this window reopens its ticket.
    public var reopenWindow: Duration
    /// New incidents per customer and network per minute before a network's alerts join its
    /// storm incident (0: off), and how long a storm incident takes alerts.
    public var storm: StormProtection
    /// Flap detection (`ITSM_FLAP_THRESHOLD`, `ITSM_FLAP_WINDOW`, `ITSM_FLAP_QUIET`).
    public var flapping: FlapSettings
    /// The most journal entries the notes sync takes per customer and cycle.
    public var notesPerCycle: Int
    /// How long audit rows are kept.
    public var auditRetention: Duration
    /// Names this process in claims, logs and broker connections.
    public var workerID: String
    /// Base delays of the retry tiers; each tier also has a variant 1.5 times as long, picked at
    /// random, so retries of a burst spread out.
    public var retryDelays: [Duration]
    /// Broker-side bound on redeliveries of one message (quorum queues' `x-delivery-limit`).
    public var deliveryLimit: Int
    /// How long a request may wait for one of its instance's slots.
    public var instanceSlotWait: Duration
    /// How long a claim on an alert's ticket holds before another worker may take over. The
    /// claim is renewed before every write to ServiceNow, so it must outlast one slot wait plus
    /// one request.
    public var claimLease: Duration
    /// How often the outbox relay looks for events other workers left unpublished.
    public var outboxPollInterval: Duration
    /// Re-read window below the sync watermark, so that a change in the watermark's own second
    /// (or a clock step on the instance) is not missed.
    public var syncOverlap: Duration
    /// Every Nth cycle of an integration reads all open tickets (no watermark), which also finds
    /// incidents deleted in ServiceNow.
    public var syncFullEvery: Int
    /// Consecutive failures of an instance that open its circuit.
    public var circuitThreshold: Int
    /// How long an open circuit parks the instance's work before a trial.
    public var circuitOpenFor: Duration
    /// Messages one instance may have in progress in this worker at once (the bulkhead).
    public var instanceMaxInFlight: Int
    /// How long the message path caches integrations and mappings (changes apply within it).
    public var configurationCacheTTL: Duration
    /// How long instance metadata (fields, choices, reference lookups) is cached.
    public var metadataCacheTTL: Duration
    /// ServiceNow incident state → Ceburu alert status, for `ticket.state_changed`.
    public var alertStatusByState: [IncidentState: AlertStatus]
    /// `ITSM_` variables that mean nothing to the worker (typos, usually); logged at start.
    public var unknownSettings: [String] = []

    public enum LogFormat: String, Sendable { case text, json }

    /// The defaults, as in the contract.
    public init() {
        amqpURL = "amqp://guest:guest@127.0.0.1:5672/%2f"
        databaseURL = "postgres://itsm:itsm@127.0.0.1:5432/itsm"
        secretKey = nil
        previousSecretKeys = []
        allowInsecureInstanceURLs = false
        instanceHostAllowlist = []
        instancePorts = []
        serviceNowProxy = ServiceNowProxySettings()
        commandReplyPrefixes = []
        eventRetention = .seconds(14 * 24 * 3600)
        syncInterval = .seconds(60)
        httpPort = 9464
        logLevel = "info"
        logFormat = .text
        prefetch = 32
        maxPrefetch = 1000
        maxInFlight = 32
        queueType = .quorum
        maxAttempts = 8
        instanceConcurrency = 4
        requestTimeout = .seconds(30)
        databasePoolSize = 8
        eventLoops = 1
        maxMessageBytes = 256 * 1024
        alertsExchange = "ceburu.alerts"
        eventsExchange = "itsm.events"
        queuePrefix = "itsm"
        shutdownGrace = .seconds(20)
        reopenWindow = .seconds(24 * 3600)
        // 10 a minute from one network is more new incidents than one on-call person reads, and
        // usually one cause (a core switch or an uplink down) rather than ten problems; a storm
        // then opens a handful of incidents, and costs an instance a few calls a minute, far
        // inside its API_INT pool and common hourly rate-limit rules.
        storm = StormProtection(maxNewPerMinute: 10)
        notesPerCycle = 500
        // Three fire/resolve cycles in half an hour is no longer news worth a reopen each; a
        // quarter of an hour resolved is long enough to call it settled.
        flapping = FlapSettings(threshold: 3, window: .seconds(30 * 60), quiet: .seconds(15 * 60))
        auditRetention = .seconds(30 * 24 * 3600)
        workerID = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        retryDelays = [.seconds(2), .seconds(10), .seconds(30), .seconds(120), .seconds(300)]
        deliveryLimit = 20
        instanceSlotWait = .seconds(30)
        claimLease = .seconds(70)
        outboxPollInterval = .seconds(1)
        syncOverlap = .seconds(60)
        syncFullEvery = 10
        metadataCacheTTL = .seconds(600)
        configurationCacheTTL = .seconds(5)
        circuitThreshold = 5
        circuitOpenFor = .seconds(30)
        instanceMaxInFlight = 8
        alertStatusByState = [.new: .open, .inProgress: .acknowledged, .onHold: .acknowledged, .resolved: .resolved, .closed: .resolved, .canceled: .resolved]
    }

    /// Reads the configuration. `file` holds `KEY=value` lines; the environment wins over it.
    public init(environment: [String: String], file: String? = nil) throws(ConfigurationError) {
        self.init()
        var reader = Reader(environment: environment.filter { $0.key.hasPrefix("ITSM_") }, file: try file.map(Self.readFile) ?? [:])

        amqpURL = reader.string("ITSM_AMQP_URL") ?? amqpURL
        amqpTLSCAFile = reader.string("ITSM_AMQP_TLS_CA_FILE")
        amqpTLSCertificateFile = reader.string("ITSM_AMQP_TLS_CERT_FILE")
        amqpTLSKeyFile = reader.string("ITSM_AMQP_TLS_KEY_FILE")
        let amqp: AMQPConfiguration
        do { amqp = try amqpConfiguration() } catch { throw ConfigurationError(variable: "ITSM_AMQP_URL", reason: error.description) }
        if amqp.tls == nil && (amqpTLSCAFile ?? amqpTLSCertificateFile ?? amqpTLSKeyFile) != nil {
            throw ConfigurationError(variable: "ITSM_AMQP_TLS_CA_FILE", reason: "the ITSM_AMQP_TLS_* files need an amqps:// URL")
        }
        if let tls = amqp.tls, (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw ConfigurationError(variable: "ITSM_AMQP_TLS_CERT_FILE", reason: "a client certificate and its key go together (ITSM_AMQP_TLS_CERT_FILE and ITSM_AMQP_TLS_KEY_FILE)")
        }
        databaseURL = reader.string("ITSM_DATABASE_URL") ?? databaseURL
        do { _ = try PostgresConfiguration(url: databaseURL) } catch { throw ConfigurationError(variable: "ITSM_DATABASE_URL", reason: error.message) }
        secretKey = reader.string("ITSM_SECRET_KEY")
        if let secretKey { try Self.checkKey(secretKey, variable: "ITSM_SECRET_KEY") }
        previousSecretKeys = reader.list("ITSM_SECRET_KEY_PREVIOUS")
        for key in previousSecretKeys { try Self.checkKey(key, variable: "ITSM_SECRET_KEY_PREVIOUS") }
        allowInsecureInstanceURLs = try reader.bool("ITSM_ALLOW_INSECURE_INSTANCE_URLS") ?? allowInsecureInstanceURLs
        instanceHostAllowlist = reader.list("ITSM_INSTANCE_HOST_ALLOWLIST").map { $0.lowercased() }
        for host in instanceHostAllowlist where InstanceURLPolicy(allowedHostSuffixes: [host]).allowedHostSuffixes.isEmpty {
            throw ConfigurationError(variable: "ITSM_INSTANCE_HOST_ALLOWLIST", reason: "'\(host)' is not a host name suffix such as servicenowservices.com")
        }
        for text in reader.list("ITSM_INSTANCE_PORTS") {
            guard let port = Int(text), (1...65535).contains(port) else {
                throw ConfigurationError(variable: "ITSM_INSTANCE_PORTS", reason: "expected port numbers, comma-separated, got '\(text)'")
            }
            instancePorts.insert(port)
        }
        // The usual names first (curl and most tools read them), lower-case ones too; an ITSM_
        // one (also from the config file) wins.
        let proxyURL = reader.string("ITSM_HTTPS_PROXY") ?? [environment["HTTPS_PROXY"], environment["https_proxy"]].compactMap { $0 }.first { !$0.isEmpty }
        let noProxy = reader.string("ITSM_NO_PROXY") ?? [environment["NO_PROXY"], environment["no_proxy"]].compactMap { $0 }.first { !$0.isEmpty }
        if let proxyURL {
            do {
                serviceNowProxy = ServiceNowProxySettings(proxy: try ServiceNowProxy(url: proxyURL),
                                                          noProxy: noProxy?.split(separator: ",").map(String.init) ?? [])
            } catch {
                throw ConfigurationError(variable: "HTTPS_PROXY", reason: error.message ?? "not a proxy URL")
            }
        }
        serviceNowCAFile = reader.string("ITSM_SERVICENOW_CA_FILE")
        if let serviceNowCAFile, !FileManager.default.isReadableFile(atPath: serviceNowCAFile) {
            throw ConfigurationError(variable: "ITSM_SERVICENOW_CA_FILE", reason: "cannot read \(serviceNowCAFile)")
        }
        commandReplyPrefixes = reader.list("ITSM_COMMAND_REPLY_PREFIXES")
        eventRetention = try reader.duration("ITSM_EVENT_RETENTION") ?? eventRetention
        syncInterval = try reader.duration("ITSM_SYNC_INTERVAL") ?? syncInterval
        httpPort = try reader.int("ITSM_HTTP_PORT", in: 0...65535) ?? httpPort
        logLevel = try reader.oneOf("ITSM_LOG_LEVEL", ["trace", "debug", "info", "notice", "warning", "error", "critical"]) ?? logLevel
        logFormat = try reader.oneOf("ITSM_LOG_FORMAT", ["text", "json"]).flatMap(LogFormat.init) ?? logFormat
        prefetch = try reader.int("ITSM_PREFETCH", in: 1...65535) ?? prefetch
        maxPrefetch = max(prefetch, try reader.int("ITSM_MAX_PREFETCH", in: 1...65535) ?? maxPrefetch)
        maxInFlight = try reader.int("ITSM_MAX_IN_FLIGHT", in: 1...10_000) ?? maxInFlight
        queueType = try reader.oneOf("ITSM_QUEUE_TYPE", ["quorum", "classic"]).flatMap(AMQPQueue.Kind.init) ?? queueType
        maxAttempts = try reader.int("ITSM_MAX_ATTEMPTS", in: 1...100) ?? maxAttempts
        instanceConcurrency = try reader.int("ITSM_INSTANCE_CONCURRENCY", in: 1...64) ?? instanceConcurrency
        requestTimeout = try reader.duration("ITSM_REQUEST_TIMEOUT") ?? requestTimeout
        if requestTimeout >= .seconds(60) {
            throw ConfigurationError(variable: "ITSM_REQUEST_TIMEOUT", reason: "must stay below ServiceNow's 60 s transaction limit")
        }
        databasePoolSize = try reader.int("ITSM_DB_POOL_SIZE", in: 1...200) ?? databasePoolSize
        eventLoops = try reader.int("ITSM_EVENT_LOOPS", in: 1...256) ?? eventLoops
        maxMessageBytes = try reader.int("ITSM_MAX_MESSAGE_BYTES", in: 1024...(64 * 1024 * 1024)) ?? maxMessageBytes
        alertsExchange = reader.string("ITSM_ALERTS_EXCHANGE") ?? alertsExchange
        eventsExchange = reader.string("ITSM_EVENTS_EXCHANGE") ?? eventsExchange
        queuePrefix = reader.string("ITSM_QUEUE_PREFIX") ?? queuePrefix
        shutdownGrace = try reader.duration("ITSM_SHUTDOWN_GRACE") ?? shutdownGrace
        reopenWindow = try reader.duration("ITSM_REOPEN_WINDOW") ?? reopenWindow
        storm.maxNewPerMinute = try reader.int("ITSM_STORM_MAX_NEW_PER_MINUTE", in: 0...1_000_000) ?? storm.maxNewPerMinute
        storm.window = try reader.duration("ITSM_STORM_WINDOW") ?? storm.window
        notesPerCycle = try reader.int("ITSM_SYNC_NOTES_PER_CYCLE", in: 1...100_000) ?? notesPerCycle
        flapping.threshold = try reader.int("ITSM_FLAP_THRESHOLD", in: 0...1000) ?? flapping.threshold
        flapping.window = try reader.duration("ITSM_FLAP_WINDOW") ?? flapping.window
        flapping.quiet = try reader.duration("ITSM_FLAP_QUIET") ?? flapping.quiet
        auditRetention = try reader.duration("ITSM_AUDIT_RETENTION") ?? auditRetention
        workerID = reader.string("ITSM_WORKER_ID") ?? workerID
        let delays = reader.list("ITSM_RETRY_DELAYS")
        if !delays.isEmpty {
            var parsed: [Duration] = []
            for text in delays {
                guard let delay = parseDuration(text), delay >= .milliseconds(100) else {
                    throw ConfigurationError(variable: "ITSM_RETRY_DELAYS", reason: "expected durations of at least 100ms, comma-separated, got '\(text)'")
                }
                parsed.append(delay)
            }
            retryDelays = parsed
        }
        deliveryLimit = try reader.int("ITSM_DELIVERY_LIMIT", in: 1...1000) ?? deliveryLimit
        instanceSlotWait = try reader.duration("ITSM_INSTANCE_SLOT_WAIT") ?? instanceSlotWait
        claimLease = try reader.duration("ITSM_CLAIM_LEASE") ?? (requestTimeout + instanceSlotWait + .seconds(10))
        if claimLease <= requestTimeout + instanceSlotWait {
            throw ConfigurationError(variable: "ITSM_CLAIM_LEASE",
                                     reason: "must be longer than ITSM_REQUEST_TIMEOUT + ITSM_INSTANCE_SLOT_WAIT, or another worker could take over a create in progress")
        }
        outboxPollInterval = try reader.duration("ITSM_OUTBOX_POLL_INTERVAL") ?? outboxPollInterval
        syncOverlap = try reader.duration("ITSM_SYNC_OVERLAP") ?? syncOverlap
        syncFullEvery = try reader.int("ITSM_SYNC_FULL_EVERY", in: 1...10_000) ?? syncFullEvery
        metadataCacheTTL = try reader.duration("ITSM_METADATA_CACHE_TTL") ?? metadataCacheTTL
        configurationCacheTTL = try reader.duration("ITSM_CONFIG_CACHE_TTL") ?? configurationCacheTTL
        circuitThreshold = try reader.int("ITSM_CIRCUIT_THRESHOLD", in: 1...1000) ?? circuitThreshold
        circuitOpenFor = try reader.duration("ITSM_CIRCUIT_OPEN_FOR") ?? circuitOpenFor
        instanceMaxInFlight = try reader.int("ITSM_INSTANCE_MAX_IN_FLIGHT", in: 1...1000) ?? (instanceConcurrency * 2)
        let pairs = reader.list("ITSM_STATE_MAP")
        if !pairs.isEmpty {
            var map: [IncidentState: AlertStatus] = [:]
            for pair in pairs {
                let parts = pair.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let status = AlertStatus(rawValue: parts[1]) else {
                    throw ConfigurationError(variable: "ITSM_STATE_MAP", reason: "expected state=open|acknowledged|resolved pairs, got '\(pair)'")
                }
                map[IncidentState(rawValue: parts[0])] = status
            }
            alertStatusByState = map
        }
        unknownSettings = reader.unread.filter { !$0.hasPrefix("ITSM_TEST_") }.sorted()
    }

    private static func checkKey(_ key: String, variable: String) throws(ConfigurationError) {
        guard let data = Data(base64Encoded: key), data.count == 32 else {
            throw ConfigurationError(variable: variable, reason: "must be base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)")
        }
    }

    private static func readFile(_ path: String) throws(ConfigurationError) -> [String: String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError(variable: "--config", reason: "cannot read \(path)")
        }
        var values: [String: String] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(variable: "--config", reason: "\(path):\(number + 1) is not KEY=value")
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            values[line[..<equals].trimmingCharacters(in: .whitespaces)] = value
        }
        return values
    }

    /// The broker connection: the URL's nodes and settings, with the `ITSM_AMQP_TLS_*` files.
    public func amqpConfiguration() throws(AMQPError) -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: amqpURL)
        if configuration.tls != nil {
            if let amqpTLSCAFile { configuration.tls?.caFile = amqpTLSCAFile }
            if let amqpTLSCertificateFile { configuration.tls?.certificateFile = amqpTLSCertificateFile }
            if let amqpTLSKeyFile { configuration.tls?.keyFile = amqpTLSKeyFile }
        }
        return configuration
    }

    /// The instance URLs this configuration accepts.
    public var instanceURLPolicy: InstanceURLPolicy {
        InstanceURLPolicy(allowInsecure: allowInsecureInstanceURLs, allowedHostSuffixes: instanceHostAllowlist, allowedPorts: instancePorts)
    }

    /// The addresses connections to instances may reach: loopback only in insecure mode.
    public var connectAddressPolicy: ConnectAddressPolicy {
        ConnectAddressPolicy(allowLoopback: allowInsecureInstanceURLs)
    }

    /// The settings as an operator would check them, with secrets masked.
    public var summary: [(String, String)] {
        [
            ("ITSM_AMQP_URL", (try? AMQPConfiguration(url: amqpURL).redactedURL) ?? "?"),
            ("ITSM_DATABASE_URL", (try? PostgresConfiguration(url: databaseURL).redactedURL) ?? "?"),
            ("ITSM_SECRET_KEY", secretKey == nil ? "(not set)" : "(set)"),
            ("ITSM_ALLOW_INSECURE_INSTANCE_URLS", String(allowInsecureInstanceURLs)),
            ("HTTPS_PROXY", serviceNowProxy.proxy.map { "\($0)" + (serviceNowProxy.noProxy.isEmpty ? "" : " (not for \(serviceNowProxy.noProxy.joined(separator: ",")))") } ?? "(none)"),
            ("ITSM_SYNC_INTERVAL", "\(syncInterval)"),
            ("ITSM_HTTP_PORT", String(httpPort)),
            ("ITSM_PREFETCH", String(prefetch)),
            ("ITSM_MAX_PREFETCH", String(maxPrefetch)),
            ("ITSM_MAX_IN_FLIGHT", String(maxInFlight)),
            ("ITSM_QUEUE_TYPE", queueType.rawValue),
            ("ITSM_INSTANCE_CONCURRENCY", String(instanceConcurrency)),
            ("ITSM_EVENT_LOOPS", String(eventLoops)),
            ("ITSM_STORM_MAX_NEW_PER_MINUTE", String(storm.maxNewPerMinute)),
            ("ITSM_STORM_WINDOW", "\(storm.window)"),
            ("ITSM_FLAP_THRESHOLD", String(flapping.threshold)),
            ("ITSM_FLAP_WINDOW", "\(flapping.window)"),
            ("ITSM_FLAP_QUIET", "\(flapping.quiet)"),
            ("ITSM_WORKER_ID", workerID),
        ]
    }
}

/// Parses durations written as `500ms`, `30s`, `5m`, `2h`, `1d` (a bare number is seconds).
public func parseDuration(_ text: String) -> Duration? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
    // Ten years at most: anything longer is a typo, and would trap converting to milliseconds.
    let longest = 10 * 365 * 86400.0
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
        guard let value = Double(trimmed.dropLast(suffix.count)), value >= 0, value * scale <= longest else { return nil }
        return .milliseconds(Int64((value * scale * 1000).rounded()))
    }
    guard let value = Double(trimmed), value >= 0, value <= longest else { return nil }
    return .milliseconds(Int64((value * 1000).rounded()))
}

/// The settings through swift-configuration: the environment over the config file, each an
/// `EnvironmentVariablesProvider`, with the variables that carry credentials marked secret (the
/// library's access reports redact them). The typed reading stays here: an operator gets one
/// line naming the variable, the expected form and the value given, and exit code 78.
private struct Reader {
    /// Variables whose values hold a password or a key.
    static let secretNames: Set<String> = ["ITSM_SECRET_KEY", "ITSM_SECRET_KEY_PREVIOUS", "ITSM_AMQP_URL", "ITSM_DATABASE_URL", "ITSM_HTTPS_PROXY"]

    private let config: ConfigReader
    private let present: Set<String>
    private var read: Set<String> = []

    /// Settings given but never read: misspelt or retired names.
    var unread: Set<String> { present.subtracting(read) }

    init(environment: [String: String], file: [String: String]) {
        let secrets = SecretsSpecifier<String, String>.specific(Self.secretNames)
        config = ConfigReader(providers: [
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: secrets),
            EnvironmentVariablesProvider(environmentVariables: file, secretsSpecifier: secrets),
        ])
        present = Set(environment.keys).union(file.keys)
    }

    /// The value, or nil when it is unset or empty (an empty variable means the default, also
    /// over a value in the file).
    mutating func string(_ name: String) -> String? {
        read.insert(name)
        guard let value = config.string(forKey: ConfigKey([name]), isSecret: Self.secretNames.contains(name)), !value.isEmpty else { return nil }
        return value
    }

    mutating func list(_ name: String) -> [String] {
        string(name)?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } ?? []
    }

    mutating func bool(_ name: String) throws(ConfigurationError) -> Bool? {
        guard let value = string(name) else { return nil }
        switch value.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(variable: name, reason: "expected true or false, got '\(value)'")
        }
    }

    mutating func int(_ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let value = string(name) else { return nil }
        guard let number = Int(value), range.contains(number) else {
            throw ConfigurationError(variable: name, reason: "expected a whole number from \(range.lowerBound) to \(range.upperBound), got '\(value)'")
        }
        return number
    }

    mutating func duration(_ name: String) throws(ConfigurationError) -> Duration? {
        guard let value = string(name) else { return nil }
        guard let duration = parseDuration(value), duration > .zero else {
            throw ConfigurationError(variable: name, reason: "expected a duration such as 30s, 5m or 500ms, got '\(value)'")
        }
        return duration
    }

    mutating func oneOf(_ name: String, _ allowed: [String]) throws(ConfigurationError) -> String? {
        guard let value = string(name) else { return nil }
        guard allowed.contains(value.lowercased()) else {
            throw ConfigurationError(variable: name, reason: "expected one of \(allowed.joined(separator: ", ")), got '\(value)'")
        }
        return value.lowercased()
    }
}
