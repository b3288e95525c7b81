import DequeModule
import NIOCore
import NIOPosix
import Synchronization

/// State behind a lock, and a first-come-first-served queue of tasks parked on it until someone
/// holding the lock hands them a value, until their time runs out, or until they are cancelled.
///
/// This is the one waiting mechanism of the worker: connection pool slots, an instance's request
/// slots, an instance's message permits and the outbox relay's wake-up are all built on it. It
/// exists once because each hand-made copy had to get the same races right: a value handed over
/// while a task is still parking, a timeout or a cancellation that arrives before the task has
/// parked, and a timer that must not outlive its wait.
///
/// Every waiter is resumed exactly once: with the value handed to it, or with the value it named
/// for a timeout or a cancellation. Handing a value and deciding are done under the same lock as
/// the owner's state, so a value freed while a task parks is never missed.
public final class ParkingLot<State: Sendable, Value: Sendable>: Sendable {
    public enum Expiry: Sendable { case timedOut, cancelled }

    struct Entry: Sendable {
        let id: UInt64
        let tag: String
        /// Order of parking across tags, for a hand-over to whoever waits longest of all.
        var arrival: UInt64 = 0
        let continuation: CheckedContinuation<Value, Never>
        let onTimeout: Value
        let onCancel: Value
        /// Ends the wait after its timeout; cancelled as soon as the wait ends otherwise, so a
        /// busy lot does not keep a timer for every waiter it ever had.
        let timer: Scheduled<Void>?
    }

    struct Inner: Sendable {
        var state: State
        var waiters = Waiters()
        /// Waits begun but not parked yet, and those of them already cancelled. (A timeout
        /// cannot come early: a wait's timer starts when it parks.)
        var starting: Set<UInt64> = []
        var cancelledEarly: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    /// The parked tasks, seen from inside ``withLock(_:)``. Values handed over here reach their
    /// tasks after the lock is released.
    ///
    /// Kept as one queue per tag, so that counting and waking one tag's waiters costs the same
    /// with five parked tasks as with five thousand: an instance's message permits are decided
    /// on every message, and a storm parks thousands of messages on one instance.
    public struct Waiters: Sendable {
        var queues: [String: Deque<Entry>] = [:]
        var handed: [(Entry, Value)] = []
        public private(set) var count = 0
        var arrivals: UInt64 = 0

        public func count(tag: String) -> Int { queues[tag]?.count ?? 0 }

        mutating func append(_ entry: Entry) {
            var entry = entry
            arrivals &+= 1
            entry.arrival = arrivals
            queues[entry.tag, default: []].append(entry)
            count += 1
        }

        /// Takes a parked wait out (its timeout or cancellation); nil if it has already ended.
        mutating func remove(id: UInt64, tag: String) -> Entry? {
            guard let index = queues[tag]?.firstIndex(where: { $0.id == id }) else { return nil }
            return take(tag) { $0.remove(at: index) }
        }

        private mutating func take(_ tag: String, _ body: (inout Deque<Entry>) -> Entry) -> Entry {
            let entry = body(&queues[tag]!)
            if queues[tag]!.isEmpty { queues[tag] = nil }
            count -= 1
            return entry
        }

        /// Hands `value` to the longest-waiting task (with `tag`, if given); false if none waits.
        @discardableResult
        public mutating func resumeFirst(with value: Value, tag: String? = nil) -> Bool {
            // Untagged, the longest wait of all is the oldest of the queues' heads (few queues).
            guard let tag = tag ?? queues.min(by: { $0.value.first!.arrival < $1.value.first!.arrival })?.key,
                  queues[tag] != nil else { return false }
            handed.append((take(tag) { $0.removeFirst() }, value))
            return true
        }

        /// Hands `value` to every waiting task (with `tag`, if given), longest-waiting first.
        public mutating func resumeAll(with value: Value, tag: String? = nil) {
            let ending: [Entry]
            if let tag {
                ending = Array(queues.removeValue(forKey: tag) ?? [])
            } else {
                ending = queues.values.flatMap { $0 }.sorted { $0.arrival < $1.arrival }
                queues = [:]
            }
            count -= ending.count
            handed.append(contentsOf: ending.map { ($0, value) })
        }
    }

    private let inner: Mutex<Inner>
    private let timers = Atomic<Int>(0)

    public init(_ state: State) {
        inner = Mutex(Inner(state: state))
    }

