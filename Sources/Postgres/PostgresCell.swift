import Foundation

/// One value of a row, in the server's text form, decoded on request.
public struct PostgresCell: Sendable {
    public let column: String
    /// The server's text form; `nil` for SQL NULL.
    public let text: String?
    let missing: Bool

    public var isNull: Bool { text == nil }

    private func raw(_ type: String) throws(PostgresError) -> String {
        guard !missing else { throw PostgresError(.decoding, message: "the result has no column '\(column)'") }
        guard let text else { throw PostgresError(.decoding, message: "column '\(column)' is NULL, expected \(type)") }
        return text
    }

    private func failure(_ type: String) -> PostgresError {
        PostgresError(.decoding, message: "column '\(column)' is not a valid \(type)")
    }

    public func string() throws(PostgresError) -> String { try raw("text") }

    public func int() throws(PostgresError) -> Int {
        guard let value = Int(try raw("integer")) else { throw failure("integer") }
        return value
    }

    public func double() throws(PostgresError) -> Double {
        guard let value = Double(try raw("number")) else { throw failure("number") }
        return value
    }

    public func bool() throws(PostgresError) -> Bool {
        switch try raw("boolean") {
        case "t", "true": return true
        case "f", "false": return false
        default: throw failure("boolean")
        }
    }

    /// A `timestamptz` (or `timestamp`, read as UTC).
    public func date() throws(PostgresError) -> Date {
        guard let date = PostgresTimestamp.parse(try raw("timestamp")) else { throw failure("timestamp") }
        return date
    }

    public func uuid() throws(PostgresError) -> UUID {
        guard let value = UUID(uuidString: try raw("uuid")) else { throw failure("uuid") }
        return value
    }

    /// A `bytea` in the server's hex output form (`\x…`, the default since PostgreSQL 9.0).
    public func bytes() throws(PostgresError) -> [UInt8] {
        let text = Array(try raw("bytea").utf8)
        guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x"), text.count % 2 == 0 else {
            throw failure("bytea")
        }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((text.count - 2) / 2)
        var index = 2
        while index < text.count {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { throw failure("bytea") }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    /// A `json`/`jsonb` value decoded as `T`.
    public func json<T: Decodable>(_ type: T.Type = T.self) throws(PostgresError) -> T {
        let text = try raw("json")
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw PostgresError(.decoding, message: "column '\(column)' does not hold a valid \(T.self): \(error)")
        }
    }

    // Optional forms: NULL reads as nil.
    public func optionalString() throws(PostgresError) -> String? { isNull && !missing ? nil : try string() }
    public func optionalInt() throws(PostgresError) -> Int? { isNull && !missing ? nil : try int() }
    public func optionalDate() throws(PostgresError) -> Date? { isNull && !missing ? nil : try date() }
    public func optionalBytes() throws(PostgresError) -> [UInt8]? { isNull && !missing ? nil : try bytes() }
}
