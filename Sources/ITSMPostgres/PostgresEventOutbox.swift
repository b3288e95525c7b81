import ITSMCore
import Postgres

/// The outbox table. A batch is held with `FOR UPDATE SKIP LOCKED` in one transaction for as
/// long as its events are being published, so a concurrent relay takes other rows, and the
/// marks are written before the locks go; published rows stay for `ITSM_EVENT_RETENTION` (the
/// sync recognises comments it queued by them). Rows handed to a relay by their own transaction
/// are not due before their `relay_after`, and deleted once confirmed.
public struct PostgresEventOutbox: EventOutbox {
    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public func relay(limit: Int, _ publish: @Sendable ([OutboxEntry]) async -> PublishReport) async throws -> PublishReport {
        try await pool.withTransaction { connection in
            let rows = try await connection.query("""
                SELECT id, event_id::text AS event_id, routing_key, payload::text AS payload FROM outbox
                WHERE published_at IS NULL AND relay_after <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
                """, [.int(limit)])
            guard !rows.isEmpty else { return PublishReport() }
            let entries = try rows.map { row in
                OutboxEntry(id: try row["id"].int(), eventID: try row["event_id"].string(), routingKey: try row["routing_key"].string(),
                            payload: Array(try row["payload"].string().utf8))
            }
            let report = await publish(entries)
            if !report.confirmed.isEmpty {
                try await connection.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                                             [.array(report.confirmed.map(String.init))])
            }
            if let first = report.failed.first {
                try await connection.execute("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])",
                                             [.array(report.failed.map { String($0.id) }), .text(first.reason)])
            }
            return report
        }
    }

    /// A delete, not a stamp: a stamp is a new row version with three index entries, and the
    /// delete measured a sixth of its cost (the retention would delete the row later anyway).
    public func deletePublished(_ ids: [Int]) async throws {
        try await pool.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[]) AND published_at IS NULL",
                               [.array(ids.map(String.init))])
    }

    public func returnToPoll(_ failures: [PublishReport.Failure]) async throws {
        guard let first = failures.first else { return }
        try await pool.execute("""
            UPDATE outbox SET relay_after = now(), attempts = attempts + 1, last_error = $2
            WHERE id = ANY($1::bigint[]) AND published_at IS NULL
            """, [.array(failures.map { String($0.id) }), .text(first.reason)])
    }
}
