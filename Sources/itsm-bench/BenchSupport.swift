import AMQP
import AsyncHTTPClient
import Foundation
import NIOCore
import ITSMCore
import ITSMWorker
import Logging
import Postgres
import ServiceNowSimulator
import Synchronization

/// Where the benchmark's servers are and where the worker binary is.
struct BenchEnvironment {
    let amqpURL: String
    let adminDatabaseURL: String
    let workerBinary: String
    let secretKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    func databaseURL(_ name: String) throws -> String {
        let base = try PostgresConfiguration(url: adminDatabaseURL)
        return "postgres://\(base.user):\(base.password ?? "")@\(base.host):\(base.port)/\(name)"
    }

    func pool(_ database: String? = nil, size: Int = 4) throws -> PostgresPool {
        var configuration = try PostgresConfiguration(url: adminDatabaseURL)
        if let database { configuration.database = database }
        configuration.maximumConnections = size
        return PostgresPool(configuration: configuration, logger: Logger(label: "bench"))
    }

    /// A fresh, migrated database.
    func freshDatabase(_ name: String) async throws -> PostgresPool {
        let admin = try pool(size: 1)
        try await admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try await admin.execute("CREATE DATABASE \(name)")
        await admin.close()
        let pool = try self.pool(name, size: 8)
        try await WorkerSchema.migrator().migrate(pool, logger: Logger(label: "bench"))
        return pool
    }
}

/// The worker under test, as its own process, so that its CPU time and memory can be read.
final class WorkerUnderTest: @unchecked Sendable {
    // @unchecked: set once in init; Process is safe for these calls.
    let process: Process

    init(binary: String, environment: [String: String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run"]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("itsm-bench-worker.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
    }

    /// User + system CPU seconds so far.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident memory now, its anonymous (private heap and stacks) part, and the peak, in MB.
    var memory: (current: Double, anonymous: Double, peak: Double) {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return (0, 0, 0) }
        func value(_ key: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return (Double(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "0") ?? 0) / 1024
        }
        return (value("VmRSS:"), value("RssAnon:"), value("VmHWM:"))
    }

    func stop() {
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Publishes alerts and waits for their `ticket.created`, timing each.
final class LoadGenerator: Sendable {
    let connection: AMQPConnection
    let exchange: String
    private let published = Mutex<[String: ContinuousClock.Instant]>([:])
    /// (published, latency) per alert: the percentiles and --timeline.
    let timeline = Mutex<[(ContinuousClock.Instant, Duration)]>([])
    private let created = Atomic<Int>(0)
    private let consumer: AMQPConsumer
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    private init(connection: AMQPConnection, exchange: String, consumer: AMQPConsumer) {
        self.connection = connection
        self.exchange = exchange
        self.consumer = consumer
    }

    static func start(connection: AMQPConnection, alertsExchange: String, eventsExchange: String, queue: String) async throws -> LoadGenerator {
        try await connection.declare(AMQPExchange(name: alertsExchange, kind: .topic))
        try await connection.declare(AMQPExchange(name: eventsExchange, kind: .topic))
        try await connection.declare(AMQPQueue(name: queue, kind: .classic, durable: false, exclusive: true))
        try await connection.bind(AMQPBinding(queue: queue, exchange: eventsExchange, routingKey: "ticket.created"))
        let consumer = try await connection.consume(queue: queue, prefetch: 2000)
        let generator = LoadGenerator(connection: connection, exchange: alertsExchange, consumer: consumer)
        let task = Task {
            do {
                for try await delivery in consumer {
                    try? await delivery.ack()
                    guard let event = try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any],
                          let cause = event["cause_event_id"] as? String else { continue }
                    let now = ContinuousClock.now
                    if let sent = generator.published.withLock({ $0[cause] }) {
                        generator.timeline.withLock { $0.append((sent, now - sent)) }
                    }
                    generator.created.add(1, ordering: .relaxed)
                }
            } catch {}
        }
        generator.task.withLock { $0 = task }
        return generator
    }

    func publish(customer: String, network: String = "net-1", alertID: String) async throws {
        let eventID = UUID().uuidString.lowercased()
        let body = #"{"schema":"ceburu.alert.v1","event_id":"\#(eventID)","type":"alert.raised","occurred_at":"\#(AlertEvent.formatTimestamp(Date()))","customer_id":"\#(customer)","network_id":"\#(network)","alert":{"id":"\#(alertID)","type":"cpu_usage","severity":"critical","title":"CPU usage above 95%","description":"bench","device":{"id":"d","name":"core-sw-01","ip":"10.0.0.1"}}}"#
        published.withLock { $0[eventID] = .now }
        try await connection.publish(Array(body.utf8), exchange: exchange, routingKey: "alert.raised", properties: AMQPProperties(contentType: "application/json"))
    }

    var createdCount: Int { created.load(ordering: .relaxed) }

    /// Forgets the latencies so far (the warm-up's), so that percentiles cover the run only.
    func resetLatencies() {
        timeline.withLock { $0 = [] }
    }

    func waitFor(_ count: Int, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while createdCount < count && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return createdCount >= count
    }

    /// (p50, p99) of publish → ticket.created.
    var percentiles: (Duration, Duration) {
        let sorted = timeline.withLock { $0 }.map(\.1).sorted()
        guard !sorted.isEmpty else { return (.zero, .zero) }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))])
    }

    func stop() async {
        try? await consumer.cancel()
        task.withLock { $0 }?.cancel()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var ms: String { String(format: "%.1f ms", seconds * 1000) }
}

