import Foundation
import Mustache

/// A network's rule for turning one alert type into a ticket: the target table and how each
/// field is filled.
public struct AlertMapping: Sendable, Equatable {
    public var table: String
    public var fields: [String: FieldRule]
    /// Alerts of this mapping that share an incident, if any.
    public var grouping: AlertGrouping?

    public init(table: String = "incident", fields: [String: FieldRule], grouping: AlertGrouping? = nil) {
        self.table = table
        self.fields = fields
        self.grouping = grouping
    }

    /// The group `event` joins or opens: nil without grouping, or when its key renders empty.
    public func groupClaim(for event: AlertEvent) -> GroupClaim? {
        guard let grouping, let key = grouping.renderKey(event) else { return nil }
        return GroupClaim(key: key, window: grouping.window, resolve: grouping.resolve)
    }

    /// Reads a fields file (`{"short_description": "{{alert.title}}", "impact": {"from": …}}`) and
    /// checks it.
    public static func parse(table: String = "incident", fieldsJSON: Data) throws(MappingError) -> AlertMapping {
        let fields: [String: FieldRule]
        do {
            fields = try JSONDecoder().decode([String: FieldRule].self, from: fieldsJSON)
        } catch {
            throw MappingError(field: nil, reason: "the fields file is not a JSON object of strings and {\"from\",\"map\",\"default\"} lookups")
        }
        let mapping = AlertMapping(table: table, fields: fields)
        try mapping.validate()
        return mapping
    }

    /// Fields the worker sets itself; a mapping may not override them.
    public static let reservedFields: Set<String> = ["correlation_id", "correlation_display", "number", "state", "sys_id"]

    /// Checks table and field names, template syntax and variables, and lookups.
    public func validate() throws(MappingError) {
        guard Self.isIdentifier(table) else {
            throw MappingError(field: nil, reason: "table '\(table)' is not a table name (letters, digits, _)")
        }
        guard !fields.isEmpty else { throw MappingError(field: nil, reason: "the mapping sets no fields") }
        try grouping?.validate()
        for (name, rule) in fields.sorted(by: { $0.key < $1.key }) {
            guard Self.isIdentifier(name) else {
                throw MappingError(field: name, reason: "'\(name)' is not a field name (lowercase letters, digits, _)")
            }
            guard !Self.reservedFields.contains(name) && !name.hasPrefix("sys_") else {
                throw MappingError(field: name, reason: "\(name) is set by the worker and cannot be mapped")
            }
            switch rule {
            case .template(let text):
                try TemplateCheck.check(text, field: name)
            case .lookup(let from, let map, let fallback):
                guard TemplateCheck.isKnownVariable(from) else {
                    throw MappingError(field: name, reason: "lookup source '\(from)' is not an alert variable (\(TemplateCheck.variableList))")
                }
                guard !map.isEmpty || fallback != nil else {
                    throw MappingError(field: name, reason: "the lookup has neither entries nor a default, so it can never yield a value")
                }
            case .recordLookup(let lookup):
                try lookup.validate(field: name)
            }
        }
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 80, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// The fields bound to an instance's record, with `event`'s values to find it by.
    public func recordLookups(_ event: AlertEvent) -> [String: RecordLookup.Request] {
        var requests: [String: RecordLookup.Request] = [:]
        for (name, rule) in fields {
            if case .recordLookup(let lookup) = rule { requests[name] = lookup.request(for: event) }
        }
        return requests
    }

    /// The ticket fields for `event`. Empty values are left out, so optional fields an alert
    /// lacks do not blank anything on the instance.
    public func render(_ event: AlertEvent) -> [String: String] {
        let context = TemplateContext.make(event)
        var payload: [String: String] = [:]
        for (name, rule) in fields {
            let value: String?
            switch rule {
            case .template(let text):
                value = TemplateCheck.render(text, context: context)
            case .lookup(let from, let map, let fallback):
                let key = TemplateContext.value(of: from, in: event)
                value = key.flatMap { map[$0] } ?? fallback
            case .recordLookup:
                // Bound by the instance when the payload is prepared (see recordLookups).
                value = nil
            }
            // Blank is what `trimmingCharacters(in: .whitespacesAndNewlines)` empties: Unicode's
            // white space and, in Foundation's set, the zero-width space. Asked without building
            // the trimmed copy through `NSString`.
            if let value, value.unicodeScalars.contains(where: { !$0.properties.isWhitespace && $0 != "\u{200B}" }) {
                payload[name] = value
            }
        }
        return payload
    }
}
