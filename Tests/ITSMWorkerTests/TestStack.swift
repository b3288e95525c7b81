import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Logging
import Postgres
import ServiceNow
import ServiceNowSimulator
import Synchronization
import TestSupport
import Testing

/// Everything one end-to-end test needs, isolated from other tests running at the same time: a
/// fresh database, exchanges and queues with unique names, ServiceNow simulators, workers, and a
/// queue collecting every event the workers publish.
final class TestStack: Sendable {
    let id: String
    let database: String
    let configuration: WorkerConfiguration
    let simulators: [ServiceNowSimulator]
    let simulatorURLs: [String]
    let publisher: AMQPConnection
    let pool: PostgresPool
    let logs: CapturedLogs
    let events: EventCollector
    private let workers = Mutex<[RunningWorker]>([])
    private let stopped = Mutex(false)

    static let secretKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    /// `durableEvents`: the queue observing published events survives a broker restart.
    static func make(simulators count: Int = 1, durableEvents: Bool = false, eventQueue: AMQPQueue.Kind = .classic,
                     configureSimulator: (inout SimulatorConfiguration) -> Void = { _ in },
                     configure: (inout WorkerConfiguration) -> Void = { _ in }) async throws -> TestStack {
        guard let made = MadeStacks.current else { throw MadeStacks.Missing() }
        let id = UUID().uuidString.prefix(8).lowercased()
        let database = "itsm_e2e_\(id)"
        let admin = try WorkerTestDatabase.pool(database: nil, size: 1)
        try await admin.execute("CREATE DATABASE \(database)")
        await admin.close()

        var configuration = try WorkerConfiguration(environment: [:])
        configuration.amqpURL = ProcessInfo.processInfo.environment["ITSM_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
        var databaseURL = try PostgresConfiguration(url: WorkerTestDatabase.url)
        databaseURL.database = database
        configuration.databaseURL = "postgres://\(databaseURL.user):\(databaseURL.password ?? "")@\(databaseURL.host):\(databaseURL.port)/\(database)"
        configuration.secretKey = secretKey
        configuration.allowInsecureInstanceURLs = true
        // The tests' reply queues; production replies go to direct reply-to or a listed prefix.
        configuration.commandReplyPrefixes = ["test-replies."]
        configuration.alertsExchange = "test.\(id).alerts"
        configuration.eventsExchange = "test.\(id).events"
        configuration.queuePrefix = "test.\(id)"
        // Classic queues: dozens of stacks start at once, and declaring hundreds of quorum queues
        // (a Raft group each) at the same moment overwhelms a 2-core broker. The quorum
        // topology has its own test.
        configuration.queueType = .classic
        // Most tests send dozens of alerts from one network in moments to see each get its own
        // incident; storm protection (GroupingTests) is switched on where it is the subject.
        configuration.storm.maxNewPerMinute = 0
        configuration.retryDelays = [.milliseconds(200), .milliseconds(500), .seconds(1)]
        configuration.maxAttempts = 6
        configuration.requestTimeout = .seconds(3)
        configuration.instanceSlotWait = .milliseconds(500)
        // Fault bursts trip circuits; a short open period keeps tests from idling 30 s per trip.
        configuration.circuitOpenFor = .seconds(1)
        configuration.claimLease = .seconds(4)
        configuration.outboxPollInterval = .milliseconds(200)
        configuration.workerID = "test-\(id)"
        configuration.httpPort = 0
        // A worker opens its whole pool at start; with the suites running side by side, 8 each
        // would take more connections than the test server allows.
        configuration.databasePoolSize = 4
        configure(&configuration)

        let logs = CapturedLogs()
        let pool = try WorkerTestDatabase.pool(database: database, size: 4)
        try await WorkerSchema.migrator().migrate(pool, logger: Logger(label: "migrate"))

        var simulators: [ServiceNowSimulator] = []
        var urls: [String] = []
        for _ in 0..<count {
            var simulatorConfiguration = SimulatorConfiguration(clients: [SimulatedClient(clientID: "worker-client", clientSecret: "Sup3r-Secret-Value")])
            simulatorConfiguration.rejectedAssignmentGroups = ["Restricted Ops"]
            configureSimulator(&simulatorConfiguration)
            let simulator = ServiceNowSimulator(configuration: simulatorConfiguration, logger: logs.logger("simulator", level: .info))
            urls.append(try await simulator.start())
            simulators.append(simulator)
        }

        var publisherConfiguration = try AMQPConfiguration(url: configuration.amqpURL)
        publisherConfiguration.connectionName = "test-publisher-\(id)"
        let publisher = try await AMQPConnection.connect(publisherConfiguration, logger: Logger(label: "publisher"))
        let topology = WorkerTopology(configuration)
        try await topology.declare(on: publisher)
        let events = try await EventCollector.start(on: publisher, exchange: configuration.eventsExchange, queue: "test.\(id).observed",
                                                    durable: durableEvents, kind: eventQueue)
        let stack = TestStack(id: String(id), database: database, configuration: configuration, simulators: simulators, simulatorURLs: urls,
                              publisher: publisher, pool: pool, logs: logs, events: events)
        made.add(stack)
        return stack
    }

    private init(id: String, database: String, configuration: WorkerConfiguration, simulators: [ServiceNowSimulator], simulatorURLs: [String],
                 publisher: AMQPConnection, pool: PostgresPool, logs: CapturedLogs, events: EventCollector) {
        self.id = id
        self.database = database
        self.configuration = configuration
        self.simulators = simulators
        self.simulatorURLs = simulatorURLs
        self.publisher = publisher
        self.pool = pool
        self.logs = logs
        self.events = events
    }

    var topology: WorkerTopology { WorkerTopology(configuration) }
    var simulator: ServiceNowSimulator { simulators[0] }

    // MARK: Workers

    /// Starts an in-process worker.
    @discardableResult
    func startWorker(name: String = "w", roles: Set<WorkerRole> = Set(WorkerRole.allCases),
                     configure: (inout WorkerConfiguration) -> Void = { _ in }) async throws -> RunningWorker {
        var configuration = self.configuration
        configuration.workerID = "\(configuration.workerID)-\(name)"
        configure(&configuration)
        let runtime = try await WorkerRuntime.start(configuration: configuration, roles: roles, logger: logs.logger("worker-\(name)", level: .debug))
        let task = Task { try await runtime.run(handleSignals: false) }
        let worker = RunningWorker(runtime: runtime, task: task)
        workers.withLock { $0.append(worker) }
        return worker
    }

    /// The environment for a worker running as its own process.
    var processEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ITSM_") }
        environment["ITSM_AMQP_URL"] = configuration.amqpURL
        environment["ITSM_DATABASE_URL"] = configuration.databaseURL
        environment["ITSM_SECRET_KEY"] = configuration.secretKey
        environment["ITSM_ALLOW_INSECURE_INSTANCE_URLS"] = "true"
        environment["ITSM_COMMAND_REPLY_PREFIXES"] = configuration.commandReplyPrefixes.joined(separator: ",")
        environment["ITSM_ALERTS_EXCHANGE"] = configuration.alertsExchange
        environment["ITSM_EVENTS_EXCHANGE"] = configuration.eventsExchange
        environment["ITSM_QUEUE_PREFIX"] = configuration.queuePrefix
        environment["ITSM_QUEUE_TYPE"] = configuration.queueType.rawValue
        environment["ITSM_RETRY_DELAYS"] = configuration.retryDelays.map(Self.milliseconds).joined(separator: ",")
        environment["ITSM_MAX_ATTEMPTS"] = String(configuration.maxAttempts)
        environment["ITSM_REQUEST_TIMEOUT"] = Self.milliseconds(configuration.requestTimeout)
        environment["ITSM_INSTANCE_SLOT_WAIT"] = Self.milliseconds(configuration.instanceSlotWait)
        environment["ITSM_CIRCUIT_OPEN_FOR"] = Self.milliseconds(configuration.circuitOpenFor)
        environment["ITSM_CLAIM_LEASE"] = Self.milliseconds(configuration.claimLease)
        environment["ITSM_OUTBOX_POLL_INTERVAL"] = Self.milliseconds(configuration.outboxPollInterval)
        environment["ITSM_DB_POOL_SIZE"] = String(configuration.databasePoolSize)
        environment["ITSM_STORM_MAX_NEW_PER_MINUTE"] = String(configuration.storm.maxNewPerMinute)
        environment["ITSM_FLAP_THRESHOLD"] = String(configuration.flapping.threshold)
        environment["ITSM_HTTP_PORT"] = "0"
        environment["ITSM_LOG_LEVEL"] = "info"
        return environment
    }

