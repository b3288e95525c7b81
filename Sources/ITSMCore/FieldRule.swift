import Foundation
import Mustache

/// How one field of a ticket is filled from an alert.
public enum FieldRule: Sendable, Equatable, Codable {
    /// A fixed value or a template over the alert: `"{{alert.title}} on {{alert.device.name}}"`.
    case template(String)
    /// A lookup: the value of `from` (e.g. `alert.severity`) looked up in `map`, else `default`.
    case lookup(from: String, map: [String: String], default: String?)
    /// A record of the instance found by the alert's values (a configuration item by the
    /// device's name, then its IP): the first `from` value is matched against the first `by`
    /// column, and so on; the field gets the sys_id of the one record matched.
    case recordLookup(RecordLookup)

    private enum Keys: String, CodingKey { case from, map, `default`, lookup, by }

    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self = .template(text)
            return
        }
        let container = try decoder.container(keyedBy: Keys.self)
        if let table = try container.decodeIfPresent(String.self, forKey: .lookup) {
            self = .recordLookup(RecordLookup(table: table, by: try container.decode([String].self, forKey: .by),
                                              from: try container.decode([String].self, forKey: .from)))
            return
        }
        self = .lookup(from: try container.decode(String.self, forKey: .from),
                       map: try container.decodeIfPresent([String: String].self, forKey: .map) ?? [:],
                       default: try container.decodeIfPresent(String.self, forKey: .default))
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .template(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .lookup(let from, let map, let fallback):
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(from, forKey: .from)
            try container.encode(map, forKey: .map)
            try container.encodeIfPresent(fallback, forKey: .default)
        case .recordLookup(let lookup):
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(lookup.table, forKey: .lookup)
            try container.encode(lookup.by, forKey: .by)
            try container.encode(lookup.from, forKey: .from)
        }
    }
}
