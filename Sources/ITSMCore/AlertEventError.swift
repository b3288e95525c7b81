import Foundation

/// Why a message is not a valid v1 alert event; `reason` goes into the dead-letter header.
public struct AlertEventError: Error, Equatable, CustomStringConvertible {
    /// A short stable code: `invalid_json`, `missing_field`, `wrong_type`, `invalid_value`,
    /// `unsupported_schema`, `too_large`.
    public let code: String
    public let reason: String

    public init(code: String, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}
