import Foundation

/// A record from a Table API answer.
public struct ServiceNowRecord: Sendable, Hashable, Decodable {
    public var fields: [String: ServiceNowFieldValue]

    public init(fields: [String: ServiceNowFieldValue]) {
        self.fields = fields
    }

    public init(from decoder: any Decoder) throws {
        fields = try [String: ServiceNowFieldValue](from: decoder)
    }

    /// The field's value (a reference's sys_id); `nil` when the answer lacks the field.
    public subscript(_ name: String) -> String? { fields[name]?.value }

    public var sysID: String { self["sys_id"] ?? "" }
}
