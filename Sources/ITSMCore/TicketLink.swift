import Crypto
import Foundation

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
    public var state: IncidentState?
    public var sysUpdatedOn: String?
    public var warnings: [String]
    public var createAttempts: Int
    public var claimedBy: String?
    public var claimExpiresAt: Date?
    public var alertStatus: AlertStatus
    public var statusEventAt: Date?
    public var resolvedAt: Date?
    public var previousLinkID: Int?
    /// The group whose incident this link shares (see ``TicketGroup``), if any.
    public var groupID: Int?
    public var groupKind: TicketGroup.Kind?
    /// How many times the worker reopened the incident.
    public var reopenCount: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int, customerID: String, networkID: String, alertID: String, alertType: String, correlationID: String, table: String,
                status: Status, sysID: String? = nil, number: String? = nil, url: String? = nil, state: IncidentState? = nil,
                sysUpdatedOn: String? = nil, warnings: [String] = [], createAttempts: Int = 1, claimedBy: String? = nil,
                claimExpiresAt: Date? = nil, alertStatus: AlertStatus = .open, statusEventAt: Date? = nil, resolvedAt: Date? = nil,
                previousLinkID: Int? = nil, groupID: Int? = nil, groupKind: TicketGroup.Kind? = nil, reopenCount: Int = 0, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.customerID = customerID
        self.networkID = networkID
        self.alertID = alertID
        self.alertType = alertType
        self.correlationID = correlationID
        self.table = table
        self.status = status
        self.sysID = sysID
        self.number = number
        self.url = url
        self.state = state
        self.sysUpdatedOn = sysUpdatedOn
        self.warnings = warnings
        self.createAttempts = createAttempts
        self.claimedBy = claimedBy
        self.claimExpiresAt = claimExpiresAt
        self.alertStatus = alertStatus
        self.statusEventAt = statusEventAt
        self.resolvedAt = resolvedAt
        self.previousLinkID = previousLinkID
        self.groupID = groupID
        self.groupKind = groupKind
        self.reopenCount = reopenCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Pending with a worker's claim: that worker may still commit the created ticket. A claim
    /// that expired is counted for one more lease, since its holder learns of the expiry only
    /// when it commits; after that the holder is gone.
    public func isBeingCreated(lease: Duration, now: Date) -> Bool {
        guard status == .pending, claimedBy != nil, let expires = claimExpiresAt else { return false }
        return expires.addingTimeInterval(lease.seconds) > now
    }

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
