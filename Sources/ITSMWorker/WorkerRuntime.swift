import AMQP
import Coordination
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import ITSMServiceNow
import Logging
import Postgres
import ServiceLifecycle
import ServiceNow
import UnixSignals

/// The assembled worker: connections, stores, handlers and the services for its roles.
public final class WorkerRuntime: Sendable {
    public let configuration: WorkerConfiguration
    public let roles: Set<WorkerRole>
    public let pool: PostgresPool
    public let amqp: AMQPConnection
    public let serviceNow: ServiceNowClient
    public let topology: WorkerTopology
    public let configurationStore: ConfigurationStore
    public let tickets: TicketStore
    public let resolver: IntegrationResolver
    public let outboxSignal: OutboxSignal
    public let processor: MessageProcessor
    let holds: HoldQueues
    /// The busy instances' hold queues this worker consumes now.
    public var holdQueuesConsumed: Set<String> { holds.consuming }
    let statusHandler: StatusHandler
    public let sync: IncidentSync
    public let metadata: InstanceMetadata
    public let validator: MappingValidator
    public let commands: CommandProcessor
    public let metrics: WorkerMetrics
    public let circuits: InstanceCircuits
    public let health: HealthState
    public let audit: AuditTrail
    let logger: Logger

    /// Connects to PostgreSQL and RabbitMQ (retrying until they answer, or the task is
    /// cancelled) and declares the topology.
    public static func start(configuration: WorkerConfiguration, roles: Set<WorkerRole> = Set(WorkerRole.allCases),
                             logger: Logger) async throws -> WorkerRuntime {
        let metrics = WorkerMetrics()
        var postgres = try PostgresConfiguration(url: configuration.databaseURL)
        postgres.maximumConnections = configuration.databasePoolSize
        postgres.applicationName = "itsm-worker \(configuration.workerID)"
        let pool = PostgresPool(configuration: postgres, logger: logger)
        try await retrying("PostgreSQL", logger: logger) { _ = try await pool.query("SELECT 1") }
        // The whole pool before the first message, so that a rise in load does not wait for it.
        await pool.warmUp(to: postgres.maximumConnections)

        var amqpConfiguration = try configuration.amqpConfiguration()
        amqpConfiguration.connectionName = "itsm-worker \(configuration.workerID)"
        amqpConfiguration.maxUnconfirmedPublishes = 4096
        let amqp = try await retrying("RabbitMQ", logger: logger) { try await AMQPConnection.connect(amqpConfiguration, logger: logger) }
        let topology = WorkerTopology(configuration)
        try await topology.declare(on: amqp)

        var clientConfiguration = ServiceNowClient.Configuration()
        clientConfiguration.requestTimeout = configuration.requestTimeout
        clientConfiguration.concurrencyPerInstance = configuration.instanceConcurrency
        clientConfiguration.maximumSlotWait = configuration.instanceSlotWait
        clientConfiguration.addressPolicy = configuration.connectAddressPolicy
        clientConfiguration.proxy = configuration.serviceNowProxy
        clientConfiguration.additionalTrustRootsFile = configuration.serviceNowCAFile
        let trail = AuditTrail(pool: pool, retention: configuration.auditRetention, logger: logger)
        let serviceNow = ServiceNowClient(configuration: clientConfiguration, logger: logger, observer: { record in
            metrics.serviceNowRequest(record)
            trail.record(record)
        })
        return try WorkerRuntime(configuration: configuration, roles: roles, pool: pool, amqp: amqp, serviceNow: serviceNow,
                                 topology: topology, metrics: metrics, audit: trail, logger: logger)
    }

