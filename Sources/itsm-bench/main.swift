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
    @Option(help: "ITSM_CONFIG_CACHE_TTL for the worker (how often it asks whether configuration changed).") var configCacheTTL: String?
    @Option(help: "Extra worker settings, KEY=VALUE (to compare a setting with the default the figures use).") var set: [String] = []
}

let options = BenchOptions.parseOrExit()
let quick = options.quick
let configCacheTTL = options.configCacheTTL
let overrides = Dictionary(options.set.compactMap { pair -> (String, String)? in
    guard let equals = pair.firstIndex(of: "=") else { return nil }
    return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
}, uniquingKeysWith: { _, last in last })
/// Each customer's alerts come from this many networks (a storm's from one): with the default
/// storm protection a network opens at most 10 incidents a minute, and load spread like real
/// networks' stays under it (scenario 2's 20 alerts a second per customer: 5 a minute each).
let networksPerCustomer = 256
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
    var contextSwitchesPerAlert = 0.0
    /// The worker's creates during the run, as it timed them (request sent to answer read).
    var creates: CreateTimings?
    /// Messages in the dead-letter queue at the end.
    var deadLettered = 0
    /// Alerts that joined another alert's incident (`ticket.linked`).
    var linked = 0
    /// A storm's alerts per second (to its last ticket), and the other customer's p99.
    var stormThroughput: Double?
    var otherP99: Duration?
}

/// Transactions committed in `database` so far (every statement outside BEGIN…COMMIT is one).
func committedTransactions(_ pool: PostgresPool, _ database: String) async throws -> Int {
    try await pool.query("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", [.text(database)]).first?["xact_commit"].int() ?? 0
}

