import Foundation

/// How the worker writes status changes to an integration's instance. The defaults work on a
/// stock instance.
public struct IntegrationSettings: Sendable, Equatable, Codable {
    public var acknowledgedState: IncidentState = .inProgress
    public var resolvedState: IncidentState = .resolved
    public var closeCode: String = "Solution provided"
    /// A template over the status event: `actor`, `note`, `alert.id`, `occurred_at`.
    public var closeNotes: String = "Resolved in Ceburu by {{actor}}{{#note}}: {{note}}{{/note}}"
    /// `work_notes` (internal) or `comments` (customer-visible).
    public var notesField: String = "work_notes"
    /// This integration's way to its instance: nil follows `HTTPS_PROXY` / `NO_PROXY`, `none`
    /// goes direct, an `http://host:port` URL (no credentials: they would sit in plain text
    /// here) goes through that proxy.
    public var proxy: String?
    /// Whether the sync reports work notes and comments people write in ServiceNow
    /// (`ticket.commented`).
    public var syncNotes: Bool = true

    public init() {}

    enum CodingKeys: String, CodingKey {
        case acknowledgedState = "acknowledged_state"
        case resolvedState = "resolved_state"
        case closeCode = "close_code"
        case closeNotes = "close_notes"
        case notesField = "notes_field"
        case proxy
        case syncNotes = "sync_notes"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = IntegrationSettings()
        acknowledgedState = try container.decodeIfPresent(IncidentState.self, forKey: .acknowledgedState) ?? defaults.acknowledgedState
        resolvedState = try container.decodeIfPresent(IncidentState.self, forKey: .resolvedState) ?? defaults.resolvedState
        closeCode = try container.decodeIfPresent(String.self, forKey: .closeCode) ?? defaults.closeCode
        closeNotes = try container.decodeIfPresent(String.self, forKey: .closeNotes) ?? defaults.closeNotes
        notesField = try container.decodeIfPresent(String.self, forKey: .notesField) ?? defaults.notesField
        proxy = try container.decodeIfPresent(String.self, forKey: .proxy)
        syncNotes = try container.decodeIfPresent(Bool.self, forKey: .syncNotes) ?? defaults.syncNotes
    }
}
