import Foundation

/// An event the worker publishes on `itsm.events` (`itsm.ticket.v1`); the routing key is its type.
public struct TicketEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case created = "ticket.created"
        case updated = "ticket.updated"
        case stateChanged = "ticket.state_changed"
        case failed = "ticket.failed"
        /// An alert joined an incident another alert opened (grouping or storm protection).
        case linked = "ticket.linked"
        /// Someone other than the worker wrote a work note or comment in ServiceNow.
        case commented = "ticket.commented"
    }

    /// The group an alert's incident belongs to.
    public struct Group: Sendable, Equatable, Codable {
        public var key: String
        public var size: Int

        public init(key: String, size: Int) {
            self.key = key
            self.size = size
        }
    }

    /// A journal entry written in ServiceNow.
    public struct Comment: Sendable, Equatable, Codable {
        /// `work_notes` or `comments`.
        public var field: String
        /// `internal` (work notes) or `customer` (comments).
        public var visibility: String
        public var author: String
        public var text: String
        public var createdAt: String

        public init(field: String, author: String, text: String, createdAt: String) {
            self.field = field
            self.visibility = field == "comments" ? "customer" : "internal"
            self.author = author
            self.text = text
            self.createdAt = createdAt
        }

        enum CodingKeys: String, CodingKey {
            case field, visibility, author, text
            case createdAt = "created_at"
        }
    }

    public struct Ticket: Sendable, Equatable, Codable {
        public var system: String = "servicenow"
        public var table: String
        public var sysID: String
        public var number: String
        public var url: String
        public var state: String
        public var stateLabel: String

        public init(table: String, sysID: String, number: String, url: String, state: String) {
            self.table = table
            self.sysID = sysID
            self.number = number
            self.url = url
            self.state = state
            self.stateLabel = IncidentState(rawValue: state).label
        }

        enum CodingKeys: String, CodingKey {
            case system, table, number, url, state
            case sysID = "sys_id"
            case stateLabel = "state_label"
        }
    }

    public struct Failure: Sendable, Equatable, Codable {
        public var code: String
        public var message: String

        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    public static let schema = "itsm.ticket.v1"

    public var schema: String = TicketEvent.schema
    public var eventID: String
    public var type: Kind
    public var occurredAt: String
    public var customerID: String
    public var networkID: String
    public var alertID: String
    public var causeEventID: String?
    public var ticket: Ticket?
    public var alertStatus: AlertStatus?
    public var warnings: [String]
    public var error: Failure?
    public var group: Group?
    public var comment: Comment?

    public init(type: Kind, eventID: String = EventID.random(), occurredAt: Date = Date(), customerID: String, networkID: String,
                alertID: String, causeEventID: String?, ticket: Ticket?, alertStatus: AlertStatus?, warnings: [String] = [], error: Failure? = nil,
                group: Group? = nil, comment: Comment? = nil) {
        self.eventID = eventID
        self.type = type
        self.occurredAt = AlertEvent.formatTimestamp(occurredAt)
        self.customerID = customerID
        self.networkID = networkID
        self.alertID = alertID
        self.causeEventID = causeEventID
        self.ticket = ticket
        self.alertStatus = alertStatus
        self.warnings = warnings
        self.error = error
        self.group = group
        self.comment = comment
    }

    enum CodingKeys: String, CodingKey {
        case schema, type, ticket, warnings, error, group, comment
        case eventID = "event_id"
        case occurredAt = "occurred_at"
        case customerID = "customer_id"
        case networkID = "network_id"
        case alertID = "alert_id"
        case causeEventID = "cause_event_id"
        case alertStatus = "alert_status"
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }
}
