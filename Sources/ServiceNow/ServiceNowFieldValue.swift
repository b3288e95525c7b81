import Foundation
import JSONText

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
        if let number = try? container.decode(Double.self) { self.init(value: Self.text(of: number)); return }
        let object = try container.decode([String: String?].self)
        self.init(value: (object["value"] ?? nil) ?? "", displayValue: object["display_value"] ?? nil, link: object["link"] ?? nil)
    }

    /// What `init(from:)` reads, from a value already parsed; nil where it throws (an array, or
    /// an object with a member that is neither text nor null).
    init?(json: JSONValue) {
        switch json {
        case .null: self.init(value: "")
        case .string(let text): self.init(value: text)
        case .bool(let flag): self.init(value: String(flag))
        case .number(let number): self.init(value: Self.text(of: number))
        case .object(let members):
            var texts: [String: String] = [:]
            for (key, member) in members {
                switch member {
                case .string(let text): texts[key] = text
                case .null: continue
                default: return nil
                }
            }
            self.init(value: texts["value"] ?? "", displayValue: texts["display_value"], link: texts["link"])
        case .array: return nil
        }
    }

    /// 95 rather than 95.0.
    private static func text(of number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
