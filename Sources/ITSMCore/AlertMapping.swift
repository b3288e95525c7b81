import Caching
import Foundation
import Mustache
import Synchronization

/// How one field of a ticket is filled from an alert.
public enum FieldRule: Sendable, Equatable, Codable {
    /// A fixed value or a template over the alert: `"{{alert.title}} on {{alert.device.name}}"`.
    case template(String)
    /// A lookup: the value of `from` (e.g. `alert.severity`) looked up in `map`, else `default`.
    case lookup(from: String, map: [String: String], default: String?)

    private enum Keys: String, CodingKey { case from, map, `default` }

    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self = .template(text)
            return
        }
        let container = try decoder.container(keyedBy: Keys.self)
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
        }
    }
}

/// A network's rule for turning one alert type into a ticket: the target table and how each
/// field is filled.
public struct AlertMapping: Sendable, Equatable {
    public var table: String
    public var fields: [String: FieldRule]

    public init(table: String = "incident", fields: [String: FieldRule]) {
        self.table = table
        self.fields = fields
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
            }
        }
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 80, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
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
            }
            if let value, !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                payload[name] = value
            }
        }
        return payload
    }
}

/// A mapping that cannot be saved, and why.
public struct MappingError: Error, Equatable, CustomStringConvertible {
    public let field: String?
    public let reason: String

    public init(field: String?, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { field.map { "\($0): \(reason)" } ?? reason }
}

/// The variables templates may use, and the checks made when a mapping is saved.
enum TemplateCheck {
    static let variables: [String] = [
        "alert.id", "alert.type", "alert.severity", "alert.title", "alert.description", "alert.device.id",
        "alert.device.name", "alert.device.ip", "alert.value", "alert.threshold", "alert.url",
        "customer_id", "network_id", "event_id", "occurred_at",
    ]
    static let sections: Set<String> = ["alert", "alert.device", "alert.labels"]
    static var variableList: String { (variables + ["alert.labels.<name>"]).joined(separator: ", ") }

    static func isKnownVariable(_ name: String) -> Bool {
        variables.contains(name) || (name.hasPrefix("alert.labels.") && name.count > "alert.labels.".count)
    }

    /// Parsed templates by source: mappings render the same few templates for every alert.
    /// Bounded: templates come from stored mappings, but keep a runaway from growing forever.
    private static let parsed = BoundedCache<String, MustacheTemplate>(capacity: 10_000)

    /// Parses a template in text mode (no HTML escaping: ticket fields are plain text), once.
    static func parse(_ text: String) throws -> MustacheTemplate {
        if let template = parsed.value(for: text) { return template }
        let template = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + text)
        parsed.set(template, for: text)
        return template
    }

    static func render(_ text: String, context: [String: Any]) -> String {
        guard let template = try? parse(text) else { return text }
        return template.render(context)
    }

    static func check(_ text: String, field: String?) throws(MappingError) {
        do {
            _ = try parse(text)
        } catch {
            throw MappingError(field: field, reason: "the template does not parse: \(error)")
        }
        var depth = 0
        for tag in tags(in: text) {
            switch tag.sigil {
            case "!": continue
            case ">": throw MappingError(field: field, reason: "partials ({{> name}}) are not supported")
            case "=": throw MappingError(field: field, reason: "changing delimiters is not supported")
            case "#", "^":
                guard isKnownVariable(tag.name) || sections.contains(tag.name) else {
                    throw MappingError(field: field, reason: "unknown template variable '\(tag.name)' (known: \(variableList))")
                }
                depth += 1
            case "/":
                depth -= 1
            default:
                // Inside a section names are relative to it ({{#alert.device}}{{name}}{{/alert.device}}).
                if isKnownVariable(tag.name) || (depth > 0 && (tag.name == "." || tag.name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" })) {
                    continue
                }
                throw MappingError(field: field, reason: "unknown template variable '\(tag.name)' (known: \(variableList))")
            }
        }
    }

    struct Tag { let sigil: Character?; let name: String }

    static func tags(in text: String) -> [Tag] {
        var result: [Tag] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            var inner = rest[open.upperBound...]
            let triple = inner.first == "{"
            if triple { inner = inner.dropFirst() }
            guard let close = inner.range(of: triple ? "}}}" : "}}") else { break }
            var body = inner[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            var sigil: Character?
            if let first = body.first, "#^/&!>=%".contains(first) {
                sigil = first
                body = String(body.dropFirst()).trimmingCharacters(in: .whitespaces)
            }
            if sigil != "%" { result.append(Tag(sigil: sigil == "&" ? nil : sigil, name: body)) }
            rest = inner[close.upperBound...]
        }
        return result
    }
}

/// The values a template sees.
enum TemplateContext {
    static func make(_ event: AlertEvent) -> [String: Any] {
        var alert: [String: Any] = ["id": event.alert.id, "type": event.alert.type, "labels": event.alert.labels]
        alert["severity"] = event.alert.severity?.rawValue
        alert["title"] = event.alert.title
        alert["description"] = event.alert.description
        alert["url"] = event.alert.url
        alert["value"] = event.alert.value.map(format)
        alert["threshold"] = event.alert.threshold.map(format)
        if let device = event.alert.device {
            var values: [String: Any] = [:]
            values["id"] = device.id
            values["name"] = device.name
            values["ip"] = device.ip
            alert["device"] = values
        }
        return ["alert": alert, "customer_id": event.customerID, "network_id": event.networkID, "event_id": event.eventID,
                "occurred_at": AlertEvent.formatTimestamp(event.occurredAt)]
    }

    /// The text of one variable, for lookups.
    static func value(of path: String, in event: AlertEvent) -> String? {
        switch path {
        case "alert.id": return event.alert.id
        case "alert.type": return event.alert.type
        case "alert.severity": return event.alert.severity?.rawValue
        case "alert.title": return event.alert.title
        case "alert.description": return event.alert.description
        case "alert.device.id": return event.alert.device?.id
        case "alert.device.name": return event.alert.device?.name
        case "alert.device.ip": return event.alert.device?.ip
        case "alert.value": return event.alert.value.map(format)
        case "alert.threshold": return event.alert.threshold.map(format)
        case "alert.url": return event.alert.url
        case "customer_id": return event.customerID
        case "network_id": return event.networkID
        case "event_id": return event.eventID
        case "occurred_at": return AlertEvent.formatTimestamp(event.occurredAt)
        default:
            if path.hasPrefix("alert.labels.") { return event.alert.labels[String(path.dropFirst("alert.labels.".count))] }
            return nil
        }
    }

    /// 95 rather than 95.0; 97.2 as it is.
    static func format(_ number: Double) -> String {
        if number.rounded() == number && abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }
}

/// Plain-text templates outside mappings (close notes, work notes): same engine, no escaping.
public enum TextTemplate {
    /// Renders `template` over `context` (dictionaries, strings, arrays).
    public static func render(_ template: String, context: [String: Any]) -> String {
        TemplateCheck.render(template, context: context)
    }

    /// Checks that a template parses.
    public static func check(_ template: String) throws(MappingError) {
        do {
            _ = try TemplateCheck.parse(template)
        } catch {
            throw MappingError(field: nil, reason: "the template does not parse: \(error)")
        }
    }
}