/// Runs the real worker against `simulators` (customer i on simulator i % count), publishes
/// `alerts` alerts (after one warm-up alert per customer), and measures.
/// With `storm`, every alert is customer 0's, published at once, while `storm.otherCustomer`
/// publishes at `storm.rate` until the storm is served.
@MainActor func runWorker(_ name: String, simulators: [ServiceNowSimulator], urls: [String], customers: Int, alerts: Int,
               rate: Double? = nil, countOnly: Set<Int>? = nil, timeCreates: Bool = false,
               storm: (otherCustomer: Int, rate: Double)? = nil, settings: [String: String] = [:],
               afterWarmUp: () async -> Void = {}) async throws -> RunResult {
    let id = "\(name).\(UUID().uuidString.prefix(6).lowercased())"
    let database = "itsm_bench"
    let pool = try await environment.freshDatabase(database)
    let store = ConfigurationStore(pool: pool)
    let box = try SecretBox(currentKey: environment.secretKey)
    let mapping = try AlertMapping.parse(fieldsJSON: Data(#"{"short_description": "{{alert.title}} on {{alert.device.name}}", "description": "{{alert.description}}", "impact": {"from": "alert.severity", "map": {"critical": "1"}, "default": "3"}, "assignment_group": "Network Operations"}"#.utf8))
    for customer in 0..<customers {
        try await store.saveIntegration(customerID: "c\(customer)", instanceURL: urls[customer % urls.count], clientID: "bench-client",
                                        sealedSecret: try box.seal("bench-secret", customerID: "c\(customer)"), settings: IntegrationSettings())
        for network in 0..<networksPerCustomer {
            try await store.saveMapping(StoredMapping(customerID: "c\(customer)", networkID: "net-\(network)", alertType: "cpu_usage", mapping: mapping))
        }
    }
    // As autovacuum would have by now in a database in use (see `seedHistory`).
    try await pool.execute("ANALYZE")
    // The worker as users get it: its defaults, with only the servers, the key and the
    // benchmark's own names set (and JSON logs, as deploy/Dockerfile sets them).
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ITSM_") }
    env.merge([
        "ITSM_AMQP_URL": environment.amqpURL, "ITSM_DATABASE_URL": try environment.databaseURL(database), "ITSM_SECRET_KEY": environment.secretKey,
        "ITSM_ALLOW_INSECURE_INSTANCE_URLS": "true", "ITSM_QUEUE_PREFIX": "bench.\(id)", "ITSM_ALERTS_EXCHANGE": "bench.\(id).alerts",
        "ITSM_EVENTS_EXCHANGE": "bench.\(id).events", "ITSM_HTTP_PORT": "0", "ITSM_LOG_FORMAT": "json",
    ]) { _, new in new }
    if let configCacheTTL { env["ITSM_CONFIG_CACHE_TTL"] = configCacheTTL }
    env.merge(settings) { _, new in new }
    env.merge(overrides) { _, new in new }
    let metricsPort = timeCreates ? freePort() : nil
    if let metricsPort { env["ITSM_HTTP_PORT"] = String(metricsPort) }
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
    // (Not each network's mapping: the figures include every mapping's first read, as a worker
    // pays them after it starts and after each configuration change.)
    for customer in 0..<customers where countOnly?.contains(customer) ?? true {
        try await generator.publish(customer: "c\(customer)", network: "net-0", alertID: "warm-\(customer)")
    }
    let warm = countOnly?.count ?? customers
    _ = await generator.waitFor(warm, timeout: .seconds(60))
    await afterWarmUp()
    generator.resetLatencies()
    let cpuBefore = worker.cpuSeconds
    let switchesBefore = worker.contextSwitches
    let transactionsBefore = try await committedTransactions(pool, database)
    var createsBefore: CreateTimings?
    if let metricsPort { createsBefore = await CreateTimings.scrape(port: metricsPort) }
    let machineBefore = MachineCPU.now(worker: worker.process.processIdentifier)
    let started = ContinuousClock.now
    let startedAt = Date()
    var expected = warm
    var n = 0
    while n < alerts {
        let customer = storm == nil ? n % customers : 0
        if countOnly?.contains(customer) ?? true { expected += 1 }
        // A storm is one network's; other load comes from many, as it does from real networks.
        let network = storm == nil ? (n / customers) % networksPerCustomer : 0
        try await generator.publish(customer: "c\(customer)", network: "net-\(network)", alertID: "a-\(n)")
        if let rate { try await Task.sleep(until: started + .milliseconds(Int64(Double(n + 1) / rate * 1000)), clock: .continuous) }
        n += 1
    }
    if let storm {
        // The other customer's alerts, paced, for as long as the storm's are being served.
        var sent = 0
        while generator.createdCount < expected + sent && ContinuousClock.now - started < .seconds(quick ? 120 : 600) {
            try await generator.publish(customer: "c\(storm.otherCustomer)", network: "net-\(sent % networksPerCustomer)", alertID: "other-\(sent)")
            sent += 1
            try await Task.sleep(until: started + .milliseconds(Int64(Double(sent) / storm.rate * 1000)), clock: .continuous)
        }
        expected += sent
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
    let switches = worker.contextSwitches - switchesBefore
    let (p50, p99) = generator.percentiles()
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
    let dead = (try? WorkerTopology(WorkerConfiguration(environment: env))).map(\.deadQueue)
    var deadLettered = 0
    if let dead, let state = try? await amqp.inspectQueue(dead) { deadLettered = state.messageCount }
    var result = RunResult(throughput: Double(expected - warm) / elapsed.seconds, cpuPerThousand: cpu / Double(max(1, alerts)) * 1000,
                           idleRSS: idle.current, idleAnonymous: idle.anonymous, peakRSS: worker.memory.peak, p50: p50, p99: p99, cpuBreakdown: breakdown,
                           serversPerAlert: servers.map { $0 / Double(max(1, alerts)) }, harnessPerAlert: harness / Double(max(1, alerts)),
                           creates: createsAfter.flatMap { after in createsBefore.map { after - $0 } }, deadLettered: deadLettered,
                           stormThroughput: storm.map { _ in Double(alerts) / (generator.lastCreated(customer: "c0") - started).seconds },
                           otherP99: storm.map { generator.percentiles(customer: "c\($0.otherCustomer)").1 })
    result.linked = generator.linkedCount
    result.contextSwitchesPerAlert = Double(switches) / Double(max(1, alerts))
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

// 1. What a user pays per alert: CPU of the worker and of the servers, and database transactions,
// with an instant ServiceNow. 10,000 alerts (about 20 s): long enough that the start (cold
// caches, first plans) weighs little; each mapping's first read falls within the run.
let (instant, instantURLs) = try await simulators(4, latency: .zero)
var full: RunResult?
if runs(1) {
    let result = try await runWorker("instant", simulators: instant, urls: instantURLs, customers: 4, alerts: quick ? 300 : 10_000)
    row("1. worker CPU per alert", String(format: "%.2f ms", result.cpuPerThousand), "≤ 0.5 ms")
    if let servers = result.serversPerAlert {
        row("1. RabbitMQ + PostgreSQL CPU per alert", String(format: "%.2f ms", servers * 1000), "≤ 0.7 ms")
    } else {
        row("1. RabbitMQ + PostgreSQL CPU per alert", "(they run elsewhere)", "≤ 0.7 ms")
    }
    row("1. database transactions per alert", String(format: "%.2f", result.transactionsPerAlert), "≤ 1.5")
    row("1. worker's threads put to sleep per alert", String(format: "%.1f (voluntary context switches: hops between threads)",
                                                        result.contextSwitchesPerAlert), "reference")
    row("1. throughput, instant ServiceNow", String(format: "%.0f alerts/s (the load generator and simulators: %.2f ms CPU per alert)",
                                                     result.throughput, result.harnessPerAlert * 1000), "reference")
    row("1. CPU while the worker ran", result.cpuBreakdown, "what bounds it")
    full = result
}

// 2. ServiceNow-bound: 20 instances, 200 ms each, 4 concurrent requests per instance; long
// enough that scenario 3 covers a hanging instance's first minute.
let boundAlerts = quick ? 400 : 26_000
let (slow, slowURLs) = try await simulators(20, latency: .milliseconds(200))
var bound: RunResult?
if runs(2) || runs(3) {
    let result = try await runWorker("bound", simulators: slow, urls: slowURLs, customers: 20, alerts: boundAlerts, timeCreates: true)
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

// 3. Isolation: one of the 20 instances hangs on every API call, from the start.
if runs(3), let bound {
    await slow[0].store.inject(.hang, count: -1)
    let isolated = try await runWorker("isolation", simulators: slow, urls: slowURLs, customers: 20, alerts: boundAlerts, countOnly: Set(1..<20))
    let healthyShare = bound.throughput * 19 / 20
    row("3. same, one instance hanging", String(format: "healthy %.0f creates/s = %.0f %% of scenario 2's share (%.0f %% of 380) over %.0f s",
                                               isolated.throughput, isolated.throughput / healthyShare * 100, isolated.throughput / 380 * 100,
                                               Double(boundAlerts * 19 / 20) / isolated.throughput), "≥ 95 %")
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
    let noteRequests = await syncSims[0].store.requests().filter { $0.table == "sys_journal_field" }.count
    row("4. sync of \(ticketCount) open tickets (one cycle)", "\(syncRequests) list requests, and \(noteRequests) for their notes, in \(syncTime.ms) (process start included)",
        "≤ 100 requests for 10,000")
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

// 6. Alert storm: one customer's 5,000 alerts at once on an instance that takes 4 × 50 ms
// (80 creates/s), while another customer keeps alerting.
var stormSims: [ServiceNowSimulator] = []
if runs(6) {
    let stormURLs: [String]
    (stormSims, stormURLs) = try await simulators(2, latency: .milliseconds(50))
    // The drain itself: storm protection off, every alert its own incident.
    let storm = try await runWorker("storm", simulators: stormSims, urls: stormURLs, customers: 2, alerts: quick ? 400 : 5000,
                                    storm: (otherCustomer: 1, rate: 5), settings: ["ITSM_STORM_MAX_NEW_PER_MINUTE": "0"])
    row("6. storm drain, protection off", String(format: "%.1f creates/s = %.0f %% of 80", storm.stormThroughput ?? 0, (storm.stormThroughput ?? 0) / 80 * 100), "≥ 95 %")
    row("6. storm memory, protection off", String(format: "idle %.1f MB, peak %.1f MB RSS; %d dead-lettered", storm.idleRSS, storm.peakRSS, storm.deadLettered), "flat; 0")
    row("6. the other customer's alerts during the storm, protection off", "p99 \(storm.otherP99?.ms ?? "-")", "within seconds")
    // The same storm with the defaults: storm protection on.
    var incidentsBefore = 0
    let protected = try await runWorker("storm-protected", simulators: stormSims, urls: stormURLs, customers: 2, alerts: quick ? 400 : 5000,
                                        storm: (otherCustomer: 1, rate: 5)) {
        // Counted from the end of the warm-up.
        incidentsBefore = await stormSims[0].store.records("incident").count
        await stormSims[0].store.clearRequests()
    }
    let requests = await stormSims[0].store.requests()
    let opened = await stormSims[0].store.records("incident").count - incidentsBefore
    let stormAlerts = quick ? 400 : 5000
    let creates = requests.filter { $0.table == "incident" && $0.method == "POST" }.count
    let notes = requests.filter { $0.table == "incident" && $0.method == "PATCH" }.count
    row("6. storm with protection (defaults)", String(format: "%d alerts settled in %.1f s: %d incidents opened, %d alerts joined the storm incident; %d requests to the instance (%d creates, %d work notes)",
                                                      stormAlerts, Double(stormAlerts) / (protected.stormThroughput ?? 1), opened, protected.linked,
                                                      requests.count, creates, notes), "a handful of incidents and calls")
    row("6. the other customer's alerts during the storm, protection on", "p99 \(protected.otherP99?.ms ?? "-")", "within seconds")
}

print("\n| scenario | figure | target |\n| --- | --- | --- |")
for (scenario, figure, target) in rows { print("| \(scenario) | \(figure) | \(target) |") }
for simulator in instant + slow + syncSims + stormSims { await simulator.stop() }
await amqp.close()
exit(0)
