/// JSON written by hand, for what the worker writes for every alert: the request body to
/// ServiceNow, the ticket event and the log line. `JSONEncoder` goes through `Encodable`'s boxed
/// containers and sorts the keys of every object; for the ticket event alone that was about 2 %
/// of the worker's CPU in scenario 1.
public enum JSONText {
    /// A JSON string (RFC 8259): quotes, backslashes and control characters escaped, the rest
    /// (slashes, and any Unicode) as its UTF-8.
    public static func appendQuoted(_ text: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): json.append(UInt8(ascii: "\\")); json.append(byte)
            case 0x0A: json.append(contentsOf: #"\n"#.utf8)
            case 0x0D: json.append(contentsOf: #"\r"#.utf8)
            case 0x09: json.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                json.append(contentsOf: #"\u00"#.utf8)
                json.append(hexDigit(byte >> 4))
                json.append(hexDigit(byte & 0x0F))
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }

    /// The same, onto text (a log line): as it is when nothing needs escaping, which is nearly always.
    public static func appendQuoted(_ text: String, to line: inout String) {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            line.append("\"")
            line.append(text)
            line.append("\"")
            return
        }
        var json: [UInt8] = []
        appendQuoted(text, to: &json)
        line.append(String(decoding: json, as: UTF8.self))
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}

/// An object written field by field, in the order given: callers give the keys sorted by their
/// bytes, the order `JSONEncoder`'s `.sortedKeys` wrote and subscribers' tests compare against.
public struct JSONObjectText: Sendable {
    public private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]

    public init() {}

    /// A string field; nothing for nil (as `encodeIfPresent` leaves it out).
    public mutating func field(_ key: String, _ value: String?) {
        guard let value else { return }
        start(key)
        JSONText.appendQuoted(value, to: &bytes)
    }

    public mutating func field(_ key: String, _ value: Int) {
        start(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func field(_ key: String, _ values: [String]) {
        start(key)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONText.appendQuoted(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A nested object; nothing for nil.
    public mutating func field(_ key: String, _ object: JSONObjectText?) {
        guard let object else { return }
        start(key)
        bytes.append(contentsOf: object.finished)
    }

    /// The object, closed.
    public var finished: [UInt8] { bytes + [UInt8(ascii: "}")] }

    private mutating func start(_ key: String) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        JSONText.appendQuoted(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }
}
