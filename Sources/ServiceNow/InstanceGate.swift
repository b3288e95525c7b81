import Coordination
import Foundation

/// The share of one ServiceNow instance this process may use, shared by every caller.
///
/// - At most `limit` requests in flight (an instance serves 4 API transactions per node by
///   default and queues or refuses the rest); callers wait for a slot at most `maximumWait`.
/// - After a 429 with `Retry-After`, no request starts before that time.
/// - When answers carry `X-RateLimit-Limit` / `X-RateLimit-Reset`, requests are counted against
///   the rule and paced: once the budget of the current window is spent, the next request waits
///   for the reset instead of drawing a 429.
final class InstanceGate: Sendable {
    let limit: Int

    private struct State {
        var inFlight = 0
        var peak = 0
        var blockedUntil: ContinuousClock.Instant?
        var rateLimit: Int?
        var rateReset: ContinuousClock.Instant?
        var usedInWindow = 0
    }

    /// Callers waiting for a slot park here; a released slot passes straight to the longest
    /// waiting one.
    private let lot = ParkingLot<State, Bool>(State())

    init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// Takes a slot, first waiting out a 429 back-off or a spent rate budget. Throws when the
    /// wait would be longer than `maximumWait`.
    func acquire(maximumWait: Duration) async throws(ServiceNowError) {
        let started = ContinuousClock.now
        while true {
            let wait = lot.withLock { state, _ -> Duration? in
                let now = ContinuousClock.now
                if let until = state.blockedUntil, until > now { return until - now }
                if let limit = state.rateLimit, let reset = state.rateReset {
                    if reset <= now {
                        state.usedInWindow = 0
                        state.rateReset = nil
                    } else if state.usedInWindow >= limit {
                        return reset - now + .milliseconds(50)
                    }
                }
                return nil
            }
            guard let wait else { break }
            let waited = ContinuousClock.now - started
            if waited + wait > maximumWait {
                throw ServiceNowError(.rateLimited, message: "the instance asked to wait longer than this request may", retryAfter: wait)
            }
            try? await Task.sleep(for: wait)
        }

        let remainingWait = maximumWait - (ContinuousClock.now - started)
        let gotSlot = await lot.park(timeout: max(remainingWait, .zero), onTimeout: false, onCancel: false) { state, _ in
            guard state.inFlight < limit else { return nil }
            state.inFlight += 1
            state.peak = max(state.peak, state.inFlight)
            state.usedInWindow += 1
            return true
        }
        guard gotSlot else {
            throw ServiceNowError(.instanceBusy, message: "all \(limit) request slots for this instance stayed busy for \(maximumWait)")
        }
    }

    func release() {
        lot.withLock { state, waiters in
            // The slot passes straight to the next waiter; inFlight stays the same.
            if waiters.resumeFirst(with: true) {
                state.usedInWindow += 1
            } else {
                state.inFlight -= 1
            }
        }
    }

    /// A 429 asked for a pause: no request to this instance starts before it ends.
    func block(for duration: Duration) {
        lot.withLock { state, _ in
            let until = ContinuousClock.now + duration
            if state.blockedUntil.map({ $0 < until }) ?? true { state.blockedUntil = until }
        }
    }

    /// Records the rate limit rule an answer reported (the caller bounded both numbers).
    func noteRateLimit(limit: Int, resetIn: Duration) {
        let reset = ContinuousClock.now + resetIn
        lot.withLock { state, _ in
            if let current = state.rateReset, current - reset > .seconds(1) || reset - current > .seconds(1) {
                // A new window: the instance's count started over.
                state.usedInWindow = 1
            }
            state.rateLimit = limit
            state.rateReset = reset
        }
    }

    /// The most requests this gate ever had in flight at once.
    var peakInFlight: Int { lot.withLock { state, _ in state.peak } }
}
