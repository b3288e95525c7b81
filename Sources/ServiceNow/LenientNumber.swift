import Foundation

/// A JSON number, or a string holding one; anything else reads as nil instead of failing the
/// whole answer it is part of.
struct LenientNumber: Decodable, Sendable {
    let value: Double?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            value = number
        } else if let text = try? container.decode(String.self), text.utf8.count <= 40 {
            value = Double(text.trimmingCharacters(in: .whitespaces))
        } else {
            value = nil
        }
    }
}
