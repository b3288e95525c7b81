/// JSON written by hand, for what the worker writes for every alert: its ticket event and its log
/// line. `JSONEncoder` goes through `Encodable`'s boxed containers and sorts the keys of every
/// object; for the ticket event that was about 2 % of the worker's CPU in scenario 1.
///
/// An object's fields are written in the order they are given: callers give them sorted by their
/// bytes, the order `JSONEncoder`'s `.sortedKeys` wrote and tests compare against.
public struct JSONObjectText: Sendable {
    public private(set) var text = "{"
    private var empty = true

    public init() {}

    /// A string field; nothing for nil (as `encodeIfPresent` leaves it out).
    public mutating func field(_ key: String, _ value: String?) {
        guard let value else { return }
        start(key)
        JSONObjectText.appendQuoted(value, to: &text)
    }

    public mutating func field(_ key: String, _ value: Int) {
        start(key)
        text.append(String(value))
    }

    public mutating func field(_ key: String, _ values: [String]) {
        start(key)
        text.append("[")
        for (index, value) in values.enumerated() {
            if index > 0 { text.append(",") }
            JSONObjectText.appendQuoted(value, to: &text)
        }
        text.append("]")
    }

    /// A nested object; nothing for nil.
    public mutating func field(_ key: String, _ object: JSONObjectText?) {
        guard let object else { return }
        start(key)
        text.append(object.finished)
    }

    public var finished: String { text + "}" }

    private mutating func start(_ key: String) {
        if !empty { text.append(",") }
        empty = false
        JSONObjectText.appendQuoted(key, to: &text)
        text.append(":")
    }

    /// A JSON string: quotes, backslashes and control characters escaped (RFC 8259), the rest
    /// (slashes too) as it is.
    public static func appendQuoted(_ value: String, to text: inout String) {
        text.append("\"")
        if value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": text.append("\\\"")
                case "\\": text.append("\\\\")
                case "\n": text.append("\\n")
                case "\r": text.append("\\r")
                case "\t": text.append("\\t")
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    text.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                default: text.unicodeScalars.append(scalar)
                }
            }
        } else {
            text.append(value)
        }
        text.append("\"")
    }
}
