import AMQP
import Coordination
import Foundation
import ITSMCore
import Logging
import Postgres
import ServiceLifecycle

/// Publishes the events that transactions wrote to the outbox, with publisher confirms, and
/// stamps them published. Several workers may relay at once (`FOR UPDATE SKIP LOCKED` gives each
/// its own rows); after a crash, whatever was not confirmed is published again, so consumers
/// must dedupe by `event_id`.
public struct OutboxRelay: Service {
    let pool: PostgresPool
    let amqp: AMQPConnection
    let exchange: String
    let signal: OutboxSignal
    let pollInterval: Duration
    let batchSize: Int
    let logger: Logger

    public init(pool: PostgresPool, amqp: AMQPConnection, exchange: String, signal: OutboxSignal, pollInterval: Duration, batchSize: Int = 200, logger: Logger) {
        self.pool = pool
        self.amqp = amqp
        self.exchange = exchange
        self.signal = signal
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.logger = logger
    }

    public func run() async throws {
        let failureBackoff = Backoff(initial: max(pollInterval, .milliseconds(100)), maximum: max(pollInterval, .seconds(10)))
        var failures = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let published = try await relayBatch()
                failures = 0
                if published >= batchSize { continue }
            } catch {
                failures += 1
                logger.warning("outbox relay failed; will retry", metadata: ["error": "\(error)"])
            }
            let wait = failures == 0 ? pollInterval : failureBackoff.delay(afterFailures: failures)
            await cancelWhenGracefulShutdown { await signal.wait(timeout: wait) }
        }
        // Flush: events committed before the shutdown go out before the connections close.
        for _ in 0..<20 {
            guard let published = try? await relayBatch(), published > 0 else { break }
        }
    }

    /// Publishes one batch; returns how many were confirmed.
    @discardableResult
    public func relayBatch() async throws -> Int {
        let amqp = self.amqp
        let exchange = self.exchange
        return try await pool.withTransaction { connection in
            // SKIP LOCKED: rows another relay is publishing right now are left to it.
            let rows = try await connection.query("""
                SELECT id, event_id::text AS event_id, routing_key, payload::text AS payload FROM outbox
                WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
                """, [.int(batchSize)])
            guard !rows.isEmpty else { return 0 }
            let outcomes = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for row in rows {
                    let id = try row["id"].int()
                    let eventID = try row["event_id"].string()
                    let routingKey = try row["routing_key"].string()
                    let payload = Array(try row["payload"].string().utf8)
                    group.addTask {
                        let properties = AMQPProperties(contentType: "application/json", persistent: true, messageID: eventID,
                                                        type: routingKey, appID: "itsm-worker")
                        do {
                            _ = try await amqp.publish(payload, exchange: exchange, routingKey: routingKey, properties: properties)
                            return (id, nil)
                        } catch {
                            return (id, "\(error)")
                        }
                    }
                }
                var outcomes: [(Int, String?)] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            let confirmed = outcomes.filter { $0.1 == nil }.map(\.0)
            let failed = outcomes.filter { $0.1 != nil }
            if !confirmed.isEmpty {
                try await connection.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                                             [.text("{" + confirmed.map(String.init).joined(separator: ",") + "}")])
            }
            if let firstError = failed.first?.1 {
                try await connection.execute("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])",
                                             [.text("{" + failed.map { String($0.0) }.joined(separator: ",") + "}"), .text(firstError)])
                logger.warning("some events could not be published; they stay in the outbox",
                               metadata: ["failed": "\(failed.count)", "error": "\(firstError)"])
            }
            return confirmed.count
        }
    }
}