    /// Reads or changes the state, and hands values to parked tasks.
    /// (Not throwing: values handed before a throw would wait for the next call to reach their
    /// tasks.)
    public func withLock<R>(_ body: (inout State, inout Waiters) -> R) -> R {
        let (result, handed) = inner.withLock { inner in
            let result = body(&inner.state, &inner.waiters)
            defer { inner.waiters.handed = [] }
            return (result, inner.waiters.handed)
        }
        Self.deliver(handed)
        return result
    }

    /// Decides under the lock whether to return at once (`decide` returns a value) or to park
    /// (`decide` returns nil); it may be asked twice, and must change the state only when it
    /// returns a value. A parked task returns the value handed to it, `onTimeout` after
    /// `timeout` (nil: no limit), or `onCancel` when its task is cancelled.
    public func park(tag: String = "", timeout: Duration?, onTimeout: Value, onCancel: Value,
                     _ decide: (inout State, Waiters) -> Value?) async -> Value {
        // Most calls find what they need at once: one lock, no suspension.
        let id: UInt64
        switch inner.withLock({ inner -> (Value?, UInt64) in
            if let value = decide(&inner.state, inner.waiters) { return (value, 0) }
            inner.nextID &+= 1
            inner.starting.insert(inner.nextID)
            return (nil, inner.nextID)
        }) {
        case (let value?, _): return value
        case (nil, let next): id = next
        }
        return await parkSlowly(id: id, tag: tag, timeout: timeout, onTimeout: onTimeout, onCancel: onCancel, decide)
    }

    private func parkSlowly(id: UInt64, tag: String, timeout: Duration?, onTimeout: Value, onCancel: Value,
                      _ decide: (inout State, Waiters) -> Value?) async -> Value {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate = inner.withLock { inner -> Value? in
                    inner.starting.remove(id)
                    let cancelled = inner.cancelledEarly.remove(id) != nil
                    // Freed since the first look.
                    if let value = decide(&inner.state, inner.waiters) { return value }
                    if cancelled { return onCancel }
                    // Started only for a task that parks (most calls do not), and under the lock,
                    // so its expiry cannot look for the entry before it is appended.
                    let timer = timeout.map { timeout in startTimer(timeout) { [weak self] in self?.expire(id, tag: tag, .timedOut) } }
                    inner.waiters.append(Entry(id: id, tag: tag, continuation: continuation, onTimeout: onTimeout,
                                               onCancel: onCancel, timer: timer))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            expire(id, tag: tag, .cancelled)
        }
    }

    /// A timeout on a timer of NIO's event loops rather than a task sleeping in `Task.sleep`.
    /// Scenario 1's profile had a parked message's timer (a new task, and a sleep that in this
    /// runtime arms a Dispatch timer source and wakes Dispatch's timer thread) at about 4 % of the
    /// worker's CPU; a loop's timer is an entry in the heap of a loop that is awake anyway. It
    /// fires on time, where Dispatch's allowed itself some slack.
    private func startTimer(_ timeout: Duration, _ fire: @escaping @Sendable () -> Void) -> Scheduled<Void> {
        timers.add(1, ordering: .relaxed)
        let scheduled = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(timeout), fire)
        // Fired or cancelled, the timer is done.
        scheduled.futureResult.whenComplete { [weak self] _ in self?.timers.subtract(1, ordering: .relaxed) }
        return scheduled
    }

    /// Ends one wait, parked or about to park; a wait that already ended is left alone.
    private func expire(_ id: UInt64, tag: String, _ expiry: Expiry) {
        let entry = inner.withLock { inner -> Entry? in
            if let entry = inner.waiters.remove(id: id, tag: tag) { return entry }
            if expiry == .cancelled && inner.starting.contains(id) { inner.cancelledEarly.insert(id) }
            return nil
        }
        guard let entry else { return }
        entry.timer?.cancel()
        entry.continuation.resume(returning: expiry == .timedOut ? entry.onTimeout : entry.onCancel)
    }

    private static func deliver(_ handed: [(Entry, Value)]) {
        for (entry, value) in handed {
            entry.timer?.cancel()
            entry.continuation.resume(returning: value)
        }
    }

    /// Timeout timers still running (tests: 0 once every wait has ended).
    public var runningTimers: Int { timers.load(ordering: .relaxed) }

    /// Parked tasks, and waits whose bookkeeping is not cleared yet (tests: 0 and 0 when idle).
    public var bookkeeping: (parked: Int, unsettled: Int) {
        inner.withLock { ($0.waiters.count, $0.starting.count + $0.cancelledEarly.count) }
    }
}
