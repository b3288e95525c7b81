import Foundation
import JSONText

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

    /// The event as published: what `JSONEncoder` with sorted keys and unescaped slashes wrote,
    /// written by hand (see ``JSONObjectText``). Keys in byte order.
    public func encoded() -> Data {
        var event = JSONObjectText()
        event.field("alert_id", alertID)
        event.field("alert_status", alertStatus?.rawValue)
        event.field("cause_event_id", causeEventID)
        event.field("comment", comment.map { comment in
            var object = JSONObjectText()
            object.field("author", comment.author)
            object.field("created_at", comment.createdAt)
            object.field("field", comment.field)
            object.field("text", comment.text)
            object.field("visibility", comment.visibility)
            return object
        })
        event.field("customer_id", customerID)
        event.field("error", error.map { error in
            var object = JSONObjectText()
            object.field("code", error.code)
            object.field("message", error.message)
            return object
        })
        event.field("event_id", eventID)
        event.field("group", group.map { group in
            var object = JSONObjectText()
            object.field("key", group.key)
            object.field("size", group.size)
            return object
        })
        event.field("network_id", networkID)
        event.field("occurred_at", occurredAt)
        event.field("schema", schema)
        event.field("ticket", ticket.map { ticket in
            var object = JSONObjectText()
            object.field("number", ticket.number)
            object.field("state", ticket.state)
            object.field("state_label", ticket.stateLabel)
            object.field("sys_id", ticket.sysID)
            object.field("system", ticket.system)
            object.field("table", ticket.table)
            object.field("url", ticket.url)
            return object
        })
        event.field("type", type.rawValue)
        event.field("warnings", warnings)
        return Data(event.finished)
    }
}
