import Foundation
import Mustache

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
