import AMQP
import ArgumentParser
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Logging
import Postgres
import ServiceNowSimulator
import Synchronization

// Benchmark scenarios (see scripts/bench). Prints figures; asserts nothing.
// Servers: ITSM_AMQP_URL and ITSM_DATABASE_URL (an account that may create databases).

struct BenchOptions: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "itsm-bench", abstract: "The worker's benchmark scenarios; prints figures.")

    @Option(help: "The itsm-worker binary to measure.") var worker: String
    @Flag(help: "Small runs (the debug-build check CI does).") var quick = false
    @Option(help: "Run only these scenarios, e.g. 1,5 (to repeat one while profiling).") var only: String?
    @Option(help: "Scenario 5's pace in alerts/s (default: half of scenario 1's throughput when it ran, else 200).") var rate: Double?
    @Option(help: "Write each run's latencies to PREFIX.<run>.") var timeline: String?
    @Option(help: "ITSM_CONFIG_CACHE_TTL for the worker (e.g. 1ms to measure without the cache).") var configCacheTTL: String?
}

let options = BenchOptions.parseOrExit()
let quick = options.quick
let configCacheTTL = options.configCacheTTL
let only = options.only.map { Set($0.split(separator: ",").compactMap { Int($0) }) }
func runs(_ scenario: Int) -> Bool { only?.contains(scenario) ?? true }
let environment = BenchEnvironment(
    amqpURL: ProcessInfo.processInfo.environment["ITSM_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f",
    adminDatabaseURL: ProcessInfo.processInfo.environment["ITSM_DATABASE_URL"] ?? "postgres://itsm:itsm@127.0.0.1:5432/itsm",
    workerBinary: options.worker)
let quietLogger: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    return logger
}()
let amqp = try await AMQPConnection.connect(try AMQPConfiguration(url: environment.amqpURL), logger: quietLogger)
var rows: [(String, String, String)] = []
@MainActor func row(_ scenario: String, _ figure: String, _ target: String) {
    rows.append((scenario, figure, target))
    print("  \(scenario): \(figure)  [\(target)]")
}

struct RunResult {
    var throughput: Double
    var cpuPerThousand: Double
    var idleRSS: Double
    var idleAnonymous: Double
    var peakRSS: Double
    var p50: Duration
    var p99: Duration
    var cpuBreakdown: String
    /// CPU seconds per alert of RabbitMQ with PostgreSQL (nil when neither runs on this
    /// machine), and of everything else but the worker (the simulators and the load generator in
    /// this process, and other processes).
    var serversPerAlert: Double?
    var harnessPerAlert = 0.0
    var transactionsPerAlert = 0.0
    /// The worker's creates during the run, as it timed them (request sent to answer read).
    var creates: CreateTimings?
}

/// Transactions committed in `database` so far (every statement outside BEGIN…COMMIT is one).
func committedTransactions(_ pool: PostgresPool, _ database: String) async throws -> Int {
    try await pool.query("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", [.text(database)]).first?["xact_commit"].int() ?? 0
}

