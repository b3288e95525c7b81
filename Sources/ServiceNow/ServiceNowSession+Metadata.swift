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