    private init(configuration: WorkerConfiguration, roles: Set<WorkerRole>, pool: PostgresPool, amqp: AMQPConnection,
                 serviceNow: ServiceNowClient, topology: WorkerTopology, metrics: WorkerMetrics, audit: AuditTrail, logger: Logger) throws {
        self.metrics = metrics
        self.audit = audit
        let observer = ProcessingObserver(onParked: { metrics.count("itsm_parked_total") }) { type, settlement, duration in
            metrics.processed(type: type, settlement: settlement, duration: duration)
            if let context = AuditContext.current { audit.decision(context, "\(type): \(settlement.auditDescription)") }
        }
        circuits = InstanceCircuits(threshold: configuration.circuitThreshold, openFor: configuration.circuitOpenFor,
                                    maxInFlight: configuration.instanceMaxInFlight) { instance, state in
            metrics.circuit(instance: instance, state: state)
            logger.warning("circuit \(state == .open ? "opened" : state == .closed ? "closed" : "half-open") for a ServiceNow instance",
                           metadata: ["servicenow.instance": "\(instance)"])
        }
        self.configuration = configuration
        self.roles = roles
        self.pool = pool
        self.amqp = amqp
        self.serviceNow = serviceNow
        self.topology = topology
        self.logger = logger
        configurationStore = ConfigurationStore(pool: pool)
        outboxSignal = OutboxSignal()
        tickets = TicketStore(pool: pool, outbox: outboxSignal, storm: configuration.storm)
        let secrets = try configuration.secretKey.map { key throws(SecretBoxError) in
            try SecretBox(currentKey: key, previousKeys: configuration.previousSecretKeys)
        }
        resolver = IntegrationResolver(configuration: configurationStore, client: serviceNow,
                                       policy: configuration.instanceURLPolicy,
                                       secrets: secrets, cacheTTL: configuration.configurationCacheTTL)
        health = HealthState()
        metadata = InstanceMetadata(ttl: configuration.metadataCacheTTL)
        validator = MappingValidator(metadata: metadata)
        let directory = ServiceNowDirectory(resolver: resolver, validator: validator)
        let status = StatusHandler(tickets: tickets, directory: directory, circuits: circuits, workerID: configuration.workerID, claimLease: configuration.claimLease,
                                   shared: tickets, flaps: tickets, flapping: configuration.flapping)
        statusHandler = status
        let alerts = AlertHandler(tickets: tickets, directory: directory, status: status, circuits: circuits, workerID: configuration.workerID,
                                  claimLease: configuration.claimLease, writeWindow: configuration.requestTimeout + configuration.instanceSlotWait,
                                  reopenWindow: configuration.reopenWindow, shared: tickets, storm: configuration.storm, afterCreate: Self.crashHook)
        // A busy instance's hold queue is drained with that instance's share: its bulkhead and as
        // many waiting.
        holds = HoldQueues(topology: topology, amqp: amqp, prefetch: configuration.instanceMaxInFlight * 2, logger: logger)
        processor = MessageProcessor(topology: topology, amqp: amqp, alerts: alerts, status: status, maxAttempts: configuration.maxAttempts,
                                     maxMessageBytes: configuration.maxMessageBytes, workerID: configuration.workerID,
                                     outbox: outboxSignal, observer: observer, holds: holds, logger: logger)
        holds.handleWith { [processor] in await processor.process($0, queue: $1) }
        let syncStore = PostgresSyncStore(pool: pool, workerID: configuration.workerID)
        sync = IncidentSync(store: syncStore, directory: directory, status: status, circuits: circuits,
                            settings: IncidentSync.Settings(lease: configuration.requestTimeout * 20 + .seconds(30), fullEvery: configuration.syncFullEvery,
                                                            overlap: configuration.syncOverlap, alertStatusByState: configuration.alertStatusByState,
                                                            notesPerCycle: configuration.notesPerCycle),
                            notes: syncStore, logger: logger)
        commands = CommandProcessor(messages: processor,
                                    commands: ServiceNowIntegrationCommands(tester: ConnectionTester(resolver: resolver), resolver: resolver,
                                                                            metadata: metadata, outbox: outboxSignal),
                                    logger: logger, replyPrefixes: configuration.commandReplyPrefixes)
    }

