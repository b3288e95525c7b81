import Foundation

/// One field of a record as the Table API returns it: a plain string, or a reference
/// (`{"link", "value"}`), or with `sysparm_display_value=all` a `{"display_value", "value"}`.
public struct ServiceNowFieldValue: Sendable, Hashable, Codable {
    public var value: String
    public var displayValue: String?
    public var link: String?

    public init(value: String, displayValue: String? = nil, link: String? = nil) {
        self.value = value
        self.displayValue = displayValue
        self.link = link
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self.init(value: ""); return }
        if let string = try? container.decode(String.self) { self.init(value: string); return }
        if let bool = try? container.decode(Bool.self) { self.init(value: String(bool)); return }
        if let number = try? container.decode(Double.self) {
            self.init(value: number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number))
            return
        }
        let object = try container.decode([String: String?].self)
        self.init(value: (object["value"] ?? nil) ?? "", displayValue: object["display_value"] ?? nil, link: object["link"] ?? nil)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

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

/// One page of a Table API query.
public struct ServiceNowPage: Sendable {
    public let records: [ServiceNowRecord]
    /// `X-Total-Count`: rows matching before row-level ACLs, so a page may be short while more
    /// exist.
    public let totalCount: Int?
    /// The offset of the next page from the `Link` header, or `nil` on the last page.
    public let nextOffset: Int?
}

/// What to ask a query for.
public struct ServiceNowQuery: Sendable {
    /// An encoded query (`active=true^ORDERBYnumber`). Always order when paginating.
    public var query: String
    /// `sysparm_fields`; empty returns every field.
    public var fields: [String]
    /// Rows per page (`sysparm_limit`).
    public var pageSize: Int
    /// `sysparm_display_value`: `false`, `true` or `all`.
    public var displayValue: String?
    /// `sysparm_exclude_reference_link=true`: references come back as plain sys_ids.
    public var excludeReferenceLink: Bool

    public init(_ query: String, fields: [String] = [], pageSize: Int = 1000, displayValue: String? = nil, excludeReferenceLink: Bool = true) {
        self.query = query
        self.fields = fields
        self.pageSize = pageSize
        self.displayValue = displayValue
        self.excludeReferenceLink = excludeReferenceLink
    }
}
