import Foundation
import JSONText

/// A record from a Table API answer.
public struct ServiceNowRecord: Sendable, Hashable, Decodable {
    public var fields: [String: ServiceNowFieldValue]

    public init(fields: [String: ServiceNowFieldValue]) {
        self.fields = fields
    }

    public init(from decoder: any Decoder) throws {
        fields = try [String: ServiceNowFieldValue](from: decoder)
    }

    /// What `init(from:)` reads, from a value already parsed; nil where it throws.
    init?(json: JSONValue) {
        guard case .object(let members) = json else { return nil }
        var fields: [String: ServiceNowFieldValue] = [:]
        fields.reserveCapacity(members.count)
        for (name, member) in members {
            guard let value = ServiceNowFieldValue(json: member) else { return nil }
            fields[name] = value
        }
        self.init(fields: fields)
    }

    /// The field's value (a reference's sys_id); `nil` when the answer lacks the field.
    public subscript(_ name: String) -> String? { fields[name]?.value }

    public var sysID: String { self["sys_id"] ?? "" }
}
