import Foundation
import NIOHTTP1
import PropertyBased
@testable import ServiceNow
import Testing
import TestSupport

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

    static func record(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\($0.0):\($0.1)" }.joined(separator: ",") + "}"
    }

    static func response(_ body: String) -> ServiceNowClient.Response {
        ServiceNowClient.Response(status: 200, headers: HTTPHeaders(), body: Data(body.utf8))
    }

    @Test func readsOneRecordAsDecodableDoes() async {
        let wrappers = [#"{"result":%@}"#, #"{"result":%@,"extra":[1,2]}"#, #"{"other":%@}"#, #"[%@]"#, #"{"result":%@} x"#, "%@"]
        await propertyCheck(count: 5_000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = SplitMix(seed: UInt64(seed))
            let body = wrappers[random.next(below: wrappers.count)].replacingOccurrences(of: "%@", with: random.record())
            let decoded = try? JSONDecoder().decode(One.self, from: Data(body.utf8)).result
            let read = try? ServiceNowSession.record(in: Self.response(body))
            #expect(read == decoded, "\(body)")
        }
    }

    @Test func readsListsAsDecodableDoes() async {
        await propertyCheck(count: 3_000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = SplitMix(seed: UInt64(seed))
            let elements = (0..<random.next(below: 5)).map { _ in random.next(below: 4) == 0 ? Self.values[random.next(below: Self.values.count)] : random.record() }
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

extension SplitMix {
    /// A record of up to six names and values, some of them broken.
    mutating func record() -> String {
        AnswerReadingTests.record((0..<next(below: 7)).map { _ in
            (AnswerReadingTests.names[next(below: AnswerReadingTests.names.count)],
             AnswerReadingTests.values[next(below: AnswerReadingTests.values.count)])
        })
    }
}
