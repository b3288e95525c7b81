import Crypto
import Foundation
import Postgres

/// The worker's record of one ticket it opened (or is opening) for an alert.
public struct TicketLink: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Claimed: a worker is creating the incident.
        case pending
        case open
        /// Closed or canceled in ServiceNow; no longer written or polled.
        case closed
        /// The worker gave up creating it.
        case failed
        /// Deleted in ServiceNow.
        case deleted
    }

    public var id: Int
    public var customerID: String
    public var networkID: String
    public var alertID: String
    public var alertType: String
    public var correlationID: String
    public var table: String
    public var status: Status
    public var sysID: String?
    public var number: String?
    public var url: String?
    public var state: String?
    public var sysUpdatedOn: String?
    public var warnings: [String]
    public var createAttempts: Int
    public var claimedBy: String?
    public var claimExpiresAt: Date?
    public var alertStatus: String
    public var statusEventAt: Date?
    public var resolvedAt: Date?
    public var previousLinkID: Int?
    public var createdAt: Date
    public var updatedAt: Date

    init(_ row: PostgresRow) throws {
        id = try row["id"].int()
        customerID = try row["customer_id"].string()
        networkID = try row["network_id"].string()
        alertID = try row["alert_id"].string()
        alertType = try row["alert_type"].string()
        correlationID = try row["correlation_id"].string()
        table = try row["target_table"].string()
        status = Status(rawValue: try row["status"].string()) ?? .failed
        sysID = try row["sys_id"].optionalString()
        number = try row["number"].optionalString()
        url = try row["url"].optionalString()
        state = try row["state"].optionalString()
        sysUpdatedOn = try row["sys_updated_on"].optionalString()
        warnings = try row["warnings"].json([String].self)
        createAttempts = try row["create_attempts"].int()
        claimedBy = try row["claimed_by"].optionalString()
        claimExpiresAt = try row["claim_expires_at"].optionalDate()
        alertStatus = try row["alert_status"].string()
        statusEventAt = try row["status_event_at"].optionalDate()
        resolvedAt = try row["resolved_at"].optionalDate()
        previousLinkID = try row["previous_link_id"].optionalInt()
        createdAt = try row["created_at"].date()
        updatedAt = try row["updated_at"].date()
    }

    /// Pending with a worker's claim: that worker may still commit the created ticket. A claim
    /// that expired is counted for one more lease, since its holder learns of the expiry only
    /// when it commits; after that the holder is gone.
    func isBeingCreated(lease: Duration, now: Date = Date()) -> Bool {
        guard status == .pending, claimedBy != nil, let expires = claimExpiresAt else { return false }
        return expires.addingTimeInterval(lease.seconds) > now
    }

    /// What the worker reads from ServiceNow's answer to a create or an update; asking for only
    /// these spares decoding the rest of the record on every write.
    static let writeAnswerFields = ["sys_id", "number", "state", "sys_updated_on"]

    /// A stable key written to the incident's `correlation_id`: derived from the customer, the
    /// alert and how many tickets the alert had before, so that a retry finds the incident an
    /// earlier attempt created, while a later ticket for the same alert gets its own key.
    public static func correlationID(customerID: String, alertID: String, generation: Int) -> String {
        let digest = SHA256.hash(data: Data("\(customerID)\u{0}\(alertID)\u{0}\(generation)".utf8))
        // (Per alert, so no String(format:) per byte.)
        let hex = Array("0123456789abcdef".utf8)
        var key = Array("ceburu-".utf8)
        for byte in digest.prefix(20) {
            key.append(hex[Int(byte >> 4)])
            key.append(hex[Int(byte & 0x0f)])
        }
        return String(decoding: key, as: UTF8.self)
    }
}