    private static func milliseconds(_ duration: Duration) -> String {
        "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)ms"
    }

    /// Stops the workers and removes everything the stack made. The suite trait
    /// ``StopsTestStacks`` calls it when the test ends; calling it earlier is fine.
    func stop() async {
        guard stopped.withLock({ stopped in defer { stopped = true }; return !stopped }) else { return }
        let running = workers.withLock { workers in
            defer { workers = [] }
            return workers
        }
        for worker in running { await worker.stop() }
        await events.stop()
        // `ITSM_TEST_LOG_DIR=/tmp/x`: every stack's captured logs, to read after a failure.
        if let directory = ProcessInfo.processInfo.environment["ITSM_TEST_LOG_DIR"] {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let name = (Test.current?.name ?? "test").filter { $0.isLetter || $0.isNumber }
            try? logs.all.joined(separator: "\n").write(toFile: "\(directory)/\(name)-\(id).log", atomically: false, encoding: .utf8)
        }
        // Leave nothing behind on a shared broker.
        let topology = self.topology
        var queues = [topology.alertsQueue, topology.statusQueue, topology.commandsQueue, topology.deadQueue, "test.\(id).observed"]
        queues += topology.retryTTLs.map(topology.retryQueue(ttl:))
        for queue in queues { _ = try? await publisher.deleteQueue(queue) }
        for exchange in [topology.alertsExchange, topology.eventsExchange, topology.deadExchange, topology.returnExchange] {
            try? await publisher.deleteExchange(exchange)
        }
        await publisher.close()
        for simulator in simulators { await simulator.stop() }
        await pool.close()
        if let admin = try? WorkerTestDatabase.pool(database: nil, size: 1) {
            _ = try? await admin.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
            await admin.close()
        }
    }

