import Foundation

/// Numbers an instance sends (headers, token lifetimes) are untrusted: they can be absent,
/// negative, fractional, `nan`, `1e300` or not numbers at all. Each is read into a range the
/// worker can live with; converting one unchecked (`Int64(seconds * 1000)`) traps and takes down
/// the worker that serves every customer.
enum UntrustedNumber {
    /// A finite number of seconds from `text`, clamped to `range`; nil when `text` is not one.
    static func seconds(_ text: String?, within range: ClosedRange<Duration>) -> Duration? {
        guard let text, text.utf8.count <= 40, let value = Double(text.trimmingCharacters(in: .whitespaces)) else { return nil }
        return seconds(value, within: range)
    }

    /// `value` seconds clamped to `range`; nil for `nan` and infinities.
    static func seconds(_ value: Double, within range: ClosedRange<Duration>) -> Duration? {
        guard value.isFinite else { return nil }
        let lower = Double(range.lowerBound.milliseconds) / 1000
        let upper = Double(range.upperBound.milliseconds) / 1000
        let clamped = min(max(value, lower), upper)
        // Within the range's bounds the conversion cannot overflow.
        return .milliseconds(Int64((clamped * 1000).rounded()))
    }

    /// A whole number from `text` within `range`; nil when it is not one or lies outside.
    static func count(_ text: String?, within range: ClosedRange<Int>) -> Int? {
        guard let text, text.utf8.count <= 20, let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else { return nil }
        return value
    }
}
