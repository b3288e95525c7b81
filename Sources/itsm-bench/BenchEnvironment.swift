import AMQP
import AsyncHTTPClient
import Foundation
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Logging
import Postgres
import ServiceNowSimulator

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

    /// A fresh, migrated database with a day of history (see ``seedHistory(_:)``).
    func freshDatabase(_ name: String) async throws -> PostgresPool {
        let admin = try pool(size: 1)
        try await admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try await admin.execute("CREATE DATABASE \(name)")
        await admin.close()
        let pool = try self.pool(name, size: 8)
        try await WorkerSchema.migrator().migrate(pool, logger: Logger(label: "bench"))
        try await seedHistory(pool)
        return pool
    }

    /// What a worker's database holds after a day in use: 50,000 tickets of other customers
    /// (5,000 of them still open), their processed events and their published `ticket.created`
    /// rows.
    ///
    /// The benchmark measures a worker in service, not its first seconds. On empty tables
    /// PostgreSQL plans the worker's prepared statements with sequential scans and hash joins
    /// (cheapest for a table of no rows), and a connection keeps such a plan until the tables
    /// are next analyzed: in a five-second run on a new database every claim then scanned the
    /// thousands of rows the run itself had written (a new deployment pays that until
    /// autovacuum first analyzes its tables, within a minute or two). Open tickets matter too:
    /// with none, a plan may take the index of live tickets for a lookup by id, and the run's
    /// own thousands of new tickets make that a long scan.
    func seedHistory(_ pool: PostgresPool) async throws {
        let day = "now() - interval '1 day'"
        try await pool.execute("""
            INSERT INTO ticket_links (customer_id, network_id, alert_id, alert_type, correlation_id, target_table, status,
                                      sys_id, number, url, state, alert_status, resolved_at, created_at, updated_at)
            SELECT 'history-' || (g % 50), 'net-' || (g % 256), 'past-' || g, 'cpu_usage', 'past-' || g, 'incident',
                   CASE WHEN g % 10 = 0 THEN 'open' ELSE 'closed' END, md5(g::text), 'INC' || lpad(g::text, 7, '0'),
                   'https://history.example/' || g, CASE WHEN g % 10 = 0 THEN '2' ELSE '7' END,
                   CASE WHEN g % 10 = 0 THEN 'open' ELSE 'resolved' END, CASE WHEN g % 10 = 0 THEN NULL ELSE \(day) END, \(day), \(day)
            FROM generate_series(1, 50000) g
            """)
        try await pool.execute("""
            INSERT INTO processed_events (event_id, customer_id, event_type, outcome, processed_at)
            SELECT 'past-' || g, 'history-' || (g % 50), 'alert.raised', 'ticket_created', \(day) FROM generate_series(1, 50000) g
            """)
        try await pool.execute("""
            INSERT INTO outbox (event_id, routing_key, payload, created_at, published_at)
            SELECT gen_random_uuid(), 'ticket.created', jsonb_build_object('n', g), \(day), \(day) FROM generate_series(1, 50000) g
            """)
    }
}

extension Duration {
    var ms: String { String(format: "%.1f ms", seconds * 1000) }
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
