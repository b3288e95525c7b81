import Foundation
@testable import ITSMCore
import PropertyBased
import Testing

/// Timestamps in their common form are read and written by arithmetic; every answer must be the
/// one Foundation's ISO 8601 format style gives, which decided before.
@Suite struct TimestampTests {
    static let plain = Date.ISO8601FormatStyle()
    static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

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
        mutating func digits(_ value: Int, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
    }

    @Test func theCommonFormTakesTheFastPath() throws {
        let date = try #require(Timestamps.parseCommonForm("2026-11-29T03:00:00.123Z"))
        #expect(date == (try Self.fractional.parse("2026-11-29T03:00:00.123Z")))
        #expect(Timestamps.formatCommonForm(date) == "2026-11-29T03:00:00.123Z")
        #expect(Timestamps.parseCommonForm("2026-11-29T03:00:00Z") != nil)
        #expect(Timestamps.parseCommonForm("2026-11-29T03:00:00+00:00") == nil)
        #expect(Timestamps.parseCommonForm("1969-12-31T23:59:59Z") == nil)
    }

    @Test func writesWhatTheFormatStyleWrites() async {
        await propertyCheck(count: 20_000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = Seeded(seed)
            let interval: Double
            switch random.below(4) {
            case 0: interval = Double(random.below(9_000_000_000 * 86_400 / 365 / 24)) - 1e9 // whole seconds, 1969–2286
            case 1: interval = Double(random.below(2_000_000_000)) + Double(random.below(1000)) / 1000 // exact milliseconds
            case 2: interval = Double(random.below(1 << 53)) / Double(1 << 53) * 252_000_000_000 - 1e8 // up to year 9986
            default: interval = Date().timeIntervalSinceReferenceDate + Double(random.below(2_000_000_000)) / 1000 - 1e6
            }
            let date = Date(timeIntervalSinceReferenceDate: interval)
            #expect(AlertEvent.formatTimestamp(date) == Self.fractional.format(date), "\(interval)")
        }
    }

    @Test func readsWhatTheFormatStyleReads() async {
        await propertyCheck(count: 20_000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = Seeded(seed)
            let year = random.below(4) == 0 ? 1950 + random.below(60) : 2001 + random.below(7_999)
            // Mostly valid fields, sometimes just out of range (month 13, the 31st of April, hour 24, second 60).
            let month = random.below(10) == 0 ? random.below(14) : 1 + random.below(12)
            let day = random.below(10) == 0 ? random.below(33) : 1 + random.below(28) + (random.below(3) == 0 ? 3 : 0)
            let hour = random.below(20) == 0 ? 24 : random.below(24)
            let minute = random.below(20) == 0 ? 60 : random.below(60)
            let second = random.below(20) == 0 ? 60 : random.below(60)
            let fractionDigits = random.below(13)
            let fraction = fractionDigits == 0 ? "" : "." + (0..<fractionDigits).map { _ in String(random.below(10)) }.joined()
            let separators = [("-", "T", "Z"), ("-", "t", "z"), ("-", " ", "Z"), ("-", "T", "+00:00"), ("/", "T", "Z"), ("-", "T", "")]
            let (dash, middle, zone) = random.below(4) == 0 ? separators[random.below(separators.count)] : separators[0]
            let text = random.digits(year, 4) + dash + random.digits(month, 2) + dash + random.digits(day, 2) + middle
                + random.digits(hour, 2) + ":" + random.digits(minute, 2) + ":" + random.digits(second, 2) + fraction + zone
            let expected = (try? Self.plain.parse(text)) ?? (try? Self.fractional.parse(text))
            #expect(AlertEvent.parseTimestamp(text) == expected, "\(text)")
        }
    }
}
