import Foundation

/// A mapping's grouping: alerts whose rendered key matches an open group's join its incident
/// instead of opening their own.
public struct AlertGrouping: Sendable, Equatable {
    /// When a grouped incident is resolved.
    public enum Resolve: String, Sendable, CaseIterable {
        /// When the last of its alerts resolves.
        case last
        /// When any of its alerts resolves.
        case first
        /// Never by the worker: people resolve it in ServiceNow.
        case never
    }

    /// A template over the alert, like a field's: `{{network_id}}:{{alert.type}}`.
    public var key: String
    /// How long after its incident was opened a group takes new alerts.
    public var window: Duration
    public var resolve: Resolve

    public static let defaultWindow: Duration = .seconds(15 * 60)

    public init(key: String, window: Duration = AlertGrouping.defaultWindow, resolve: Resolve = .last) {
        self.key = key
        self.window = window
        self.resolve = resolve
    }

    public func validate() throws(MappingError) {
        guard !key.trimmingCharacters(in: .whitespaces).isEmpty else { throw MappingError(field: "group_key", reason: "the group key is empty") }
        try TemplateCheck.check(key, field: "group_key")
        guard window > .zero, window <= .seconds(7 * 24 * 3600) else {
            throw MappingError(field: "group_window", reason: "the group window must be between 1 second and 7 days")
        }
    }

    /// The key `event` groups under; nil when the template renders to nothing (the alert lacks
    /// the values), and then the alert opens its own incident.
    public func renderKey(_ event: AlertEvent) -> String? {
        let rendered = TemplateCheck.render(key, context: TemplateContext.make(event)).trimmingCharacters(in: .whitespacesAndNewlines)
        // (Bounded: the key is stored and compared; an alert's values can be long.)
        return rendered.isEmpty ? nil : String(rendered.prefix(200))
    }

    /// The grouping in words, for `mapping validate`.
    public var explanation: String {
        let resolving: String
        switch resolve {
        case .last: resolving = "resolved when the last of its alerts resolves"
        case .first: resolving = "resolved when the first of its alerts resolves"
        case .never: resolving = "never resolved by Ceburu (people resolve it in ServiceNow)"
        }
        return "alerts whose key '\(key)' renders alike share one incident for \(window.words) after it opens; "
            + "each alert that joins is named in a work note and reported as ticket.linked; the incident is \(resolving)"
    }
}

/// One alert's group, as its claim needs it: the rendered key and the mapping's rules.
public struct GroupClaim: Sendable, Equatable {
    public var key: String
    public var window: Duration
    public var resolve: AlertGrouping.Resolve

    public init(key: String, window: Duration, resolve: AlertGrouping.Resolve) {
        self.key = key
        self.window = window
        self.resolve = resolve
    }
}
