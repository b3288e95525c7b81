/// A column of a table, from `sys_dictionary`.
public struct ServiceNowField: Sendable, Hashable, Codable {
    public var name: String
    public var label: String
    /// `internal_type`: `string`, `integer`, `reference`, `journal_input`, `glide_date_time`, …
    public var type: String
    public var maxLength: Int?
    public var mandatory: Bool
    /// For references, the table referred to.
    public var reference: String?
    /// The table that defines the column (`task` for inherited ones).
    public var definedOn: String
    public var choices: [ServiceNowChoice]

    public init(name: String, label: String, type: String, maxLength: Int?, mandatory: Bool, reference: String?, definedOn: String, choices: [ServiceNowChoice] = []) {
        self.name = name
        self.label = label
        self.type = type
        self.maxLength = maxLength
        self.mandatory = mandatory
        self.reference = reference
        self.definedOn = definedOn
        self.choices = choices
    }
}
