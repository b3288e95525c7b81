import AMQP
import Foundation
import Hummingbird
import Logging
import Postgres
import ServiceLifecycle
import Synchronization

/// What `/readyz` reports, kept fresh by ``HealthSampler``.
public final class HealthState: Sendable {
    private let database = Atomic<Bool>(false)
    private let port = Atomic<Int>(0)

    public init() {}

    public var databaseReachable: Bool { database.load(ordering: .relaxed) }
    func setDatabase(_ reachable: Bool) { database.store(reachable, ordering: .relaxed) }

    /// The port `/metrics`, `/healthz` and `/readyz` listen on (useful with ITSM_HTTP_PORT=0).
    public var httpPort: Int { port.load(ordering: .relaxed) }
    func setPort(_ value: Int) { port.store(value, ordering: .relaxed) }
}

/// `/metrics` (Prometheus text), `/healthz` (the process answers) and `/readyz` (RabbitMQ and
/// PostgreSQL reachable, and the broker not blocking this connection) on `ITSM_HTTP_PORT`.
struct ObservabilityServer: Service {
    let port: Int
    let metrics: WorkerMetrics
    let health: HealthState
    let amqp: AMQPConnection
    let logger: Logger

    func run() async throws {
        let router = Router()
        let metrics = self.metrics, health = self.health, amqp = self.amqp
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            var problems: [String] = []
            if !amqp.isConnected { problems.append("rabbitmq disconnected") }
            if let reason = amqp.blocked { problems.append("rabbitmq blocked publishing (\(reason))") }
            if !health.databaseReachable { problems.append("postgresql unreachable") }
            let body = problems.isEmpty ? "ready\n" : "not ready: \(problems.joined(separator: ", "))\n"
            return Response(status: problems.isEmpty ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        var serverLogger = logger
        serverLogger.logLevel = .warning
        let log = logger
        let app = Application(router: router, configuration: .init(address: .hostname("0.0.0.0", port: port), serverName: "itsm-worker"),
                              onServerRunning: { channel in
                                  health.setPort(channel.localAddress?.port ?? 0)
                                  log.info("observability endpoints listening", metadata: ["port": "\(channel.localAddress?.port ?? 0)"])
                              }, logger: serverLogger)
        try await app.runService(gracefulShutdownSignals: [])
    }
}

/// Every few seconds: is PostgreSQL reachable, how big and old is the outbox backlog, how far
/// behind is each integration's sync.
struct HealthSampler: Service {
    let pool: PostgresPool
    let amqp: AMQPConnection
    let metrics: WorkerMetrics
    let health: HealthState
    let logger: Logger
    var interval: Duration = .seconds(5)

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await sample()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func sample() async {
        do {
            _ = try await pool.query("SELECT 1")
            health.setDatabase(true)
        } catch {
            health.setDatabase(false)
            logger.debug("database check failed", metadata: ["error": "\(error)"])
        }
        do {
            let outbox = try await pool.query("""
                SELECT count(*) AS backlog, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
                FROM outbox WHERE published_at IS NULL
                """)
            metrics.outbox(backlog: try outbox[0]["backlog"].int(), oldestAge: try outbox[0]["age"].double())
            for row in try await pool.query("""
                SELECT customer_id, EXTRACT(EPOCH FROM now() - COALESCE(last_success_at, now()))::float8 AS lag FROM sync_state
                """) {
                metrics.syncLag(customerID: try row["customer_id"].string(), seconds: try row["lag"].double())
            }
        } catch {
            logger.debug("metrics sample failed", metadata: ["error": "\(error)"])
        }
        metrics.connected(amqp: amqp.isConnected, database: health.databaseReachable)
    }
}
