import Synchronization

/// A thread-safe cache that never holds more than `capacity` entries, each for at most `ttl`.
///
/// Every cache whose keys come from outside (a message's customer id, a table name in a command,
/// a value looked up on an instance) is one of these: a stream of distinct keys then costs a
/// bounded amount of memory instead of growing the worker until it dies. When full, expired
/// entries go first, then the older half by insertion; the batch keeps eviction cheap on average
/// (one sort per `capacity / 2` inserts) without a linked list.
public final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let expires: ContinuousClock.Instant?
        let sequence: UInt64
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var nextSequence: UInt64 = 0
        var evictions = 0
    }

    public let capacity: Int
    public let ttl: Duration?
    private let state = Mutex(State())
    private let now: @Sendable () -> ContinuousClock.Instant

    /// - Parameters:
    ///   - capacity: the most entries kept (at least 1).
    ///   - ttl: how long an entry is served; nil keeps it until it is evicted for room.
    ///   - now: the clock expiry is measured by (tests move their own).
    public init(capacity: Int, ttl: Duration? = nil, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.capacity = max(1, capacity)
        self.ttl = ttl
        self.now = now
    }

    /// The value stored for `key`, unless it is absent or expired.
    public func value(for key: Key) -> Value? {
        state.withLock { state in
            guard let entry = state.entries[key] else { return nil }
            if let expires = entry.expires, expires <= now() {
                state.entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    public func set(_ value: Value, for key: Key) {
        state.withLock { insert(value, for: key, into: &$0) }
    }

    /// The value for `key`, made and stored by `make` when there is none. `make` runs under the
    /// cache's lock: keep it cheap and free of I/O.
    public func value(for key: Key, orInsert make: () -> Value) -> Value {
        state.withLock { state in
            if let entry = state.entries[key], entry.expires.map({ $0 > now() }) ?? true { return entry.value }
            let value = make()
            insert(value, for: key, into: &state)
            return value
        }
    }

    public func removeValue(for key: Key) {
        state.withLock { _ = $0.entries.removeValue(forKey: key) }
    }

    public func removeAll() {
        state.withLock { $0.entries.removeAll() }
    }

    /// Entries held now (expired ones included until they are noticed).
    public var count: Int { state.withLock { $0.entries.count } }

    /// Entries dropped to make room so far.
    public var evictions: Int { state.withLock { $0.evictions } }

    private func insert(_ value: Value, for key: Key, into state: inout State) {
        if state.entries[key] == nil && state.entries.count >= capacity {
            let now = self.now()
            state.entries = state.entries.filter { $0.value.expires.map { $0 > now } ?? true }
            if state.entries.count >= capacity {
                let keep = capacity / 2
                let oldest = state.entries.sorted { $0.value.sequence < $1.value.sequence }.prefix(state.entries.count - keep)
                for (old, _) in oldest { state.entries[old] = nil }
                state.evictions += oldest.count
            }
        }
        state.nextSequence += 1
        state.entries[key] = Entry(value: value, expires: ttl.map { now() + $0 }, sequence: state.nextSequence)
    }
}
