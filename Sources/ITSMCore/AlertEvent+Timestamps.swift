import Foundation

extension AlertEvent {
    /// RFC 3339 with or without fractional seconds.
    public static func parseTimestamp(_ text: String) -> Date? {
        Timestamps.parseCommonForm(text) ?? (try? plainTimestamp.parse(text)) ?? (try? fractionalTimestamp.parse(text))
    }

    /// `2026-11-29T03:00:00.123Z`
    public static func formatTimestamp(_ date: Date) -> String {
        Timestamps.formatCommonForm(date) ?? fractionalTimestamp.format(date)
    }

    // Format styles are values made once; an ISO8601DateFormatter built per call cost about
    // 100 µs (ICU setup), a quarter of the worker's CPU per alert.
    private static let plainTimestamp = Date.ISO8601FormatStyle()
    private static let fractionalTimestamp = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

/// The form nearly every timestamp has (`2026-11-29T03:00:00.123Z`, UTC), read and
/// written by arithmetic: each alert's `occurred_at` is read once and written three times (its
/// ticket event, its templates, its log line), and Foundation's format style took about 1 % of
/// the worker's CPU doing it. Both give exactly what the format style gives (tested over many
/// instants); anything else returns nil and is left to the format style.
enum Timestamps {
    /// Seconds from 1970 to Foundation's reference date, 2001-01-01.
    static let referenceOffset = 978_307_200
    /// 10000-01-01: four-digit years only.
    static let end = 253_402_300_800

    /// `YYYY-MM-DDTHH:MM:SS[.f…]Z`, one to nine digits of fraction, a valid date and time in
    /// 1970–9999.
    static func parseCommonForm(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            let count = bytes.count
            guard count >= 20, count <= 30, bytes[count - 1] == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
                  bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
            func number(_ from: Int, _ length: Int) -> Int? {
                var value = 0
                for index in from..<(from + length) {
                    let digit = Int(bytes[index]) - 48
                    guard digit >= 0, digit <= 9 else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                  let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                  year >= 1970, month >= 1, month <= 12, day >= 1, day <= daysIn(month: month, year: year),
                  hour < 24, minute < 60, second < 60 else { return nil }
            var nanoseconds = 0
            if count > 20 {
                let digits = count - 21
                guard bytes[19] == UInt8(ascii: "."), digits >= 1, let fraction = number(20, digits) else { return nil }
                nanoseconds = fraction
                for _ in digits..<9 { nanoseconds *= 10 }
            }
            // The time of day with its fraction first, then the day: the format style adds them in
            // this order, and the other order differs in the last bit now and then.
            let dayStart = days(year: year, month: month, day: day) * 86_400 - referenceOffset
            let timeOfDay = Double(hour * 3_600 + minute * 60 + second) + Double(nanoseconds) / 1e9
            return Date(timeIntervalSinceReferenceDate: Double(dayStart) + timeOfDay)
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds cut, not rounded, as the format style does), for
    /// instants in 2001–9999.
    static func formatCommonForm(_ date: Date) -> String? {
        let interval = date.timeIntervalSinceReferenceDate
        guard interval >= 0, interval < Double(end - referenceOffset) else { return nil }
        let whole = interval.rounded(.down)
        let milliseconds = Int(((interval - whole) * 1000).rounded(.down))
        guard milliseconds < 1000 else { return nil }
        let (day, secondOfDay) = (Int(whole) + referenceOffset).quotientAndRemainder(dividingBy: 86_400)
        let (year, month, dayOfMonth) = civil(day)
        var bytes = template
        func put(_ value: Int, at index: Int, digits: Int) {
            var value = value
            for offset in stride(from: digits - 1, through: 0, by: -1) {
                bytes[index + offset] = UInt8(48 + value % 10)
                value /= 10
            }
        }
        put(year, at: 0, digits: 4)
        put(month, at: 5, digits: 2)
        put(dayOfMonth, at: 8, digits: 2)
        put(secondOfDay / 3_600, at: 11, digits: 2)
        put(secondOfDay / 60 % 60, at: 14, digits: 2)
        put(secondOfDay % 60, at: 17, digits: 2)
        put(milliseconds, at: 20, digits: 3)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The written form with its separators in place; the digits are filled in.
    private static let template = Array("0000-00-00T00:00:00.000Z".utf8)

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (H. Hinnant's
    /// `days_from_civil`, for years from 1 on).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let year = month <= 2 ? year - 1 : year
        let era = year / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day since 1970-01-01 (`civil_from_days`, for days from 1970 on).
    static func civil(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
