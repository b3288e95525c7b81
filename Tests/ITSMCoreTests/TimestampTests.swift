import Foundation
@testable import ITSMCore
import PropertyBased
import Testing
import TestSupport

/// Timestamps in their common form are read and written by arithmetic; every answer must be the
/// one Foundation's ISO 8601 format style gives, which decided before.
@Suite struct TimestampTests {
    static let plain = Date.ISO8601FormatStyle()
    static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// `value` in `count` digits, zeros first.
    static func padded(_ value: Int, _ count: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, count - text.count)) + text
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
            var random = SplitMix(seed: UInt64(seed))
            let interval: Double
            switch random.next(below: 4) {
            case 0: interval = Double(random.next(below: 9_000_000_000 * 86_400 / 365 / 24)) - 1e9 // whole seconds, 1969–2286
            case 1: interval = Double(random.next(below: 2_000_000_000)) + Double(random.next(below: 1000)) / 1000 // exact milliseconds
            case 2: interval = Double(random.next(below: 1 << 53)) / Double(1 << 53) * 252_000_000_000 - 1e8 // up to year 9986
            default: interval = Date().timeIntervalSinceReferenceDate + Double(random.next(below: 2_000_000_000)) / 1000 - 1e6
            }
            let date = Date(timeIntervalSinceReferenceDate: interval)
            #expect(AlertEvent.formatTimestamp(date) == Self.fractional.format(date), "\(interval)")
        }
    }

    @Test func readsWhatTheFormatStyleReads() async {
        await propertyCheck(count: 20_000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = SplitMix(seed: UInt64(seed))
            let year = random.next(below: 4) == 0 ? 1950 + random.next(below: 60) : 2001 + random.next(below: 7_999)
            // Mostly valid fields, sometimes just out of range (month 13, the 31st of April, hour 24, second 60).
            let month = random.next(below: 10) == 0 ? random.next(below: 14) : 1 + random.next(below: 12)
            let day = random.next(below: 10) == 0 ? random.next(below: 33) : 1 + random.next(below: 28) + (random.next(below: 3) == 0 ? 3 : 0)
            let hour = random.next(below: 20) == 0 ? 24 : random.next(below: 24)
            let minute = random.next(below: 20) == 0 ? 60 : random.next(below: 60)
            let second = random.next(below: 20) == 0 ? 60 : random.next(below: 60)
            let fractionDigits = random.next(below: 13)
            let fraction = fractionDigits == 0 ? "" : "." + (0..<fractionDigits).map { _ in String(random.next(below: 10)) }.joined()
            let separators = [("-", "T", "Z"), ("-", "t", "z"), ("-", " ", "Z"), ("-", "T", "+00:00"), ("/", "T", "Z"), ("-", "T", "")]
            let (dash, middle, zone) = random.next(below: 4) == 0 ? separators[random.next(below: separators.count)] : separators[0]
            let text = Self.padded(year, 4) + dash + Self.padded(month, 2) + dash + Self.padded(day, 2) + middle
                + Self.padded(hour, 2) + ":" + Self.padded(minute, 2) + ":" + Self.padded(second, 2) + fraction + zone
            let expected = (try? Self.plain.parse(text)) ?? (try? Self.fractional.parse(text))
            #expect(AlertEvent.parseTimestamp(text) == expected, "\(text)")
        }
    }
}
