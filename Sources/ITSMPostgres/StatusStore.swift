import Foundation
import ITSMCore
import Postgres

extension StoredStatusEvent {
    public init(_ row: PostgresRow) throws {
        self.init(eventID: try row["event_id"].string(),
                  customerID: try row["customer_id"].string(),
                  networkID: try row["network_id"].string(),
                  alertID: try row["alert_id"].string(),
                  kind: try row["kind"].string() == "resolved" ? .resolved : .acknowledged,
                  occurredAt: try row["occurred_at"].date(),
                  actorName: try row["actor_name"].optionalString(),
                  actorEmail: try row["actor_email"].optionalString(),
                  note: try row["note"].optionalString())
    }
}

extension TicketStore {
    /// Keeps a status event (idempotent by event id).
    public func recordStatusEvent(_ event: AlertEvent) async throws {
        try await pool.execute("""
            INSERT INTO status_events (event_id, customer_id, network_id, alert_id, alert_type, kind, occurred_at, actor_name, actor_email, note)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (customer_id, event_id) DO NOTHING
            """, [.text(event.eventID), .text(event.customerID), .text(event.networkID), .text(event.alert.id), .text(event.alert.type),
                  .text(event.kind == .resolved ? "resolved" : "acknowledged"), .timestamp(event.occurredAt),
                  .text(event.actor?.name), .text(event.actor?.email), .text(event.note)])
    }

    /// The newest status event of an alert that has not been applied yet.
    public func latestWaitingStatus(customerID: String, alertID: String) async throws -> StoredStatusEvent? {
        try await pool.query("""
            SELECT * FROM status_events WHERE customer_id = $1 AND alert_id = $2 AND applied_at IS NULL
            ORDER BY occurred_at DESC, received_at DESC LIMIT 1
            """, [.text(customerID), .text(alertID)]).first.map(StoredStatusEvent.init)
    }

    /// Alerts of a customer with an open ticket and a status event waiting (for reconciliation).
    public func alertsWithWaitingStatus(customerID: String) async throws -> [String] {
        try await pool.query("""
            SELECT DISTINCT s.alert_id FROM status_events s
            JOIN ticket_links l ON l.customer_id = s.customer_id AND l.alert_id = s.alert_id AND l.status = 'open'
            WHERE s.customer_id = $1 AND s.applied_at IS NULL
            """, [.text(customerID)]).map { try $0["alert_id"].string() }
    }

    /// Takes the short claim that serializes writes to an open ticket (status changes, re-fires).
    public func claimOpen(link: TicketLink, workerID: String, lease: Duration) async throws -> TicketLink? {
        // Compare-and-set: only when nobody (alive) holds it.
        try await pool.query("""
            UPDATE ticket_links SET claimed_by = $2, claim_expires_at = now() + make_interval(secs => $3)
            WHERE id = $1 AND status = 'open' AND (claimed_by IS NULL OR claim_expires_at < now())
            RETURNING *
            """, [.int(link.id), .text(workerID), .double(lease.seconds)]).first.map(TicketLink.init)
    }

    /// Stores what a status write did (or why it did nothing) and releases the claim, in one
    /// transaction: the link's state and Ceburu status, the applied status event (and the older
    /// ones it supersedes), the processed mark, and the outgoing event.
    public func completeStatus(link: TicketLink, workerID: String, record: WrittenRecord?, alertStatus: AlertStatus?, statusEventAt: Date?,
                               resolvedAt: Date??, linkStatus: TicketLink.Status?, reopened: Bool, applied: AlertEvent?, processed: AlertEvent?,
                               outcome: String, outgoing: TicketEvent?) async throws {
        try await pool.withTransaction { connection in
            var resolvedValue: PostgresValue = .null
            var setResolved = false
            if let resolvedAt { setResolved = true; resolvedValue = .timestamp(resolvedAt) }
            try await connection.execute("""
                UPDATE ticket_links SET
                    state = COALESCE($3, state), sys_updated_on = COALESCE($4, sys_updated_on),
                    alert_status = COALESCE($5, alert_status), status_event_at = COALESCE($6, status_event_at),
                    resolved_at = CASE WHEN $7 THEN $8::timestamptz ELSE resolved_at END,
                    status = COALESCE($9, status), reopen_count = reopen_count + $10,
                    claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
                WHERE id = $1 AND (claimed_by = $2 OR claimed_by IS NULL)
                """, [.int(link.id), .text(workerID), .text(record?.state.rawValue), .text(record?.sysUpdatedOn), .text(alertStatus?.rawValue),
                      .timestamp(statusEventAt), .bool(setResolved), resolvedValue, .text(linkStatus?.rawValue), .int(reopened ? 1 : 0)])
            if let applied {
                try await connection.execute("UPDATE status_events SET applied_at = now(), outcome = $2 WHERE event_id = $1",
                                             [.text(applied.eventID), .text(outcome)])
                try await connection.execute("""
                    UPDATE status_events SET applied_at = now(), outcome = 'superseded'
                    WHERE customer_id = $1 AND alert_id = $2 AND applied_at IS NULL AND occurred_at <= $3
                    """, [.text(applied.customerID), .text(applied.alert.id), .timestamp(applied.occurredAt)])
            }
            if let processed {
                try await connection.execute("""
                    INSERT INTO processed_events (event_id, customer_id, event_type, outcome) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (customer_id, event_id) DO NOTHING
                    """, [.text(processed.eventID), .text(processed.customerID), .text(processed.kind.rawValue), .text(outcome)])
            }
            if let outgoing { try await Self.enqueue(connection, outgoing) }
        }
        if outgoing != nil { outbox?.notify() }
    }

    public func releaseClaim(link: TicketLink, workerID: String) async throws {
        try await release(link: link, workerID: workerID)
    }

    /// Closes a ticket that can no longer be written (Closed/Canceled in ServiceNow, or past the
    /// reopen window) and claims a new one for the alert in the same transaction.
    public func supersede(link: TicketLink, event: AlertEvent, table: String, workerID: String, lease: Duration) async throws -> TicketClaim {
        try await pool.execute("""
            UPDATE ticket_links SET status = 'closed', claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
            WHERE id = $1 AND status = 'open'
            """, [.int(link.id)])
        return try await claim(event: event, table: table, workerID: workerID, lease: lease)
    }
}
