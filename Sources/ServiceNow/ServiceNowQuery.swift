import Foundation

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