/// CPU seconds used by each part of the machine, from /proc, to say what bounds a run.
struct MachineCPU {
    var byPart: [String: Double] = [:]
    var machineBusy = 0.0

    static func now(worker: pid_t) -> MachineCPU {
        var snapshot = MachineCPU()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let me = getpid()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let command = stat[stat.index(after: open)..<close]
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            let part: String
            if pid == worker { part = "worker" }
            else if pid == me { part = "bench (simulators, load generator)" }
            else if command == "postgres" { part = "PostgreSQL" }
            else if command.hasPrefix("beam") || command.hasPrefix("erl") || command == "epmd" || command == "inet_gethost" { part = "RabbitMQ" }
            else { part = "other" }
            snapshot.byPart[part, default: 0] += (user + system) / ticks
        }
        // Whole machine: every CPU's busy time (/proc/stat's first line, minus idle and iowait).
        if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = stat.split(separator: "\n").first {
            let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            if values.count >= 5 { snapshot.machineBusy = (values.reduce(0, +) - values[3] - values[4]) / ticks }
        }
        return snapshot
    }

    /// CPU seconds each part used from `self` to `later`.
    func used(until later: MachineCPU) -> [String: Double] {
        later.byPart.reduce(into: [:]) { used, entry in used[entry.key] = entry.value - (byPart[entry.key] ?? 0) }
    }

    /// `later - self`, as "part 1.2 s (35 %)" sorted by use, and the machine's busy share.
    func report(until later: MachineCPU, wall: Duration) -> String {
        let used = used(until: later).map { ($0.key, $0.value) }.filter { $0.1 > 0.005 }.sorted { $0.1 > $1.1 }
        let total = used.reduce(0) { $0 + $1.1 }
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let parts = used.map { String(format: "%@ %.1f s (%.0f %%)", $0.0, $0.1, $0.1 / max(total, 0.001) * 100) }.joined(separator: ", ")
        return parts + String(format: "; machine busy %.0f %% of %.0f cores", (later.machineBusy - machineBusy) / (wall.seconds * cores) * 100, cores)
    }
}

/// The worker's creates as it timed them (from its /metrics): how many, and their total seconds.
struct CreateTimings {
    var count = 0.0
    var seconds = 0.0

    static func scrape(port: Int) async -> CreateTimings? {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        guard let response = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(5)),
              let body = try? await response.body.collect(upTo: 16 << 20) else { return nil }
        var timings = CreateTimings()
        for line in String(buffer: body).split(separator: "\n") where line.hasPrefix("itsm_servicenow_request_seconds_") && line.contains(#"operation="create""#) {
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            if line.hasPrefix("itsm_servicenow_request_seconds_count") { timings.count += value }
            if line.hasPrefix("itsm_servicenow_request_seconds_sum") { timings.seconds += value }
        }
        return timings
    }

    static func - (after: CreateTimings, before: CreateTimings) -> CreateTimings {
        CreateTimings(count: after.count - before.count, seconds: after.seconds - before.seconds)
    }
}

/// A TCP port nobody listens on right now (the kernel's pick), for the worker's /metrics.
func freePort() -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
