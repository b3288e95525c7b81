import Caching
import Foundation
import Mustache

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
        // Plain text (a group name, a category) is itself: no template to look up or run.
        guard text.utf8.contains(UInt8(ascii: "{")), let template = try? parse(text) else { return text }
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
