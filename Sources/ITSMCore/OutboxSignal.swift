import Coordination

/// Wakes the outbox relay when a transaction has queued an event, so events go out at once
/// rather than at the next poll; and carries the events a transaction hands straight to the
/// relay (``hand(_:)``), which the relay publishes without reading them back.
///
/// Waiting must never consume the signal's ability to wait again (an `AsyncStream` whose waiting
/// task was cancelled by a timed-out wait finished for good, and every later wait returned at
/// once: the relay's poll became a loop of empty transactions).
public final class OutboxSignal: Sendable {
    /// What a wait returns: whether rows were queued for the relay's poll, and the events handed
    /// over since the last wait.
    public struct Wake: Sendable, Equatable {
        public var rowsQueued = false
        public var handed: [OutboxEntry] = []

        public init(rowsQueued: Bool = false, handed: [OutboxEntry] = []) {
            self.rowsQueued = rowsQueued
            self.handed = handed
        }

        var isEmpty: Bool { !rowsQueued && handed.isEmpty }
    }

    struct State: Sendable {
        /// What no wait has taken yet: the next wait returns it at once.
        var news = Wake()
        /// Relays running in this process; events are handed over only while one runs.
        var relays = 0
    }

    private let lot = ParkingLot<State, Wake>(State())

    public init() {}

    /// Rows were queued for the poll: wakes the relay; with none waiting, the next wait
    /// returns at once.
    public func notify() {
        deliver { $0.rowsQueued = true }
    }

    /// A committed event for the relay to publish as it is. Only while ``takesHandoffs``: the
    /// transaction that wrote it gave its row a grace before the poll may take it.
    public func hand(_ entry: OutboxEntry) {
        deliver { $0.handed.append(entry) }
    }

    private func deliver(_ change: (inout Wake) -> Void) {
        lot.withLock { state, waiters in
            change(&state.news)
            if waiters.count > 0 {
                waiters.resumeFirst(with: state.news)
                state.news = Wake()
            }
        }
    }

    /// Returns what came since the last wait: at once if anything did, else when something
    /// comes, after `timeout` (empty), or when the task is cancelled (empty), whichever is first.
    @discardableResult
    public func wait(timeout: Duration) async -> Wake {
        await lot.park(timeout: timeout, onTimeout: Wake(), onCancel: Wake()) { state, _ in
            guard !state.news.isEmpty else { return nil }
            defer { state.news = Wake() }
            return state.news
        }
    }

    /// What came since the last wait, without waiting.
    func take() -> Wake {
        lot.withLock { state, _ in
            defer { state.news = Wake() }
            return state.news
        }
    }

    /// Whether a relay runs in this process to publish what is handed to it, and is keeping up:
    /// events handed to a relay that is stuck (a broker that takes no publishes) would wait in
    /// memory, so past ``handedLimit`` waiting they are left to the poll (their rows are due at
    /// once) until it catches up.
    public var takesHandoffs: Bool { lot.withLock { state, _ in state.relays > 0 && state.news.handed.count < Self.handedLimit } }

    static let handedLimit = 10_000

    func relayStarted() { lot.withLock { state, _ in state.relays += 1 } }
    func relayStopped() { lot.withLock { state, _ in state.relays -= 1 } }

    /// Waits in progress and the bookkeeping they left (tests: both 0 between waits).
    public var bookkeeping: (waiting: Int, unsettled: Int) {
        let (parked, unsettled) = lot.bookkeeping
        return (parked, unsettled)
    }
}
