import AMQP
import Foundation
import Logging
import Postgres
import ServiceLifecycle

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
