import Foundation

/// A migration that failed; nothing of it was kept.
public struct MigrationError: Error, CustomStringConvertible {
    public let version: Int
    public let name: String
    public let underlying: any Error

    public var description: String { "migration \(version)_\(name) failed: \(underlying)" }
}
