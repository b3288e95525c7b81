import Foundation

/// ServiceNow's timestamps: `2026-11-29 03:00:00`, UTC, one-second resolution. Strings of this
/// form sort as the times they name, which the sync's watermark relies on.
public enum InstanceTimestamp {
    public static func parse(_ text: String) -> Date? {
        try? style.parse(text)
    }

    public static func format(_ date: Date) -> String {
        style.format(date)
    }

    private static let style = Date.ISO8601FormatStyle(dateSeparator: .dash, dateTimeSeparator: .space, timeZone: .gmt)
        .year().month().day().time(includingFractionalSeconds: false)
}
