import Foundation
import ITSMCore
import JSONText
import PropertyBased
import Testing
import TestSupport

/// `JSONValue.parse` replaces `JSONDecoder` for reading messages: it must accept what
/// `JSONDecoder` accepts, refuse what it refuses, and read the same values.
struct JSONParsingTests {
    static func foundation(_ bytes: [UInt8]) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) }
    static func ours(_ bytes: [UInt8]) -> JSONValue? { try? JSONValue.parse(bytes) }

    /// Pieces of JSON, right and wrong, thrown together: mostly invalid documents, some valid.
    static let fragments: [[UInt8]] = [
        "{", "}", "[", "]", ":", ",", " ", "\n", "\t", "\"a\"", "\"b\"", "\"\"", "0", "-0", "12", "-3.5", "1e3", "2E-2", "6.02e+23",
        "1.", ".5", "01", "+1", "-", "1e", "1e400", "-1e400", "4.9e-324", "1e-310", "2.5e-308", "0e-999", "1.7976931348623157e308", "123456789012345678901234567890", "true", "false", "null", "tru", "nul",
        #""\n\t\"\\\/\b\f\r""#, #""\u00e9""#, #""\u0000""#, #""\ud83d\ude00""#, #""\ud83d""#, #""\ude00""#, #""\ud83dx""#, #""\u12""#,
        #""\x""#, "\"é\"", "\"\u{1}\"", "\"", "\\", "\u{FEFF}", "é", "\r",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22]]

    @Test func agreesWithJSONDecoderOnWhatItAcceptsAndReads() async {
        let input = Gen.element(of: Self.fragments).array(of: 1...10).map { $0.compactMap { $0 }.flatMap { $0 } }
        await propertyCheck(count: 20_000, input: input) { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(Self.ours(bytes) == Self.foundation(bytes), "\(text) \(bytes)")
        }
    }

    @Test func readsBackWhatJSONEncoderWrites() async {
        await propertyCheck(count: 2_000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = SplitMix(seed: UInt64(seed))
            let value = Self.tree(&random, depth: 0)
            let encoded = Array(try! JSONEncoder().encode(value))
            #expect(Self.ours(encoded) == value, "\(String(decoding: encoded, as: UTF8.self))")
            #expect(Self.foundation(encoded) == value)
        }
    }

    @Test func refusesNestingPastTheLimitAndNumbersPastDouble() throws {
        let deep = Array(String(repeating: "[", count: JSONValue.maximumDepth + 1).utf8) + Array(String(repeating: "]", count: JSONValue.maximumDepth + 1).utf8)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(deep) }
        let limit = Array(String(repeating: "[", count: JSONValue.maximumDepth).utf8) + Array(String(repeating: "]", count: JSONValue.maximumDepth).utf8)
        #expect(throws: Never.self) { try JSONValue.parse(limit) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array("[1e999]".utf8)) }
        let twice = Array(#"{"a": 1, "b": {"a": "x", "a": "y"}, "a": [2]}"#.utf8)
        #expect(Self.ours(twice) == .object(["a": .number(1), "b": .object(["a": .string("x")])]))
        #expect(Self.ours(twice) == Self.foundation(twice), "a name given twice")
        #expect(try JSONValue.parse(Array(#" {"a": [1, -2.5e1, "x\u00e9\ud83d\ude00", true, null]} "#.utf8))
                == .object(["a": .array([.number(1), .number(-25), .string("xé😀"), .bool(true), .null])]))
    }

    static func tree(_ random: inout SplitMix, depth: Int) -> JSONValue {
        let scalars: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\u{0}", "\u{1F}", "é", "€", "😀", "\u{FFFF}"]
        func text() -> String {
            String(String.UnicodeScalarView((0..<random.next(below: 8)).map { _ in scalars[random.next(below: scalars.count)] }))
        }
        switch random.next(below: depth > 4 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(random.next(below: 2) == 0)
        case 2: return .number(Double(Int(random.next(below: 2_000_001)) - 1_000_000) / [1, 10, 1000, 1e-5][random.next(below: 4)])
        case 3, 4: return .string(text())
        case 5: return .array((0..<random.next(below: 5)).map { _ in tree(&random, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<random.next(below: 5) { members[text()] = tree(&random, depth: depth + 1) }
            return .object(members)
        }
    }
}