    // MARK: Configuration data

    func addIntegration(customer: String, simulator index: Int = 0, settings: IntegrationSettings = IntegrationSettings()) async throws {
        let box = try SecretBox(currentKey: Self.secretKey)
        try await ConfigurationStore(pool: pool).saveIntegration(customerID: customer, instanceURL: simulatorURLs[index], clientID: "worker-client",
                                                                 sealedSecret: try box.seal("Sup3r-Secret-Value", customerID: customer), settings: settings)
    }

    static let standardFields = """
        {
          "short_description": "{{alert.title}} on {{alert.device.name}}",
          "description": "{{alert.description}}",
          "category": "network",
          "subcategory": "cpu",
          "impact":  {"from": "alert.severity", "map": {"critical": "1", "major": "2"}, "default": "3"},
          "urgency": {"from": "alert.severity", "map": {"critical": "1", "major": "2"}, "default": "3"},
          "assignment_group": "Network Operations"
        }
        """

    func addMapping(customer: String, network: String, alertType: String = "cpu_usage", fields: String = TestStack.standardFields,
                    grouping: AlertGrouping? = nil) async throws {
        var mapping = try AlertMapping.parse(fieldsJSON: Data(fields.utf8))
        mapping.grouping = grouping
        try await ConfigurationStore(pool: pool).saveMapping(StoredMapping(customerID: customer, networkID: network, alertType: alertType, mapping: mapping))
    }

    // MARK: Messages

    @discardableResult
    func publishRaised(customer: String = "cust-1", network: String = "net-1", alertID: String = UUID().uuidString, alertType: String = "cpu_usage",
                       eventID: String = UUID().uuidString.lowercased(), severity: String = "critical", title: String = "CPU usage above 95%",
                       occurredAt: Date = Date(), device: (name: String, ip: String) = ("core-sw-01", "10.0.0.1"),
                       via connection: AMQPConnection? = nil) async throws -> String {
        let body: [String: Any] = [
            "schema": "ceburu.alert.v1", "event_id": eventID, "type": "alert.raised",
            "occurred_at": AlertEvent.formatTimestamp(occurredAt), "customer_id": customer, "network_id": network,
            "alert": [
                "id": alertID, "type": alertType, "severity": severity, "title": title,
                "description": "core-sw-01 CPU at 97.2% for 5 minutes",
                "device": ["id": "dev-9", "name": device.name, "ip": device.ip], "value": 97.2, "threshold": 95,
                "labels": ["site": "fra1"], "url": "https://app.ceburu.example/alerts/\(alertID)",
            ] as [String: Any],
        ]
        try await publish(try JSONSerialization.data(withJSONObject: body), routingKey: "alert.raised", via: connection)
        return eventID
    }

    @discardableResult
    func publishStatus(_ type: String, customer: String = "cust-1", network: String = "net-1", alertID: String, alertType: String = "cpu_usage",
                       eventID: String = UUID().uuidString.lowercased(), occurredAt: Date = Date(), actor: String = "Dana Ops", note: String? = nil) async throws -> String {
        var body: [String: Any] = [
            "schema": "ceburu.alert.v1", "event_id": eventID, "type": type, "occurred_at": AlertEvent.formatTimestamp(occurredAt),
            "customer_id": customer, "network_id": network, "alert": ["id": alertID, "type": alertType],
            "actor": ["name": actor, "email": "dana@example.com"],
        ]
        if let note { body["note"] = note }
        try await publish(try JSONSerialization.data(withJSONObject: body), routingKey: type)
        return eventID
    }

