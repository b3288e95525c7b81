import Caching
import Coordination
import Foundation
import ITSMCore
import Synchronization

/// Integrations and mappings as the message path reads them. A change made with
/// `integration set` or `mapping set` (or any write to those tables) is seen within `ttl`;
/// configuration that does not change is read from PostgreSQL once, not once per `ttl`.
///
/// Every write to the two tables moves a version number in the same transaction (a trigger, see
/// `0009_configuration_version.sql`). The cache asks for that number when its last answer is
/// older than `ttl` — one small query per worker, whatever the number of customers and networks
/// — and drops everything it holds when it moved. Alerts come from many networks, each of them
/// now and then: with entries that simply expired after `ttl`, most alerts found theirs gone and
/// cost a query (38 % of them at 500 alerts/s over 1,024 mappings).
///
/// Absent integrations and mappings are cached too, since most alerts are for customers or
/// networks without ITSM. The keys come from messages, so both caches are bounded: a flood of
/// made-up customer ids evicts, it does not grow the worker. A `ttl` of zero reads every time.
public final class ConfigurationCache: Sendable {
    /// Entries per cache; far more customers and mappings than one worker serves.
    public static let capacity = 20_000
    /// How long an entry is kept even when the version says nothing changed: a bound on what a
    /// write that bypasses the trigger (`session_replication_role = replica`, a restore with
    /// triggers disabled) can leave stale.
    public static let maximumAge: Duration = .seconds(600)

    /// A value and the generation of the configuration it was read in.
    private struct Read<Value: Sendable>: Sendable {
        let value: Value
        let generation: UInt64
    }

    private struct Confirmation {
        /// The version as last read, and when that read was sent.
        var version: Int?
        var confirmed: ContinuousClock.Instant?
        /// Moves whenever the version did; entries of another generation are not served.
        var generation: UInt64 = 0
        var checking = false
    }

    let store: ConfigurationStore
    let ttl: Duration
    private let integrations: BoundedCache<String, Read<StoredIntegration?>>
    private let mappings: BoundedCache<MappingKey, Read<StoredMapping?>>
    private let misses: Coalescer<MappingKey, StoredMapping?>
    private let confirmation = Mutex(Confirmation())
    private let now: @Sendable () -> ContinuousClock.Instant

    /// - Parameter now: the clock `ttl` is measured by (tests move their own).
    public init(store: ConfigurationStore, ttl: Duration, capacity: Int = ConfigurationCache.capacity,
                now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.store = store
        self.ttl = ttl
        self.now = now
        let age = max(ttl, Self.maximumAge)
        integrations = BoundedCache(capacity: capacity, ttl: age, now: now)
        mappings = BoundedCache(capacity: capacity, ttl: age, now: now)
        misses = Coalescer(leaders: 1, linger: .milliseconds(2)) { keys in
            let found = try await store.mappings(keys: keys)
            return keys.map { .success(found[$0] ?? nil) }
        }
    }

    public func integration(customerID: String) async throws -> StoredIntegration? {
        guard ttl > .zero else { return try await store.integration(customerID: customerID) }
        let generation = try await currentGeneration()
        if let cached = integrations.value(for: customerID), cached.generation == generation { return cached.value }
        let value = try await store.integration(customerID: customerID)
        integrations.set(Read(value: value, generation: generation), for: customerID)
        return value
    }

    public func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping? {
        let key = MappingKey(customerID: customerID, networkID: networkID, alertType: alertType)
        guard ttl > .zero else { return try await misses.submit(key) }
        let generation = try await currentGeneration()
        if let cached = mappings.value(for: key), cached.generation == generation { return cached.value }
        let value = try await misses.submit(key)
        mappings.set(Read(value: value, generation: generation), for: key)
        return value
    }

    /// Integrations and mappings held now (for tests and metrics).
    public var count: Int { integrations.count + mappings.count }

    /// The generation entries must have to be served, after asking PostgreSQL for the version if
    /// the last answer is older than `ttl`.
    ///
    /// An entry is stored with the generation obtained *before* it was read, so a read that
    /// raced a change is dropped at the next confirmation; a generation obtained after the
    /// version moved comes from a query that saw the change committed, so whatever is read under
    /// it is the changed configuration.
    private func currentGeneration() async throws -> UInt64 {
        let asked = now()
        let served: UInt64? = confirmation.withLock { state in
            if let confirmed = state.confirmed {
                if asked - confirmed < ttl { return state.generation }
                // Another message is asking already: what was confirmed a moment ago will do.
                if state.checking && asked - confirmed < ttl * 2 { return state.generation }
            }
            state.checking = true
            return nil
        }
        if let served { return served }
        let version: Int?
        do {
            version = try await store.configurationVersion()
        } catch {
            confirmation.withLock { $0.checking = false }
            throw error
        }
        let (generation, moved) = confirmation.withLock { state -> (UInt64, Bool) in
            state.checking = false
            // Without a version to go by, nothing read is trusted past `ttl`.
            let moved = state.confirmed == nil || version == nil || version != state.version
            if moved {
                state.version = version
                state.generation &+= 1
            }
            if state.confirmed.map({ $0 < asked }) ?? true { state.confirmed = asked }
            return (state.generation, moved)
        }
        if moved {
            // Entries of the old generation are never served again; free them now.
            integrations.removeAll()
            mappings.removeAll()
        }
        return generation
    }
}