    /// The crash tests' switch: with `ITSM_TEST_CRASH_AFTER_CREATE=1`, die right after the
    /// instance created an incident, before the commit. Read only in debug builds (the tests');
    /// a release build has no such switch.
    static var crashHook: @Sendable () -> Void {
        #if DEBUG
        if ProcessInfo.processInfo.environment["ITSM_TEST_CRASH_AFTER_CREATE"] == "1" {
            return { kill(getpid(), SIGKILL) }
        }
        #endif
        return {}
    }

    /// The long-running parts for the configured roles, in start order. `ServiceGroup` stops them
    /// in reverse: intake first (the consumers stop taking deliveries and finish those in flight,
    /// then the sync loop), then the observability endpoints and the audit writer, and the outbox
    /// relay last, so that the events of work finished during the shutdown are published before
    /// the connections close.
    public func services() -> [any Service] {
        var services: [any Service] = []
        if roles.contains(.outbox) {
            services.append(outboxRelay)
        }
        services += [
            AuditWriter(trail: audit, tickets: tickets, eventRetention: configuration.eventRetention),
            HealthSampler(pool: pool, amqp: amqp, metrics: metrics, health: health, logger: logger),
            ObservabilityServer(port: configuration.httpPort, metrics: metrics, health: health, amqp: amqp, logger: logger),
        ]
        if roles.contains(.sync) {
            services.append(SyncService(sync: sync, interval: configuration.syncInterval, outbox: outboxSignal, logger: logger))
        }
        let processor = self.processor
        let circuits = self.circuits, base = configuration.prefetch
        let wantedIntake: @Sendable () -> Int = { base + circuits.wantedIntake() }
        if !roles.isDisjoint(with: [.alerts, .status]) {
            services.append(holds)
        }
        if roles.contains(.status) {
            services.append(QueueConsumer(queue: topology.statusQueue, amqp: amqp, prefetch: configuration.prefetch, preparing: configuration.maxInFlight,
                                          maximumPrefetch: configuration.maxPrefetch, wantedIntake: wantedIntake, logger: logger) {
                await processor.process($0, queue: $1)
            })
        }
        if roles.contains(.alerts) {
            services.append(QueueConsumer(queue: topology.alertsQueue, amqp: amqp, prefetch: configuration.prefetch, preparing: configuration.maxInFlight,
                                          maximumPrefetch: configuration.maxPrefetch, wantedIntake: wantedIntake, logger: logger) {
                await processor.process($0, queue: $1)
            })
            // Test Connection and field listing requests ride with the alerts role.
            let commands = self.commands
            services.append(QueueConsumer(queue: topology.commandsQueue, amqp: amqp, prefetch: 4, preparing: 4, logger: logger) {
                await commands.process($0, queue: $1)
            })
        }
        return services
    }

    /// Runs the services until SIGTERM or SIGINT (or cancellation), then closes the connections.
    public func run(handleSignals: Bool = true) async throws {
        var groupConfiguration = ServiceGroupConfiguration(
            services: services().map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGrace
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch {
            await close()
            throw error
        }
        await close()
    }

    /// The outbox relay, for one-shot commands that publish what they queued.
    public var outboxRelay: OutboxRelay {
        OutboxRelay(outbox: PostgresEventOutbox(pool: pool), publisher: AMQPEventPublisher(amqp: amqp, exchange: topology.eventsExchange),
                    signal: outboxSignal, pollInterval: configuration.outboxPollInterval, logger: logger)
    }

    public func close() async {
        await amqp.close()
        await serviceNow.shutdown()
        await pool.close()
    }

    /// Retries `body` with backoff until it succeeds or the task is cancelled.
    static func retrying<T>(_ what: String, logger: Logger, _ body: () async throws -> T) async throws -> T {
        let backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(10))
        var failures = 0
        while true {
            do {
                return try await body()
            } catch {
                try Task.checkCancellation()
                failures += 1
                let delay = backoff.delay(afterFailures: failures)
                logger.warning("\(what) is not reachable yet; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try await Task.sleep(for: delay)
            }
        }
    }
}
