import Coordination


/// Wakes the outbox relay when a transaction has queued an event, so events go out at once
/// rather than at the next poll.
///
/// Waiting must never consume the signal's ability to wait again (an `AsyncStream` whose waiting
/// task was cancelled by a timed-out wait finished for good, and every later wait returned at
/// once: the relay's poll became a loop of empty transactions).
public final class OutboxSignal: Sendable {
    /// The state is a notification no waiter has taken yet: the next wait returns at once.
    private let lot = ParkingLot<Bool, Void>(false)

    public init() {}

    /// Wakes every parked waiter; with none, the next wait returns at once.
    public func notify() {
        lot.withLock { pending, waiters in
            if waiters.count == 0 { pending = true } else { waiters.resumeAll(with: ()) }
        }
    }

    /// Returns when notified (at once if a notification came since the last wait), after
    /// `timeout`, or when the task is cancelled, whichever is first.
    public func wait(timeout: Duration) async {
        await lot.park(timeout: timeout, onTimeout: (), onCancel: ()) { pending, _ in
            guard pending else { return nil }
            pending = false
            return ()
        }
    }

    /// Waits in progress and the bookkeeping they left (tests: both 0 between waits).
    public var bookkeeping: (waiting: Int, unsettled: Int) {
        let (parked, unsettled) = lot.bookkeeping
        return (parked, unsettled)
    }
}