    func publish(_ body: Data, routingKey: String, via connection: AMQPConnection? = nil) async throws {
        let outcome = try await (connection ?? publisher).publish(body, exchange: configuration.alertsExchange, routingKey: routingKey,
                                                  properties: AMQPProperties(contentType: "application/json"), mandatory: true)
        guard outcome == .confirmed else { throw TestFailure("publish to \(routingKey) was returned: \(outcome)") }
    }

    /// A reply queue (named under the allowed `test-replies.` prefix) and what arrives on it.
    func replyQueue(_ suffix: String) async throws -> ReplyQueue {
        let name = "test-replies.\(id).\(suffix)"
        try await publisher.declare(AMQPQueue(name: name, kind: .classic, durable: false, exclusive: true))
        let consumer = try await publisher.consume(queue: name, prefetch: 10)
        return ReplyQueue(name: name, consumer: consumer)
    }

    // MARK: Looking at the results

    func incidents(simulator index: Int = 0) async -> [[String: String]] {
        await simulators[index].store.records("incident")
    }

    func link(customer: String = "cust-1", alertID: String) async throws -> TicketLink? {
        try await TicketStore(pool: pool).link(customerID: customer, alertID: alertID)
    }

    /// Waits until `condition` holds or `seconds` pass; returns whether it held.
    @discardableResult
    func eventually(_ seconds: Double = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
        try await TestSupport.eventually(seconds, condition)
    }

    /// Everything the worker had queued in its outbox has reached `events`: waits until the
    /// outbox holds nothing unpublished (a row is marked published only once the broker
    /// confirmed it), then sends a marker through the events exchange and waits for it, since
    /// the collector's queue delivers in order. The positive end of a "nothing more was
    /// published" check, instead of a quiet period.
    func eventsCaughtUp(within seconds: Double = 20) async throws -> Bool {
        let drained = await eventually(seconds) {
            (try? await pool.query("SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1").isEmpty) == true
        }
        guard drained else { return false }
        let marker = UUID().uuidString
        try await publisher.publish(Array(#"{"type":"\#(EventCollector.markerType)","marker":"\#(marker)"}"#.utf8),
                                    exchange: configuration.eventsExchange, routingKey: EventCollector.markerType)
        return await eventually(seconds) { events.sawMarker(marker) }
    }

    /// How many messages of `type` (`alert.resolved`, ...) the workers have settled for good
    /// (acknowledged with any outcome, duplicates included, or dead-lettered; not sent to a
    /// retry queue or a hold queue), as their metrics count them: the marker that every copy of a message
    /// published so far was handled.
    func settled(_ workers: RunningWorker..., type: String) -> Int {
        workers.flatMap { $0.runtime.metrics.render().split(separator: "\n") }
            .filter { $0.hasPrefix("itsm_messages_total{type=\"\(type)\",") && !$0.contains("outcome=\"retry\"") && !$0.contains("outcome=\"requeued\"")
                && !$0.contains("outcome=\"held\"") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0) { $0 + Int($1) }
    }

    /// A counter of the worker's metrics, summed over its labels.
    func counter(_ worker: RunningWorker, _ name: String) -> Int {
        worker.runtime.metrics.render().split(separator: "\n")
            .filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0) { $0 + Int($1) }
    }

    /// Messages in the dead-letter queue (consumed and acked).
    func drainDeadLetters(expecting count: Int, within seconds: Double = 15) async throws -> [AMQPDelivery] {
        try await drain(queue: topology.deadQueue, expecting: count, within: seconds)
    }

    /// Messages in `queue` (consumed and acked), once `count` arrived or `seconds` passed.
    func drain(queue: String, expecting count: Int, within seconds: Double = 15) async throws -> [AMQPDelivery] {
        let consumer = try await publisher.consume(queue: queue, prefetch: 500)
        let collected = Mutex<[AMQPDelivery]>([])
        let task = Task {
            for try await delivery in consumer {
                try? await delivery.ack()
                collected.withLock { $0.append(delivery) }
            }
        }
        await eventually(seconds) { collected.withLock { $0.count } >= count }
        // Anything beyond `count` that is already queued is taken too, so a test that expects
        // exactly `count` sees the extras; what the worker has yet to send is the test's to
        // rule out with a marker.
        let extra = (try? await publisher.inspectQueue(queue).messageCount) ?? 0
        if extra > 0 { await eventually(5) { collected.withLock { $0.count } >= count + extra } }
        try? await consumer.cancel()
        task.cancel()
        return collected.withLock { $0 }
    }
}

/// GET with curl: status and body.
func httpGet(_ url: String) async throws -> (Int, String) {
    let curl = try await Subprocess.run(["curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", url], errors: .discarded)
    var lines = curl.output.split(separator: "\n", omittingEmptySubsequences: false)
    let status = Int(lines.popLast() ?? "") ?? 0
    return (status, lines.joined(separator: "\n"))
}
