import Foundation
import Postgres

/// One row of an alert's audit trail.
public struct AuditEntry: Sendable, Codable {
    public var at: Date
    public var eventID: String?
    public var kind: String
    public var method: String?
    public var table: String?
    public var sysID: String?
    public var status: Int?
    public var durationMs: Int?
    public var message: String?

    enum CodingKeys: String, CodingKey {
        case at, kind, method, status, message
        case eventID = "event_id"
        case table
        case sysID = "sys_id"
        case durationMs = "duration_ms"
    }
}

extension AuditTrail {
    public func entries(customerID: String?, alertID: String) async throws -> [AuditEntry] {
        try await pool.query("""
            SELECT * FROM audit_log WHERE alert_id = $1 AND ($2::text IS NULL OR customer_id = $2) ORDER BY at, id
            """, [.text(alertID), .text(customerID)]).map { row in
            AuditEntry(at: try row["at"].date(), eventID: try row["event_id"].optionalString(), kind: try row["kind"].string(),
                       method: try row["method"].optionalString(), table: try row["target_table"].optionalString(),
                       sysID: try row["sys_id"].optionalString(), status: try row["status"].optionalInt(),
                       durationMs: try row["duration_ms"].optionalInt(), message: try row["message"].optionalString())
        }
    }
}
