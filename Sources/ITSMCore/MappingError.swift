import Foundation
import Mustache

/// A mapping that cannot be saved, and why.
public struct MappingError: Error, Equatable, CustomStringConvertible {
    public let field: String?
    public let reason: String

    public init(field: String?, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { field.map { "\($0): \(reason)" } ?? reason }
}
