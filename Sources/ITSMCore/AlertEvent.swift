import Foundation
import JSONText

/// An event from Ceburu's monitoring (`ceburu.alert.v1`): an alert raised, acknowledged or
/// resolved. Decoding validates the whole contract, so a value of this type is always usable.
public struct AlertEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case raised = "alert.raised"
        case acknowledged = "alert.acknowledged"
        case resolved = "alert.resolved"
    }

    public enum Severity: String, Sendable, CaseIterable {
        case info, warning, minor, major, critical
    }

    public struct Device: Sendable, Equatable {
        public var id: String?
        public var name: String?
        public var ip: String?

        public init(id: String? = nil, name: String? = nil, ip: String? = nil) {
            self.id = id
            self.name = name
            self.ip = ip
        }
    }

    public struct Alert: Sendable, Equatable {
        public var id: String
        public var type: String
        /// Present on `alert.raised`.
        public var severity: Severity?
        public var title: String?
        public var description: String?
        public var device: Device?
        public var value: Double?
        public var threshold: Double?
        public var labels: [String: String]
        public var url: String?

        public init(id: String, type: String, severity: Severity? = nil, title: String? = nil, description: String? = nil, device: Device? = nil,
                    value: Double? = nil, threshold: Double? = nil, labels: [String: String] = [:], url: String? = nil) {
            self.id = id
            self.type = type
            self.severity = severity
            self.title = title
            self.description = description
            self.device = device
            self.value = value
            self.threshold = threshold
            self.labels = labels
            self.url = url
        }
    }

    public struct Actor: Sendable, Equatable {
        public var name: String?
        public var email: String?

        public init(name: String? = nil, email: String? = nil) {
            self.name = name
            self.email = email
        }
    }

    public static let schema = "ceburu.alert.v1"

    public var eventID: String
    public var kind: Kind
    public var occurredAt: Date
    public var customerID: String
    public var networkID: String
    public var alert: Alert
    public var actor: Actor?
    public var note: String?

    public init(eventID: String, kind: Kind, occurredAt: Date, customerID: String, networkID: String, alert: Alert, actor: Actor? = nil, note: String? = nil) {
        self.eventID = eventID
        self.kind = kind
        self.occurredAt = occurredAt
        self.customerID = customerID
        self.networkID = networkID
        self.alert = alert
        self.actor = actor
        self.note = note
    }
}

extension AlertEvent {
    /// Longest identifier accepted (ids land in database keys and ServiceNow's correlation_id).
    public static let maximumIDLength = 200

    /// Whether `text` holds a control character (C0, DEL, C1) or a line or paragraph separator.
    public static func containsControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains { scalar in
            scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
        }
    }

    /// Parses and validates a message body. Unknown fields are ignored.
    public static func decode(_ body: [UInt8]) throws(AlertEventError) -> AlertEvent {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw AlertEventError(code: "invalid_json", reason: "the body is not JSON")
        }
        guard case .object(let root) = value else {
            throw AlertEventError(code: "wrong_type", reason: "the body is not a JSON object")
        }
        let reader = JSONReader(root, path: "")
        let schema = try reader.string("schema")
        guard schema == Self.schema else {
            throw AlertEventError(code: "unsupported_schema", reason: "schema is '\(schema)', expected '\(Self.schema)'")
        }
        let typeName = try reader.string("type")
        guard let kind = Kind(rawValue: typeName) else {
            throw AlertEventError(code: "invalid_value", reason: "type '\(typeName)' is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let eventID = try reader.identifier("event_id")
        let occurredText = try reader.string("occurred_at")
        guard let occurredAt = parseTimestamp(occurredText) else {
            throw AlertEventError(code: "invalid_value", reason: "occurred_at '\(occurredText.prefix(40))' is not an RFC 3339 time")
        }
        let customerID = try reader.identifier("customer_id")
        let networkID = try reader.identifier("network_id")
        let alertReader = try reader.object("alert")
        var alert = Alert(id: try alertReader.identifier("id"), type: try alertReader.identifier("type"),
                          severity: nil, title: nil, description: nil, device: nil, value: nil, threshold: nil, labels: [:], url: nil)
        if kind == .raised {
            let severity = try alertReader.string("severity")
            guard let parsed = Severity(rawValue: severity) else {
                throw AlertEventError(code: "invalid_value", reason: "alert.severity '\(severity.prefix(40))' is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            alert.severity = parsed
            alert.title = try alertReader.string("title")
        } else {
            alert.severity = try alertReader.optionalString("severity").flatMap(Severity.init)
            alert.title = try alertReader.optionalString("title")
        }
        alert.description = try alertReader.optionalString("description")
        alert.value = try alertReader.optionalNumber("value")
        alert.threshold = try alertReader.optionalNumber("threshold")
        alert.url = try alertReader.optionalString("url")
        if let device = try alertReader.optionalObject("device") {
            alert.device = Device(id: try device.optionalString("id"), name: try device.optionalString("name"), ip: try device.optionalString("ip"))
        }
        if let labels = try alertReader.optionalObject("labels") {
            for (key, value) in labels.object {
                guard case .string(let text) = value else {
                    throw AlertEventError(code: "wrong_type", reason: "alert.labels.\(key) must be a string")
                }
                alert.labels[key] = text
            }
        }
        var event = AlertEvent(eventID: eventID, kind: kind, occurredAt: occurredAt, customerID: customerID, networkID: networkID, alert: alert)
        if let actor = try reader.optionalObject("actor") {
            event.actor = Actor(name: try actor.optionalString("name"), email: try actor.optionalString("email"))
        }
        event.note = try reader.optionalString("note")
        return event
    }
}
