import Foundation
import JSONText

/// Reads typed fields out of a decoded JSON object, naming the path of what is wrong.
struct JSONReader {
    let object: [String: JSONValue]
    let path: String

    init(_ object: [String: JSONValue], path: String) {
        self.object = object
        self.path = path
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func present(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    func string(_ key: String) throws(AlertEventError) -> String {
        guard let value = present(key) else {
            throw AlertEventError(code: "missing_field", reason: "\(name(key)) is missing")
        }
        guard case .string(let text) = value else {
            throw AlertEventError(code: "wrong_type", reason: "\(name(key)) must be a string")
        }
        return text
    }

    func identifier(_ key: String) throws(AlertEventError) -> String {
        let text = try string(key)
        // Ids are nearly always ASCII, where blanks and length need no Unicode tables.
        let ascii = text.utf8.allSatisfy { $0 < 0x80 }
        let blank = ascii ? text.utf8.allSatisfy { $0 == 0x20 || $0 == 0x09 } : text.trimmingCharacters(in: .whitespaces).isEmpty
        guard !blank else {
            throw AlertEventError(code: "invalid_value", reason: "\(name(key)) is empty")
        }
        guard (ascii ? text.utf8.count : text.count) <= AlertEvent.maximumIDLength, text.utf8.count <= 4 * AlertEvent.maximumIDLength else {
            throw AlertEventError(code: "invalid_value", reason: "\(name(key)) is longer than \(AlertEvent.maximumIDLength) characters")
        }
        // Identifiers key tenants, database rows and ServiceNow queries: a NUL or another
        // control character could be cut or read differently by one of them and reach another
        // tenant's record.
        guard !AlertEvent.containsControlCharacters(text) else {
            throw AlertEventError(code: "invalid_value", reason: "\(name(key)) contains control characters")
        }
        return text
    }

    func optionalString(_ key: String) throws(AlertEventError) -> String? {
        guard let value = present(key) else { return nil }
        guard case .string(let text) = value else {
            throw AlertEventError(code: "wrong_type", reason: "\(name(key)) must be a string")
        }
        return text
    }

    func optionalNumber(_ key: String) throws(AlertEventError) -> Double? {
        guard let value = present(key) else { return nil }
        guard case .number(let number) = value else {
            throw AlertEventError(code: "wrong_type", reason: "\(name(key)) must be a number")
        }
        return number
    }

    func object(_ key: String) throws(AlertEventError) -> JSONReader {
        guard let value = present(key) else {
            throw AlertEventError(code: "missing_field", reason: "\(name(key)) is missing")
        }
        guard case .object(let nested) = value else {
            throw AlertEventError(code: "wrong_type", reason: "\(name(key)) must be an object")
        }
        return JSONReader(nested, path: name(key))
    }

    func optionalObject(_ key: String) throws(AlertEventError) -> JSONReader? {
        guard let value = present(key) else { return nil }
        guard case .object(let nested) = value else {
            throw AlertEventError(code: "wrong_type", reason: "\(name(key)) must be an object")
        }
        return JSONReader(nested, path: name(key))
    }
}
