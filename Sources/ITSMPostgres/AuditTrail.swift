import Foundation
import ITSMCore
import Logging
import Postgres
import Synchronization

/// Writes the audit trail in the background, in batches, so that recording never slows the
/// message path; rows older than the retention are pruned.
public final class AuditTrail: Sendable {
    struct Row: Sendable {
        let context: AuditContext
        let kind: String
        let method: String?
        let table: String?
        let sysID: String?
        let status: Int?
        let durationMs: Int?
        let message: String?
    }

    private let pending = Mutex<[Row]>([])
    let pool: PostgresPool
    let retention: Duration
    public let logger: Logger

    public init(pool: PostgresPool, retention: Duration, logger: Logger) {
        self.pool = pool
        self.retention = retention
        self.logger = logger
    }

    /// A call to an instance, if it was made for an alert (the task's ``AuditContext``).
    public func recordCall(method: String, table: String?, sysID: String?, status: Int?, durationMs: Int, message: String?) {
        guard let context = AuditContext.current else { return }
        enqueue(Row(context: context, kind: "servicenow", method: method, table: table, sysID: sysID, status: status, durationMs: durationMs,
                    message: message))
    }

    /// A decision about a message (created, skipped, retry, dead-lettered, …).
    public func decision(_ context: AuditContext, _ message: String) {
        enqueue(Row(context: context, kind: "decision", method: nil, table: nil, sysID: nil, status: nil, durationMs: nil, message: message))
    }

    private func enqueue(_ row: Row) {
        // Bounded: if the database is away for long, the oldest unwritten rows are dropped
        // rather than growing memory without end.
        pending.withLock { rows in
            if rows.count >= 50_000 { rows.removeFirst(rows.count - 49_999) }
            rows.append(row)
        }
    }

    /// Writes what is pending; returns how many rows.
    @discardableResult
    public func flush() async throws -> Int {
        let rows = pending.withLock { rows in
            defer { rows = [] }
            return rows
        }
        guard !rows.isEmpty else { return 0 }
        // One statement per flush, not per row: at a few hundred alerts a second, row-at-a-time
        // inserts were a large share of the worker's database round trips.
        let array = PostgresValue.array
        do {
            try await pool.execute("""
                INSERT INTO audit_log (customer_id, alert_id, event_id, kind, method, target_table, sys_id, status, duration_ms, message)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::int[], $10::text[])
                """, [array(rows.map(\.context.customerID)), array(rows.map(\.context.alertID)), array(rows.map(\.context.eventID)),
                      array(rows.map(\.kind)), array(rows.map(\.method)), array(rows.map(\.table)), array(rows.map(\.sysID)),
                      array(rows.map { $0.status.map(String.init) }), array(rows.map { $0.durationMs.map(String.init) }), array(rows.map(\.message))])
        } catch {
            pending.withLock { $0.insert(contentsOf: rows, at: 0) }
            throw error
        }
        return rows.count
    }

    public func prune() async throws -> Int {
        try await pool.execute("DELETE FROM audit_log WHERE at < now() - make_interval(secs => $1)",
                               [.double(Double(retention.components.seconds))])
    }
}
