import Foundation
import ITSMCore
import Postgres

/// The sync's memory in PostgreSQL: leases and watermarks in `sync_state`, the open links, and
/// compare-and-set writes to `ticket_links` that queue their event in the same transaction.
public struct PostgresSyncStore: SyncStore {
    let pool: PostgresPool
    let workerID: String

    public init(pool: PostgresPool, workerID: String) {
        self.pool = pool
        self.workerID = workerID
    }

    public func customers() async throws -> [String] {
        try await pool.query("SELECT customer_id FROM integrations ORDER BY customer_id").map { try $0["customer_id"].string() }
    }

    public func takeLease(customerID: String, lease: Duration) async throws -> SyncLease? {
        try await pool.execute("INSERT INTO sync_state (customer_id) VALUES ($1) ON CONFLICT (customer_id) DO NOTHING", [.text(customerID)])
        let rows = try await pool.query("""
            UPDATE sync_state SET locked_by = $2, locked_until = now() + make_interval(secs => $3), last_run_at = now(), cycles = cycles + 1
            WHERE customer_id = $1 AND (locked_until IS NULL OR locked_until < now())
            RETURNING watermark, cycles
            """, [.text(customerID), .text(workerID), .double(lease.seconds)])
        guard let row = rows.first else { return nil }
        // cycles counts from 1; the first cycle and every Nth after it are full passes.
        return SyncLease(watermark: try row["watermark"].optionalString(), cycles: try row["cycles"].int() - 1)
    }

    public func releaseLease(customerID: String, watermark: String?, error: String?) async throws {
        try await pool.execute("""
            UPDATE sync_state SET locked_by = NULL, locked_until = NULL, watermark = $3,
                last_success_at = CASE WHEN $4::text IS NULL THEN now() ELSE last_success_at END, last_error = $4
            WHERE customer_id = $1 AND locked_by = $2
            """, [.text(customerID), .text(workerID), .text(watermark), .text(error)])
    }

    public func openLinks(customerID: String) async throws -> [TicketLink] {
        try await pool.query("""
            SELECT * FROM ticket_links WHERE customer_id = $1 AND status = 'open' AND sys_id IS NOT NULL ORDER BY id
            """, [.text(customerID)]).map(TicketLink.init)
    }

    public func refreshStamps(_ stamps: [(linkID: Int, sysUpdatedOn: String)]) async throws {
        guard !stamps.isEmpty else { return }
        try await pool.execute("""
            UPDATE ticket_links AS l SET sys_updated_on = t.updated_on
            FROM unnest($1::bigint[], $2::text[]) AS t(id, updated_on) WHERE l.id = t.id
            """, [.array(stamps.map { String($0.linkID) }), .array(stamps.map(\.sysUpdatedOn))])
    }

    public func recordStateChange(_ link: TicketLink, to state: IncidentState, sysUpdatedOn: String?, alertStatus: AlertStatus,
                                  event: TicketEvent) async throws -> Bool {
        try await pool.withTransaction { connection in
            let rows = try await connection.query("""
                UPDATE ticket_links SET state = $3, sys_updated_on = $4, alert_status = $5,
                    status = CASE WHEN $3 = ANY(string_to_array($6, ',')) THEN 'closed' ELSE status END,
                    resolved_at = CASE WHEN $5 = 'resolved' THEN COALESCE(resolved_at, now()) ELSE NULL END,
                    updated_at = now()
                WHERE id = $1 AND state IS NOT DISTINCT FROM $2 AND status = 'open'
                  AND (claimed_by IS NULL OR claim_expires_at < now())
                RETURNING id
                """, [.int(link.id), .text(link.state?.rawValue), .text(state.rawValue), .text(sysUpdatedOn), .text(alertStatus.rawValue),
                      .text(IncidentState.finalStates.map(\.rawValue).joined(separator: ","))])
            guard !rows.isEmpty else { return false }
            try await TicketStore.enqueue(connection, event)
            return true
        }
    }

    public func markDeleted(_ link: TicketLink, event: TicketEvent) async throws -> Bool {
        try await pool.withTransaction { connection in
            let rows = try await connection.query("UPDATE ticket_links SET status = 'deleted', updated_at = now() WHERE id = $1 AND status = 'open' RETURNING id",
                                                  [.int(link.id)])
            guard !rows.isEmpty else { return false }
            try await TicketStore.enqueue(connection, event)
            return true
        }
    }

    public func alertsWithWaitingStatus(customerID: String) async throws -> [String] {
        try await TicketStore(pool: pool).alertsWithWaitingStatus(customerID: customerID)
    }
}

extension PostgresSyncStore: NoteStore {
    public func noteProgress(customerID: String) async throws -> (watermark: String?, ownUser: String?) {
        guard let row = try await pool.query("SELECT notes_watermark, own_user FROM sync_state WHERE customer_id = $1", [.text(customerID)]).first else {
            return (nil, nil)
        }
        return (try row["notes_watermark"].optionalString(), try row["own_user"].optionalString())
    }

    public func recordNoteProgress(customerID: String, watermark: String?, ownUser: String?) async throws {
        try await pool.execute("UPDATE sync_state SET notes_watermark = $2, own_user = $3 WHERE customer_id = $1",
                               [.text(customerID), .text(watermark), .text(ownUser)])
    }

    public func queueComments(_ events: [TicketEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        let queued = try await pool.execute("""
            INSERT INTO outbox (event_id, routing_key, payload)
            SELECT e.event_id::uuid, e.routing_key, e.payload::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) AS e(event_id, routing_key, payload)
            ON CONFLICT (event_id) DO NOTHING
            """, [.array(events.map(\.eventID)), .array(events.map(\.type.rawValue)), .array(events.map { String(decoding: $0.encoded(), as: UTF8.self) })])
        return queued
    }

    public func queuedAlready(eventIDs: [String]) async throws -> Set<String> {
        guard !eventIDs.isEmpty else { return [] }
        return Set(try await pool.query("SELECT event_id::text AS id FROM outbox WHERE event_id = ANY($1::uuid[])", [.array(eventIDs)])
            .map { try $0["id"].string() })
    }
}
