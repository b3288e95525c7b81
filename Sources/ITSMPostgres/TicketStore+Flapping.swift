import Foundation
import ITSMCore
import Postgres

extension TicketStore: FlapTracking {
    public func recordCycle(customerID: String, alertID: String, settings: FlapSettings, now: Date) async throws -> FlapSettings.Cycle {
        try await pool.withTransaction { connection in
            try await connection.execute("""
                INSERT INTO flapping_alerts (customer_id, alert_id) VALUES ($1, $2) ON CONFLICT (customer_id, alert_id) DO NOTHING
                """, [.text(customerID), .text(alertID)])
            let row = try await connection.query("""
                SELECT cycles, flapping_since IS NOT NULL AS flapping FROM flapping_alerts WHERE customer_id = $1 AND alert_id = $2 FOR UPDATE
                """, [.text(customerID), .text(alertID)])[0]
            let previous = try row["cycles"].json([Date].self)
            let (kept, cycle) = settings.cycle(previous: previous, wasFlapping: try row["flapping"].bool(), now: now)
            try await connection.execute("""
                UPDATE flapping_alerts SET cycles = $3::jsonb,
                    flapping_since = CASE WHEN $4 THEN COALESCE(flapping_since, now()) ELSE NULL END,
                    -- The note that says the alert began flapping is its first summary.
                    summary_at = CASE WHEN $4 AND flapping_since IS NULL THEN now() ELSE summary_at END,
                    fires_since_summary = CASE WHEN $4 AND flapping_since IS NOT NULL THEN fires_since_summary + 1 ELSE 0 END
                WHERE customer_id = $1 AND alert_id = $2
                """, [.text(customerID), .text(alertID), try .jsonEncoded(kept), .bool(cycle.isFlapping)])
            return cycle
        }
    }

    public func isFlapping(customerID: String, alertID: String) async throws -> Bool {
        !(try await pool.query("""
            SELECT 1 FROM flapping_alerts WHERE customer_id = $1 AND alert_id = $2 AND flapping_since IS NOT NULL
            """, [.text(customerID), .text(alertID)])).isEmpty
    }

    public func takeSummary(customerID: String, alertID: String, every period: Duration, now: Date) async throws -> Int? {
        try await pool.query("""
            UPDATE flapping_alerts f SET summary_at = $3::timestamptz, fires_since_summary = 0
            FROM (SELECT fires_since_summary FROM flapping_alerts WHERE customer_id = $1 AND alert_id = $2) AS before
            WHERE f.customer_id = $1 AND f.alert_id = $2 AND f.flapping_since IS NOT NULL AND before.fires_since_summary > 0
              AND (f.summary_at IS NULL OR f.summary_at <= $3::timestamptz - make_interval(secs => $4))
            RETURNING before.fires_since_summary
            """, [.text(customerID), .text(alertID), .timestamp(now), .double(period.seconds)]).first.map { try $0["fires_since_summary"].int() }
    }

    public func quietAlerts(customerID: String, resolvedBefore: Date) async throws -> [String] {
        try await pool.query("""
            SELECT f.alert_id FROM flapping_alerts f
            JOIN ticket_links l ON l.customer_id = f.customer_id AND l.alert_id = f.alert_id AND l.status = 'open'
            WHERE f.customer_id = $1 AND f.flapping_since IS NOT NULL AND l.alert_status = 'resolved' AND l.resolved_at <= $2
            ORDER BY f.alert_id
            """, [.text(customerID), .timestamp(resolvedBefore)]).map { try $0["alert_id"].string() }
    }

    public func endFlapping(customerID: String, alertID: String) async throws {
        try await pool.execute("DELETE FROM flapping_alerts WHERE customer_id = $1 AND alert_id = $2", [.text(customerID), .text(alertID)])
    }
}
