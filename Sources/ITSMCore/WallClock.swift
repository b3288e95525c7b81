import Foundation

/// Where the rules read the time of day. Injected so that the rules that depend on it (the
/// reopen window, claim expiry, newest-status-wins) are tested by moving a clock, not by waiting.
public protocol WallClock: Sendable {
    var now: Date { get }
}
