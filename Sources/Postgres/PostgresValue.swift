import Foundation

/// A query parameter. Values travel in PostgreSQL's text form with their type left for the
/// server to infer from the statement (write a cast, `$1::jsonb`, where it cannot).
public enum PostgresValue: Sendable, Hashable {
    case null
    case text(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case timestamp(Date)
    case uuid(UUID)
    case bytea([UInt8])
    /// JSON text, for `json`/`jsonb` columns.
    case json(String)

    /// The text form sent to the server, or `nil` for SQL NULL.
    var textForm: String? {
        switch self {
        case .null: return nil
        case .text(let s), .json(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        case .timestamp(let date): return PostgresTimestamp.format(date)
        case .uuid(let uuid): return uuid.uuidString.lowercased()
        case .bytea(let bytes):
            var hex = "\\x"
            hex.reserveCapacity(2 + bytes.count * 2)
            for byte in bytes {
                hex.append(PostgresValue.hexDigits[Int(byte >> 4)])
                hex.append(PostgresValue.hexDigits[Int(byte & 0x0f)])
            }
            return hex
        }
    }

    private static let hexDigits = Array("0123456789abcdef")

    /// `.text(value)` or `.null`.
    public static func text(_ value: String?) -> PostgresValue { value.map(PostgresValue.text) ?? .null }
    /// `.int(value)` or `.null`.
    public static func int(_ value: Int?) -> PostgresValue { value.map(PostgresValue.int) ?? .null }
    /// `.timestamp(value)` or `.null`.
    public static func timestamp(_ value: Date?) -> PostgresValue { value.map(PostgresValue.timestamp) ?? .null }
    /// An array literal for a `$n::text[]` (or `::int[]`, …) parameter: every element quoted,
    /// `"` and `\\` escaped, `nil` as NULL. For batches sent as one `unnest(…)` statement.
    public static func array(_ values: [String?]) -> PostgresValue {
        // Byte by byte: `"` and `\` never occur inside a multi-byte UTF-8 sequence.
        var literal: [UInt8] = []
        literal.reserveCapacity(values.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        literal.append(UInt8(ascii: "{"))
        for (index, value) in values.enumerated() {
            if index > 0 { literal.append(UInt8(ascii: ",")) }
            guard let value else { literal.append(contentsOf: "NULL".utf8); continue }
            literal.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { literal.append(UInt8(ascii: "\\")) }
                literal.append(byte)
            }
            literal.append(UInt8(ascii: "\""))
        }
        literal.append(UInt8(ascii: "}"))
        return .text(String(decoding: literal, as: UTF8.self))
    }

    /// JSON-encodes `value` for a `jsonb` parameter.
    public static func jsonEncoded(_ value: some Encodable) throws -> PostgresValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return .json(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}
