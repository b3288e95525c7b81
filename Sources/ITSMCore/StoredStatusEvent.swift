import Foundation

/// A status event as kept in `status_events`.
public struct StoredStatusEvent: Sendable, Equatable {
    public var eventID: String
    public var customerID: String
    public var networkID: String
    public var alertID: String
    public var kind: AlertEvent.Kind
    public var occurredAt: Date
    public var actorName: String?
    public var actorEmail: String?
    public var note: String?

    public init(eventID: String, customerID: String, networkID: String, alertID: String, kind: AlertEvent.Kind, occurredAt: Date,
                actorName: String? = nil, actorEmail: String? = nil, note: String? = nil) {
        self.eventID = eventID
        self.customerID = customerID
        self.networkID = networkID
        self.alertID = alertID
        self.kind = kind
        self.occurredAt = occurredAt
        self.actorName = actorName
        self.actorEmail = actorEmail
        self.note = note
    }

    /// The event as the handlers see it.
    public var event: AlertEvent {
        AlertEvent(eventID: eventID, kind: kind, occurredAt: occurredAt, customerID: customerID, networkID: networkID,
                   alert: AlertEvent.Alert(id: alertID, type: "", labels: [:]),
                   actor: AlertEvent.Actor(name: actorName, email: actorEmail), note: note)
    }
}
