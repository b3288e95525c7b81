import Foundation

/// The outcome of one Test Connection check.
public struct ConnectionCheck: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case ok, warning, failed, skipped }

    public var name: String
    public var status: Status
    public var durationMs: Int
    /// What went wrong (or what is worth knowing, for warnings).
    public var cause: String?
    /// What to do about it.
    public var remedy: String?

    public init(name: String, status: Status, durationMs: Int, cause: String? = nil, remedy: String? = nil) {
        self.name = name
        self.status = status
        self.durationMs = durationMs
        self.cause = cause
        self.remedy = remedy
    }

    enum CodingKeys: String, CodingKey {
        case name, status, cause, remedy
        case durationMs = "duration_ms"
    }
}
