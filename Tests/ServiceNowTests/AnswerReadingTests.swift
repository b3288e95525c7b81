import Foundation
import NIOHTTP1
import PropertyBased
@testable import ServiceNow
import Testing

/// Table API answers are read without `JSONDecoder`; whatever an instance sends, the worker must
/// read the records `ServiceNowRecord`'s `Decodable` reads, and refuse what it refuses.
struct AnswerReadingTests {
    private struct One: Decodable { let result: ServiceNowRecord }
    private struct Many: Decodable { let result: [ServiceNowRecord] }

    static let values = [
        #""text""#, #""""#, #""é \"q\" \\ \u00e9 😀""#, "null", "true", "false", "0", "95", "97.2", "-1e3", "1e20", "1.5e-7",
        #"{"value":"abc","link":"https://x/abc"}"#, #"{"display_value":"In Progress","value":"2"}"#, #"{"value":null}"#, "{}",
        #"{"value":1}"#, #"{"value":"a","extra":{"x":1}}"#, "[]", #"["a"]"#, "[1", "tru", #""open"#,
    ]
    static let names = [#""sys_id""#, #""number""#, #""state""#, #""u_x""#, #""""#, #""sys_id""#]

    /// SplitMix64, so that a failing seed reproduces.
    struct Seeded {
        var state: UInt64
        init(_ seed: Int) { state = UInt64(seed) }
        mutating func below(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
        mutating func record() -> String {
            Self.record((0..<below(7)).map { _ in (AnswerReadingTests.names[below(AnswerReadingTests.names.count)],
                                                   AnswerReadingTests.values[below(AnswerReadingTests.values.count)]) })
        }
        static func record(_ pairs: [(String, String)]) -> String {
            "{" + pairs.map { "\($0.0):\($0.1)" }.joined(separator: ",") + "}"
        }
    }

    static func response(_ body: String) -> ServiceNowClient.Response {
        ServiceNowClient.Response(status: 200, headers: HTTPHeaders(), body: Data(body.utf8))
    }

    @Test func readsOneRecordAsDecodableDoes() async {
        let wrappers = [#"{"result":%@}"#, #"{"result":%@,"extra":[1,2]}"#, #"{"other":%@}"#, #"[%@]"#, #"{"result":%@} x"#, "%@"]
        await propertyCheck(count: 5_000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = Seeded(seed)
            let body = wrappers[random.below(wrappers.count)].replacingOccurrences(of: "%@", with: random.record())
            let decoded = try? JSONDecoder().decode(One.self, from: Data(body.utf8)).result
            let read = try? ServiceNowSession.record(in: Self.response(body))
            #expect(read == decoded, "\(body)")
        }
    }

    @Test func readsListsAsDecodableDoes() async {
        await propertyCheck(count: 3_000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = Seeded(seed)
            let elements = (0..<random.below(5)).map { _ in random.below(4) == 0 ? Self.values[random.below(Self.values.count)] : random.record() }
            let body = #"{"result":[\#(elements.joined(separator: ","))]}"#
            let decoded = try? JSONDecoder().decode(Many.self, from: Data(body.utf8)).result
            let read = try? ServiceNowSession.records(in: Self.response(body))
            #expect(read == decoded, "\(body)")
        }
    }

    @Test func aRefusalSaysTheAnswerIsNotTheExpectedJSON() {
        #expect {
            try ServiceNowSession.record(in: Self.response(#"{"result":[]}"#))
        } throws: { error in
            let error = error as? ServiceNowError
            return error?.kind == .invalidResponse && error?.message?.hasPrefix("the answer is not the expected JSON") == true
        }
    }
}
