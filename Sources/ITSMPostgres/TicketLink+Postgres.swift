import Foundation
import ITSMCore
import Postgres

extension TicketLink {
    /// A `ticket_links` row. An unknown status reads as failed, so a row written by a newer
    /// worker is left alone rather than written to.
    public init(_ row: PostgresRow) throws {
        self.init(id: try row["id"].int(),
                  customerID: try row["customer_id"].string(),
                  networkID: try row["network_id"].string(),
                  alertID: try row["alert_id"].string(),
                  alertType: try row["alert_type"].string(),
                  correlationID: try row["correlation_id"].string(),
                  table: try row["target_table"].string(),
                  status: Status(rawValue: try row["status"].string()) ?? .failed,
                  sysID: try row["sys_id"].optionalString(),
                  number: try row["number"].optionalString(),
                  url: try row["url"].optionalString(),
                  state: try row["state"].optionalString().map(IncidentState.init(rawValue:)),
                  sysUpdatedOn: try row["sys_updated_on"].optionalString(),
                  // Almost always none: skip the JSON decoder for them.
                  warnings: try row["warnings"].string() == "[]" ? [] : try row["warnings"].json([String].self),
                  createAttempts: try row["create_attempts"].int(),
                  claimedBy: try row["claimed_by"].optionalString(),
                  claimExpiresAt: try row["claim_expires_at"].optionalDate(),
                  alertStatus: AlertStatus(rawValue: try row["alert_status"].string()) ?? .open,
                  statusEventAt: try row["status_event_at"].optionalDate(),
                  resolvedAt: try row["resolved_at"].optionalDate(),
                  previousLinkID: try row["previous_link_id"].optionalInt(),
                  groupID: try row["group_id"].optionalInt(),
                  groupKind: try row["group_kind"].optionalString().flatMap(TicketGroup.Kind.init(rawValue:)),
                  reopenCount: try row["reopen_count"].int(),
                  createdAt: try row["created_at"].date(),
                  updatedAt: try row["updated_at"].date())
    }
}
