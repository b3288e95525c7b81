import Foundation

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
        if let number = try? container.decode(Double.self) {
            self.init(value: number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number))
            return
        }
        let object = try container.decode([String: String?].self)
        self.init(value: (object["value"] ?? nil) ?? "", displayValue: object["display_value"] ?? nil, link: object["link"] ?? nil)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
