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

/// One value of a choice list, from `sys_choice`.
public struct ServiceNowChoice: Sendable, Hashable, Codable {
    public var value: String
    public var label: String
    /// For dependent lists (`subcategory` on `category`): the controlling value.
    public var dependentValue: String?

    public init(value: String, label: String, dependentValue: String? = nil) {
        self.value = value
        self.label = label
        self.dependentValue = dependentValue
    }
}

extension ServiceNowSession {
    /// Whether `sys_db_object` has the table.
    public func tableExists(_ table: String) async throws(ServiceNowError) -> Bool {
        try Self.checkName(table, "table")
        let page = try await queryPage(table: "sys_db_object", ServiceNowQuery("name=\(table)", fields: ["sys_id", "name", "super_class"], pageSize: 1))
        return !page.records.isEmpty
    }

    /// The columns of a table, including those it inherits from `task` (for `incident`) or from
    /// the parents named in `parents`.
    public func fields(table: String, parents: [String]? = nil) async throws(ServiceNowError) -> [ServiceNowField] {
        try Self.checkName(table, "table")
        let chain = [table] + (parents ?? (table == "incident" || table == "problem" || table == "change_request" ? ["task"] : []))
        for name in chain { try Self.checkName(name, "table") }
        let query = chain.map { "name=\($0)" }.joined(separator: "^OR") + "^elementISNOTEMPTY^ORDERBYelement"
        let records = try await queryAll(table: "sys_dictionary", ServiceNowQuery(
            query, fields: ["name", "element", "column_label", "internal_type", "max_length", "mandatory", "reference"], pageSize: 1000))
        var byName: [String: ServiceNowField] = [:]
        for record in records {
            guard let element = record["element"], !element.isEmpty else { continue }
            let definedOn = record["name"] ?? table
            // A column defined on the table itself overrides the inherited definition.
            if let existing = byName[element], existing.definedOn == table && definedOn != table { continue }
            byName[element] = ServiceNowField(
                name: element, label: record["column_label"] ?? element, type: record["internal_type"] ?? "string",
                maxLength: record["max_length"].flatMap(Int.init), mandatory: record["mandatory"] == "true",
                reference: record["reference"].flatMap { $0.isEmpty ? nil : $0 }, definedOn: definedOn)
        }
        return byName.values.sorted { $0.name < $1.name }
    }

    /// The active choices of a field (`close_code`, `category`, `state`, …).
    public func choices(table: String, field: String) async throws(ServiceNowError) -> [ServiceNowChoice] {
        try Self.checkName(table, "table")
        try Self.checkName(field, "field")
        let records = try await queryAll(table: "sys_choice", ServiceNowQuery(
            "name=\(table)^element=\(field)^inactive=false^ORDERBYsequence",
            fields: ["value", "label", "dependent_value"], pageSize: 1000))
        return records.map { ServiceNowChoice(value: $0["value"] ?? "", label: $0["label"] ?? "", dependentValue: $0["dependent_value"].flatMap { $0.isEmpty ? nil : $0 }) }
    }
}
