import Foundation

extension SimulatorStore {
    // MARK: - Records

    static func seed(into tables: inout [String: [String: [String: String]]], order: inout [String: [String]]) {
        func insert(_ table: String, _ record: [String: String]) {
            var record = record
            let id = record["sys_id"] ?? newSysID()
            record["sys_id"] = id
            tables[table, default: [:]][id] = record
            order[table, default: []].append(id)
        }
        for table in SimulatorMetadata.tables {
            insert("sys_db_object", ["name": table, "label": table, "super_class": table == "incident" ? "task" : "",
                                     "ws_access": "true", "read_access": "true", "create_access": "false", "update_access": "false"])
            tables[table] = tables[table] ?? [:]
        }
        for column in SimulatorMetadata.columns {
            insert("sys_dictionary", [
                "name": column.table, "element": column.element, "column_label": column.label, "internal_type": column.type,
                "max_length": String(column.maxLength), "mandatory": String(column.mandatory), "reference": column.reference ?? "",
            ])
        }
        for (sequence, choice) in SimulatorMetadata.choices.enumerated() {
            insert("sys_choice", [
                "name": "incident", "element": choice.0, "value": choice.1, "label": choice.2, "dependent_value": choice.3 ?? "",
                "inactive": "false", "sequence": String(sequence),
            ])
        }
        for (table, name) in SimulatorMetadata.referenceRows {
            insert(table, ["name": name, "user_name": table == "sys_user" ? name : "", "active": "true"])
        }
        for (name, ip) in SimulatorMetadata.configurationItems {
            insert("cmdb_ci", ["name": name, "ip_address": ip, "active": "true"])
        }
    }

    static func newSysID() -> String {
        (0..<32).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
    }

