import Synchronization

/// Wakes the outbox relay when a transaction has queued an event, so events go out at once
/// rather than at the next poll.
///
/// Waiting must never consume the signal's ability to wait again: an `AsyncStream` whose waiting
/// task is cancelled (as a timed-out wait cancels it) finishes for good, and every later wait then
/// returned at once, which turned the relay's poll into a loop of empty transactions.
public final class OutboxSignal: Sendable {
    private struct State {
        /// A notification no waiter has taken yet; the next wait returns at once.
        var pending = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waits begun whose continuation is not stored yet, and those of them that already
        /// ended (timed out or cancelled), which then return as soon as they would park.
        var starting: Set<UInt64> = []
        var ended: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes every waiter, including one about to park; with none, the next wait returns at once.
    public func notify() {
        let waiters = state.withLock { state in
            if state.waiters.isEmpty && state.starting.isEmpty { state.pending = true }
            state.ended.formUnion(state.starting)
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when notified (at once if a notification came since the last wait), after
    /// `timeout`, or when the task is cancelled, whichever is first.
    func wait(timeout: Duration) async {
        let id: UInt64? = state.withLock { state in
            if state.pending {
                state.pending = false
                return nil
            }
            state.nextID += 1
            state.starting.insert(state.nextID)
            return state.nextID
        }
        guard let id else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.end(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    state.starting.remove(id)
                    if state.ended.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            end(id)
        }
        timer.cancel()
    }

    /// Ends one wait, whether or not its continuation is stored yet; a wait that already
    /// returned is left alone.
    private func end(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            if state.starting.contains(id) { state.ended.insert(id) }
            return nil
        }
        waiter?.resume()
    }

    /// Waits in progress and the bookkeeping they left (tests: all 0 between waits).
    var bookkeeping: (waiting: Int, starting: Int, ended: Int) {
        state.withLock { ($0.waiters.count, $0.starting.count, $0.ended.count) }
    }
}