/// Runs the real worker against `simulators` (customer i on simulator i % count), publishes
/// `alerts` alerts (after one warm-up alert per customer), and measures.
@MainActor func runWorker(_ name: String, simulators: [ServiceNowSimulator], urls: [String], customers: Int, alerts: Int,
               rate: Double? = nil, countOnly: Set<Int>? = nil, timeCreates: Bool = false, extra: [String: String] = [:]) async throws -> RunResult {
    let id = "\(name).\(UUID().uuidString.prefix(6).lowercased())"
    let database = "itsm_bench"
    let pool = try await environment.freshDatabase(database)
    let store = ConfigurationStore(pool: pool)
    let box = try SecretBox(currentKey: environment.secretKey)
    let mapping = try AlertMapping.parse(fieldsJSON: Data(#"{"short_description": "{{alert.title}} on {{alert.device.name}}", "description": "{{alert.description}}", "impact": {"from": "alert.severity", "map": {"critical": "1"}, "default": "3"}, "assignment_group": "Network Operations"}"#.utf8))
    for customer in 0..<customers {
        try await store.saveIntegration(customerID: "c\(customer)", instanceURL: urls[customer % urls.count], clientID: "bench-client",
                                        sealedSecret: try box.seal("bench-secret", customerID: "c\(customer)"), settings: IntegrationSettings())
        try await store.saveMapping(StoredMapping(customerID: "c\(customer)", networkID: "net-1", alertType: "cpu_usage", mapping: mapping))
    }
    // Configured as deployed (deploy/Dockerfile logs JSON), with a large prefetch for throughput.
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ITSM_") }
    env.merge([
        "ITSM_AMQP_URL": environment.amqpURL, "ITSM_DATABASE_URL": try environment.databaseURL(database), "ITSM_SECRET_KEY": environment.secretKey,
        "ITSM_ALLOW_INSECURE_INSTANCE_URLS": "true", "ITSM_QUEUE_PREFIX": "bench.\(id)", "ITSM_ALERTS_EXCHANGE": "bench.\(id).alerts",
        "ITSM_EVENTS_EXCHANGE": "bench.\(id).events", "ITSM_HTTP_PORT": "0", "ITSM_LOG_LEVEL": "error", "ITSM_LOG_FORMAT": "json", "ITSM_QUEUE_TYPE": "classic",
        "ITSM_PREFETCH": "200", "ITSM_MAX_IN_FLIGHT": "200", "ITSM_DB_POOL_SIZE": "16", "ITSM_REQUEST_TIMEOUT": "5s",
        "ITSM_OUTBOX_POLL_INTERVAL": "1s", "ITSM_SYNC_INTERVAL": "1h",
    ]) { _, new in new }
    if let configCacheTTL { env["ITSM_CONFIG_CACHE_TTL"] = configCacheTTL }
    let metricsPort = timeCreates ? freePort() : nil
    if let metricsPort { env["ITSM_HTTP_PORT"] = String(metricsPort) }
    env.merge(extra) { _, new in new }
    let generator = try await LoadGenerator.start(connection: amqp, alertsExchange: "bench.\(id).alerts", eventsExchange: "bench.\(id).events",
                                                  queue: "bench.\(id).observed")
    let worker = try WorkerUnderTest(binary: environment.workerBinary, environment: env)
    defer { worker.stop() }
    // Ready when it consumes its queue.
    for _ in 0..<200 {
        if let state = try? await amqp.inspectQueue("bench.\(id).alerts"), state.consumerCount > 0 { break }
        try await Task.sleep(for: .milliseconds(50))
    }
    try await Task.sleep(for: .seconds(1))
    let idle = worker.memory
    // Warm-up: a token, the metadata and the reference lookup per instance, outside the figures.
    for customer in 0..<customers where countOnly?.contains(customer) ?? true {
        try await generator.publish(customer: "c\(customer)", alertID: "warm-\(customer)")
    }
    let warm = countOnly?.count ?? customers
    _ = await generator.waitFor(warm, timeout: .seconds(60))
    generator.resetLatencies()
    let cpuBefore = worker.cpuSeconds
    let transactionsBefore = try await committedTransactions(pool, database)
    var createsBefore: CreateTimings?
    if let metricsPort { createsBefore = await CreateTimings.scrape(port: metricsPort) }
    let machineBefore = MachineCPU.now(worker: worker.process.processIdentifier)
    let started = ContinuousClock.now
    let startedAt = Date()
    var expected = warm
    var n = 0
    while n < alerts {
        let customer = n % customers
        if countOnly?.contains(customer) ?? true { expected += 1 }
        try await generator.publish(customer: "c\(customer)", alertID: "a-\(n)")
        if let rate { try await Task.sleep(until: started + .milliseconds(Int64(Double(n + 1) / rate * 1000)), clock: .continuous) }
        n += 1
    }
    let done = await generator.waitFor(expected, timeout: .seconds(quick ? 120 : 600))
    let elapsed = ContinuousClock.now - started
    let machineAfter = MachineCPU.now(worker: worker.process.processIdentifier)
    let breakdown = machineBefore.report(until: machineAfter, wall: elapsed)
    let used = machineBefore.used(until: machineAfter)
    let servers = used["RabbitMQ"] == nil && used["PostgreSQL"] == nil ? nil : (used["RabbitMQ"] ?? 0) + (used["PostgreSQL"] ?? 0)
    let harness = used.values.reduce(0, +) - (servers ?? 0) - (used["worker"] ?? 0)
    if !done { print("  (\(name): only \(generator.createdCount) of \(expected) tickets within the time limit)") }
    let cpu = worker.cpuSeconds - cpuBefore
    let (p50, p99) = generator.percentiles
    var createsAfter: CreateTimings?
    if let metricsPort { createsAfter = await CreateTimings.scrape(port: metricsPort) }
    if let prefix = options.timeline {
        // One line per alert: seconds since the first publish, latency in ms (to see stalls);
        // the header's wall-clock start lines them up with server logs and system samples.
        let points = generator.timeline.withLock { $0 }.sorted { $0.0 < $1.0 }
        let header = String(format: "# first publish at %.3f (seconds since 1970)\n", startedAt.timeIntervalSince1970)
        let text = header + points.map { String(format: "%.3f %.1f", ($0.0 - started).seconds, $0.1.seconds * 1000) }.joined(separator: "\n")
        try? text.write(toFile: "\(prefix).\(name)", atomically: true, encoding: .utf8)
    }
    var result = RunResult(throughput: Double(expected - warm) / elapsed.seconds, cpuPerThousand: cpu / Double(max(1, alerts)) * 1000,
                           idleRSS: idle.current, idleAnonymous: idle.anonymous, peakRSS: worker.memory.peak, p50: p50, p99: p99, cpuBreakdown: breakdown,
                           serversPerAlert: servers.map { $0 / Double(max(1, alerts)) }, harnessPerAlert: harness / Double(max(1, alerts)),
                           creates: createsAfter.flatMap { after in createsBefore.map { after - $0 } })
    await generator.stop()
    worker.stop()
    // Backends report their counts when they exit; the worker's have.
    try await Task.sleep(for: .milliseconds(500))
    result.transactionsPerAlert = Double(try await committedTransactions(pool, database) - transactionsBefore) / Double(max(1, alerts))
    // Every queue and exchange the worker declared, so that repeated runs do not pile them up in the broker.
    if let topology = try? WorkerTopology(WorkerConfiguration(environment: env)) {
        for queue in [topology.alertsQueue, topology.statusQueue, topology.commandsQueue, topology.deadQueue] + topology.retryTTLs.map(topology.retryQueue(ttl:)) {
            _ = try? await amqp.deleteQueue(queue)
        }
        for exchange in [topology.alertsExchange, topology.eventsExchange, topology.deadExchange, topology.returnExchange] {
            try? await amqp.deleteExchange(exchange)
        }
    }
    await pool.close()
    return result
}

@MainActor func simulators(_ count: Int, latency: Duration) async throws -> ([ServiceNowSimulator], [String]) {
    var sims: [ServiceNowSimulator] = []
    var urls: [String] = []
    for _ in 0..<count {
        var configuration = SimulatorConfiguration(clients: [SimulatedClient(clientID: "bench-client", clientSecret: "bench-secret")])
        configuration.baseLatency = latency
        let simulator = ServiceNowSimulator(configuration: configuration, logger: quietLogger)
        urls.append(try await simulator.start())
        sims.append(simulator)
    }
    return (sims, urls)
}

print("itsm-worker benchmark\(quick ? " (quick)" : ""): worker \(environment.workerBinary)")

// 1. Ceiling: the worker's I/O pattern with our own modules and nothing else.
@MainActor func measureCeiling() async throws -> (Double, String) {
    let ceilingMessages = quick ? 300 : 5000
    let id = UUID().uuidString.prefix(6).lowercased()
    let pool = try environment.pool(size: 16)
    try await pool.execute("CREATE TABLE IF NOT EXISTS bench_ceiling (event_id text PRIMARY KEY, body jsonb NOT NULL)")
    try await pool.execute("TRUNCATE bench_ceiling")
    let input = "bench.ceiling.\(id)", output = "bench.ceiling.\(id).out"
    try await amqp.declare(AMQPQueue(name: input, kind: .classic, durable: true))
    try await amqp.declare(AMQPQueue(name: output, kind: .classic, durable: true))
    let body = Array(#"{"schema":"ceburu.alert.v1","type":"alert.raised","alert":{"id":"x","title":"CPU usage above 95%"}}"#.utf8)
    for n in 0..<ceilingMessages {
        try await amqp.publish(body, exchange: "", routingKey: input, properties: AMQPProperties(messageID: "m\(n)"))
    }
    let consumerConnection = try await AMQPConnection.connect(try AMQPConfiguration(url: environment.amqpURL), logger: quietLogger)
    let machineBefore = MachineCPU.now(worker: 0)
    let started = ContinuousClock.now
    let consumer = try await consumerConnection.consume(queue: input, prefetch: 200)
    try await withThrowingTaskGroup(of: Void.self) { group in
        var handled = 0, running = 0
        for try await delivery in consumer {
            if running >= 200 { try await group.next(); running -= 1 }
            group.addTask {
                _ = try await pool.withTransaction { connection in
                    try await connection.execute("INSERT INTO bench_ceiling (event_id, body) VALUES ($1, $2::jsonb)",
                                                 [.text(delivery.properties.messageID ?? UUID().uuidString), .json(String(decoding: delivery.body, as: UTF8.self))])
                }
                _ = try await consumerConnection.publish(delivery.body, exchange: "", routingKey: output)
                try await delivery.ack()
            }
            running += 1
            handled += 1
            if handled == ceilingMessages { break }
        }
        try await group.waitForAll()
    }
    let wall = ContinuousClock.now - started
    let rate = Double(ceilingMessages) / wall.seconds
    let breakdown = machineBefore.report(until: MachineCPU.now(worker: 0), wall: wall)
    await consumerConnection.close()
    try await amqp.deleteQueue(input)
    try await amqp.deleteQueue(output)
    try await pool.execute("DROP TABLE bench_ceiling")
    await pool.close()
    return (rate, breakdown)
}
let (instant, instantURLs) = try await simulators(4, latency: .zero)
var full: RunResult?
if runs(1) {
    let (ceiling, ceilingCPU) = try await measureCeiling()
    row("1. ceiling (consume + 1 transaction + 1 confirmed publish)", String(format: "%.0f msg/s", ceiling), "reference")
    row("1. CPU during the ceiling", ceilingCPU, "")
    let result = try await runWorker("instant", simulators: instant, urls: instantURLs, customers: 4, alerts: quick ? 300 : 3000)
    row("1. worker, instant ServiceNow", String(format: "%.0f alerts/s = %.0f %% of the ceiling; %.2f CPU s per 1,000; %.1f database transactions per alert", result.throughput, result.throughput / ceiling * 100, result.cpuPerThousand, result.transactionsPerAlert),
        "≥ 50 % of the ceiling")
    row("1. CPU while the worker ran", result.cpuBreakdown, "what bounds it")
    // What the rest of the machine alone allows: every core busy, the worker free. Those costs
    // are per alert as this worker drives the servers (its statements, its confirmed publishes).
    let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
    let bound = cores / max((result.serversPerAlert ?? 0) + result.harnessPerAlert, 1e-9)
    let harness = String(format: "simulators, load generator and other processes %.2f ms of CPU: with a worker that cost nothing, %.0f cores allow at most %.0f alerts/s = %.0f %% of the ceiling",
                         result.harnessPerAlert * 1000, cores, bound, bound / ceiling * 100)
    if let servers = result.serversPerAlert {
        let serversBound = cores / max(servers, 1e-9)
        row("1. the rest of the machine per alert", String(format: "RabbitMQ and PostgreSQL %.2f ms, ", servers * 1000) + harness
            + String(format: " (RabbitMQ and PostgreSQL alone: %.0f = %.0f %%)", serversBound, serversBound / ceiling * 100), "what bounds it")
    } else {
        row("1. the rest of the machine per alert", "RabbitMQ and PostgreSQL run elsewhere; " + harness, "what bounds it")
    }
    full = result
}

// 2. ServiceNow-bound: 20 instances, 200 ms each, 4 concurrent requests per instance.
let (slow, slowURLs) = try await simulators(20, latency: .milliseconds(200))
var bound: RunResult?
if runs(2) || runs(3) {
    let result = try await runWorker("bound", simulators: slow, urls: slowURLs, customers: 20, alerts: quick ? 200 : 2000, timeCreates: true)
    row("2. 20 instances × 200 ms × 4 concurrent", String(format: "%.0f creates/s = %.0f %% of 400", result.throughput, result.throughput / 400 * 100), "≥ 95 %")
    if let creates = result.creates, creates.count > 0 {
        // 400/s assumes exactly 200 ms per create; the simulators answer a little later under load.
        let allowed = 80 / (creates.seconds / creates.count)
        row("2. creates as the worker timed them", String(format: "%.0f, %.1f ms each: the 80 slots allow %.0f creates/s; throughput = %.0f %% of that",
                                                          creates.count, creates.seconds / creates.count * 1000, allowed, result.throughput / allowed * 100), "")
    }
    row("2. CPU while the worker ran", result.cpuBreakdown, "what bounds it")
    bound = result
}

// 3. Isolation: one of the 20 instances times out on every call.
if runs(3), let bound {
    await slow[0].store.inject(.hang, count: -1)
    let isolated = try await runWorker("isolation", simulators: slow, urls: slowURLs, customers: 20, alerts: quick ? 200 : 2000,
                                       countOnly: Set(1..<20), extra: ["ITSM_REQUEST_TIMEOUT": "2s"])
    let healthyShare = bound.throughput * 19 / 20
    row("3. same, one instance timing out", String(format: "healthy %.0f creates/s = %.0f %% of scenario 2's share", isolated.throughput, isolated.throughput / healthyShare * 100), "≥ 95 %")
    await slow[0].store.clearFaults()
}

// 4. Sync: open tickets on one instance, one cycle.
var syncSims: [ServiceNowSimulator] = []
if runs(4) {
    let ticketCount = quick ? 1000 : 10_000
    let syncURLs: [String]
    (syncSims, syncURLs) = try await simulators(1, latency: .zero)
    let syncPool = try await environment.freshDatabase("itsm_bench")
    _ = try await syncSims[0].store.seedIncidents(ticketCount)
    let records = await syncSims[0].store.records("incident")
    let box = try SecretBox(currentKey: environment.secretKey)
    try await ConfigurationStore(pool: syncPool).saveIntegration(customerID: "c0", instanceURL: syncURLs[0], clientID: "bench-client",
                                                                 sealedSecret: try box.seal("bench-secret", customerID: "c0"), settings: IntegrationSettings())
    for start in stride(from: 0, to: records.count, by: 500) {
        let batch = records[start..<min(start + 500, records.count)]
        try await syncPool.execute("""
            INSERT INTO ticket_links (customer_id, network_id, alert_id, alert_type, correlation_id, target_table, status, sys_id, number, url, state, sys_updated_on)
            SELECT 'c0', 'net-1', 'a' || s, 'cpu_usage', 'corr' || s, 'incident', 'open', s, 'INC', 'u', '1', '2000-01-01 00:00:00'
            FROM unnest($1::text[]) AS s
            """, [.text("{" + batch.map { $0["sys_id"]! }.joined(separator: ",") + "}")])
    }
    await syncSims[0].store.clearRequests()
    var syncEnv = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ITSM_") }
    syncEnv.merge(["ITSM_AMQP_URL": environment.amqpURL, "ITSM_DATABASE_URL": try environment.databaseURL("itsm_bench"), "ITSM_SECRET_KEY": environment.secretKey,
                   "ITSM_ALLOW_INSECURE_INSTANCE_URLS": "true", "ITSM_QUEUE_PREFIX": "bench.sync", "ITSM_QUEUE_TYPE": "classic", "ITSM_LOG_LEVEL": "error",
                   "ITSM_EVENTS_EXCHANGE": "bench.sync.events", "ITSM_ALERTS_EXCHANGE": "bench.sync.alerts"]) { _, new in new }
    let syncStarted = ContinuousClock.now
    let sync = Process()
    sync.executableURL = URL(fileURLWithPath: environment.workerBinary)
    sync.arguments = ["sync", "--once"]
    sync.environment = syncEnv
    sync.standardOutput = FileHandle.nullDevice
    sync.standardError = FileHandle.nullDevice
    try sync.run()
    sync.waitUntilExit()
    let syncTime = ContinuousClock.now - syncStarted
    let syncRequests = await syncSims[0].store.requests().filter { $0.method == "GET" && $0.path == "/api/now/table/incident" }.count
    row("4. sync of \(ticketCount) open tickets (one cycle)", "\(syncRequests) list requests in \(syncTime.ms) (process start included)", "≤ 100 requests for 10,000")
    await syncPool.close()
}

// 5. Footprint and added latency at half of scenario 1's rate.
if runs(5) {
    let halfRate = options.rate ?? full.map { max(10, $0.throughput / 2) } ?? 200
    let paced = try await runWorker("paced", simulators: instant, urls: instantURLs, customers: 4, alerts: quick ? 200 : 2000, rate: halfRate)
    let idle = full ?? paced
    row("5. idle RSS", String(format: "%.1f MB, of which %.1f MB anonymous (the rest: pages of the binary and shared libraries)", idle.idleRSS, idle.idleAnonymous), "< 40 MB")
    if let bound { row("5. RSS under load (peak, scenario 2)", String(format: "%.1f MB", bound.peakRSS), "< 150 MB") }
    row("5. latency at \(Int(halfRate)) alerts/s", "p50 \(paced.p50.ms), p99 \(paced.p99.ms)", "p99 < 20 ms")
}

print("\n| scenario | figure | target |\n| --- | --- | --- |")
for (scenario, figure, target) in rows { print("| \(scenario) | \(figure) | \(target) |") }
for simulator in instant + slow + syncSims { await simulator.stop() }
await amqp.close()
exit(0)