    static func timestamp(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    func tableExists(_ table: String) -> Bool { tables[table] != nil }

    /// Columns the table has: dictionary columns for task tables, else whatever its rows carry.
    func knownFields(_ table: String) -> Set<String> {
        var fields: Set<String> = ["sys_id", "sys_created_on", "sys_updated_on", "sys_created_by", "sys_updated_by", "sys_mod_count"]
        if table == "incident" || table == "task" {
            for column in SimulatorMetadata.columns { fields.insert(column.element) }
        } else {
            for record in tables[table]?.values ?? [:].values { fields.formUnion(record.keys) }
        }
        return fields
    }

    func denied(_ table: String, _ operation: String) -> Bool {
        configuration.deniedOperations.contains("\(table).\(operation)")
    }

    func query(table: String, query: String) -> [[String: String]] {
        let parsed = EncodedQuery(query, knownFields: knownFields(table))
        var rows = records(table).filter { parsed.matches($0) }
        if table == "sys_db_object" {
            // Real instances commonly show the cross-scope flags create_access / update_access
            // false while the Table API works; only ws_access governs REST. A denial of
            // `<table>.web_service` turns that off.
            rows = rows.map { row in
                var row = row
                if denied(row["name"] ?? "", "web_service") { row["ws_access"] = "false" }
                return row
            }
        }
        parsed.sort(&rows)
        return rows
    }

    struct SimulatorRejection: Error {
        let status: Int
        let message: String
        let detail: String?
    }

    private static let journalFields: Set<String> = ["work_notes", "comments"]
    private static let droppedInvalidChoices: Set<String> = ["close_code", "impact", "urgency", "state", "hold_reason"]

    func createRecord(table: String, body: [String: String], user: String, inputDisplayValue: Bool) throws -> [String: String] {
        guard table == "incident" else {
            var record = body.filter { !$0.key.hasPrefix("sys_") }
            record["sys_id"] = Self.newSysID()
            return store(table, record, user: user, created: true)
        }
        let now = Self.timestamp(clock())
        var record: [String: String] = [
            "state": "1", "incident_state": "1", "impact": "3", "urgency": "3", "priority": "5", "active": "true",
            "reopen_count": "0", "opened_at": now, "close_code": "", "close_notes": "", "assignment_group": "",
            "short_description": "", "description": "", "category": "inquiry", "subcategory": "", "correlation_id": "",
            "correlation_display": "", "caller_id": "", "cmdb_ci": "", "business_service": "", "assigned_to": "",
            "service_offering": "", "hold_reason": "", "resolved_at": "", "closed_at": "", "work_notes": "", "comments": "",
        ]
        let (fields, journal) = try prepare(body, inputDisplayValue: inputDisplayValue)
        record.merge(fields) { _, new in new }
        try checkIncidentRules(&record, previousState: nil)
        numberCounters["incident", default: 10000] += 1
        record["number"] = String(format: "INC%07d", numberCounters["incident"]!)
        record["sys_id"] = Self.newSysID()
        let stored = store("incident", record, user: user, created: true)
        for (element, value) in journal { appendJournal(sysID: stored["sys_id"]!, element: element, value: value, user: user) }
        return stored
    }

    func applyUpdate(table: String, sysID: String, body: [String: String], user: String, inputDisplayValue: Bool) throws -> [String: String] {
        guard var record = tables[table]?[sysID] else {
            throw SimulatorRejection(status: 404, message: "No Record found", detail: "Record doesn't exist or ACL restricts the record retrieval")
        }
        guard table == "incident" else {
            record.merge(body.filter { !$0.key.hasPrefix("sys_") }) { _, new in new }
            return store(table, record, user: user, created: false)
        }
        let previousState = record["state"] ?? "1"
        if previousState == "7" || previousState == "8" {
            throw SimulatorRejection(status: 403, message: "Operation Failed", detail: "ACL Exception Update Failed due to security constraints")
        }
        let (fields, journal) = try prepare(body, inputDisplayValue: inputDisplayValue)
        let before = record
        record.merge(fields) { _, new in new }
        try checkIncidentRules(&record, previousState: previousState)
        if record == before && journal.isEmpty { return record }
        let stored = store("incident", record, user: user, created: false)
        for (element, value) in journal { appendJournal(sysID: sysID, element: element, value: value, user: user) }
        return stored
    }

    /// Drops unknown and system fields, silently drops values outside choice lists, resolves
    /// display names when asked, and separates journal entries.
    func prepare(_ body: [String: String], inputDisplayValue: Bool) throws -> ([String: String], [(String, String)]) {
        let known = knownFields("incident")
        var fields: [String: String] = [:]
        var journal: [(String, String)] = []
        for (name, value) in body.sorted(by: { $0.key < $1.key }) {
            guard known.contains(name), !name.hasPrefix("sys_"), name != "number" else { continue }
            if Self.journalFields.contains(name) {
                if !value.isEmpty { journal.append((name, value)) }
                continue
            }
            if Self.droppedInvalidChoices.contains(name), !value.isEmpty,
               !SimulatorMetadata.choices.contains(where: { $0.0 == name && $0.1 == value }) {
                continue
            }
            var value = value
            if let column = SimulatorMetadata.columns.first(where: { $0.element == name }), let reference = column.reference, !value.isEmpty {
                if configuration.rejectedAssignmentGroups.contains(value) && name == "assignment_group" {
                    throw SimulatorRejection(status: 403, message: "Operation Failed",
                                             detail: "Operation against file 'incident' was aborted by Business Rule 'Restrict assignment group^\(Self.ruleID)'. Business Rule Stack:Restrict assignment group")
                }
                if inputDisplayValue, tables[reference]?[value] == nil,
                   let match = records(reference).first(where: { $0["name"] == value }) {
                    value = match["sys_id"]!
                }
                if name == "assignment_group", let group = tables["sys_user_group"]?[value],
                   configuration.rejectedAssignmentGroups.contains(group["name"] ?? "") {
                    throw SimulatorRejection(status: 403, message: "Operation Failed",
                                             detail: "Operation against file 'incident' was aborted by Business Rule 'Restrict assignment group^\(Self.ruleID)'. Business Rule Stack:Restrict assignment group")
                }
            }
            fields[name] = value
        }
        return (fields, journal)
    }

    private static let ruleID = "8f3a0c1e2b4d6f8091a2b3c4d5e6f708"

    func checkIncidentRules(_ record: inout [String: String], previousState: String?) throws {
        let state = record["state"] ?? "1"
        record["incident_state"] = state
        if state == "6" && previousState != "6" {
            var missing: [String] = []
            if (record["close_code"] ?? "").isEmpty { missing.append("Resolution code") }
            if (record["close_notes"] ?? "").isEmpty { missing.append("Close notes") }
            if !missing.isEmpty {
                throw SimulatorRejection(status: 403, message: "Operation Failed",
                                         detail: "Data Policy Exception: \n\tThe following fields are mandatory: \(missing.joined(separator: ", "))")
            }
            record["resolved_at"] = Self.timestamp(clock())
        }
        if previousState == "6" && (state == "2" || state == "1") {
            record["reopen_count"] = String((Int(record["reopen_count"] ?? "0") ?? 0) + 1)
            record["resolved_at"] = ""
        }
        if state == "7" || state == "8" {
            record["active"] = "false"
            record["closed_at"] = Self.timestamp(clock())
        }
        let impact = Int(record["impact"] ?? "3") ?? 3
        let urgency = Int(record["urgency"] ?? "3") ?? 3
        record["priority"] = String(Self.priority(impact: impact, urgency: urgency))
    }

    static func priority(impact: Int, urgency: Int) -> Int {
        switch impact + urgency {
        case ...2: return 1
        case 3: return 2
        case 4: return 3
        case 5: return 4
        default: return 5
        }
    }

    func store(_ table: String, _ record: [String: String], user: String, created: Bool) -> [String: String] {
        var record = record
        let now = Self.timestamp(clock())
        if created {
            record["sys_created_on"] = now
            record["sys_created_by"] = user
            record["sys_mod_count"] = "0"
            insertionOrder[table, default: []].append(record["sys_id"]!)
        } else {
            record["sys_mod_count"] = String((Int(record["sys_mod_count"] ?? "0") ?? 0) + 1)
        }
        record["sys_updated_on"] = now
        record["sys_updated_by"] = user
        tables[table, default: [:]][record["sys_id"]!] = record
        return record
    }

    func appendJournal(sysID: String, element: String, value: String, user: String) {
        let entry = ["sys_id": Self.newSysID(), "element_id": sysID, "element": element, "name": "incident", "value": value,
                     "sys_created_by": user, "sys_created_on": Self.timestamp(clock())]
        tables["sys_journal_field", default: [:]][entry["sys_id"]!] = entry
        insertionOrder["sys_journal_field", default: []].append(entry["sys_id"]!)
    }

    @discardableResult
    public func deleteRecord(table: String, sysID: String) -> Bool {
        guard tables[table]?.removeValue(forKey: sysID) != nil else { return false }
        insertionOrder[table]?.removeAll { $0 == sysID }
        return true
    }

    /// Display value of a field: a reference's name or a choice's label.
    func displayValue(table: String, field: String, value: String) -> String {
        if let column = SimulatorMetadata.columns.first(where: { $0.element == field }), let reference = column.reference {
            return tables[reference]?[value]?["name"] ?? value
        }
        if table == "incident", let choice = SimulatorMetadata.choices.first(where: { $0.0 == field && $0.1 == value }) {
            return choice.2
        }
        return value
    }

    func referenceTable(field: String) -> String? {
        SimulatorMetadata.columns.first(where: { $0.element == field })?.reference
    }
}
