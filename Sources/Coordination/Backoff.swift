/// How long to wait before the next try after consecutive failures: doubling from `initial` up to
/// `maximum`, each delay drawn at random from its upper half.
///
/// The jitter matters when many callers fail together (every worker losing the broker or the
/// database at once): without it they retry in lockstep and meet the recovering server as one
/// wave each time.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration, maximum: Duration) {
        precondition(initial > .zero && maximum >= initial, "a backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The longest delay after `failures` consecutive failures (1 for the first): `initial`
    /// doubled `failures - 1` times, at most `maximum`.
    public func ceiling(afterFailures failures: Int) -> Duration {
        var delay = initial
        for _ in 1..<max(failures, 1) {
            guard delay < maximum else { break }
            delay = delay * 2
        }
        return min(delay, maximum)
    }

    /// The delay after `failures` consecutive failures: uniformly between half the ceiling and
    /// the ceiling.
    public func delay(afterFailures failures: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(afterFailures: failures, using: &generator)
    }

    public func delay(afterFailures failures: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(afterFailures: failures)
        return ceiling / 2 + (ceiling / 2) * Double.random(in: 0...1, using: &generator)
    }
}
