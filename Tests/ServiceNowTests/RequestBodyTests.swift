import Foundation
import PropertyBased
@testable import ServiceNow
import Testing

/// Request bodies are written without `JSONEncoder`; whatever the field values hold, the
/// instance must read back exactly the fields given.
struct RequestBodyTests {
    @Test func anyFieldValuesReadBackExactly() async throws {
        let pieces = ["a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "€", "😀", "\u{2028}", "{{x}}", "\\u0041"]
        let value = Gen.element(of: pieces).array(of: 0...12).map { $0.compactMap { $0 }.joined() }
        let names = ["short_description", "description", "impact", "u_custom_1", "assignment_group"]
        await propertyCheck(count: 3_000, input: value.array(of: 1...5)) { values in
            let fields = Dictionary(zip(names, values), uniquingKeysWith: { first, _ in first })
            let body = try ServiceNowSession.encode(fields)
            #expect(try JSONDecoder().decode([String: String].self, from: body) == fields)
            // Names in order, so that a body is the same from one run to the next.
            let text = String(decoding: body, as: UTF8.self)
            let positions = fields.keys.sorted().map { text.range(of: "\"\($0)\":")!.lowerBound }
            #expect(positions == positions.sorted())
        }
    }

    /// Query strings are escaped by hand: as Foundation escapes them, for any text.
    @Test func queryTextIsEscapedAsFoundationEscapesIt() async {
        var unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        unreserved.insert(charactersIn: "-._~")
        let pieces = ["a", "Z", "9", "-", ".", "_", "~", " ", "=", "&", "^", "%", "+", "/", "?", "#", "\"", "\u{0}", "\u{7F}", "é", "中", "😀", "ORDERBYsys_id"]
        let text = Gen.element(of: pieces).array(of: 0...10).map { $0.compactMap { $0 }.joined() }
        await propertyCheck(count: 3_000, input: text) { text in
            #expect(ServiceNowClient.formEncode(text) == text.addingPercentEncoding(withAllowedCharacters: unreserved))
        }
    }

    @Test func fieldNamesStayIdentifiers() {
        #expect(throws: ServiceNowError.self) { try ServiceNowSession.encode(["bad\"name": "x"]) }
        #expect(throws: ServiceNowError.self) { try ServiceNowSession.encode(["naïve": "x"]) }
        #expect(throws: ServiceNowError.self) { try ServiceNowSession.encode(["": "x"]) }
        #expect(throws: Never.self) { try ServiceNowSession.encode(["u_Field_9": "x"]) }
    }
}
