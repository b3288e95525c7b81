import Foundation

/// What a worker process does; `itsm-worker run --roles …` picks some.
public enum WorkerRole: String, Sendable, CaseIterable {
    /// Consume `alert.raised` (and Test Connection requests).
    case alerts
    /// Consume `alert.acknowledged` / `alert.resolved`.
    case status
    /// Poll ServiceNow for changes made there.
    case sync
    /// Publish queued events.
    case outbox

    public static func parse(_ text: String) throws(ConfigurationError) -> Set<WorkerRole> {
        var roles: Set<WorkerRole> = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            guard let role = WorkerRole(rawValue: part) else {
                throw ConfigurationError(variable: "--roles", reason: "unknown role '\(part)' (roles: \(allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            roles.insert(role)
        }
        guard !roles.isEmpty else { throw ConfigurationError(variable: "--roles", reason: "no role given") }
        return roles
    }
}
