import Caching
import Coordination
import Foundation
import ITSMCore

/// Integrations and mappings as the message path reads them: one query per customer (and per
/// network and alert type) every `ttl` instead of two or three per message. Absent ones are
/// cached too, since most alerts are for customers or networks without ITSM. A change made with
/// `integration set` or `mapping set` is seen within `ttl`. The keys come from messages, so both
/// caches are bounded: a flood of made-up customer ids evicts, it does not grow the worker.
///
/// Alerts come from many networks, each of them now and then, so most find their mapping's entry
/// expired: concurrent misses are read in one query (see ``Coalescer``).
public final class ConfigurationCache: Sendable {
    /// Entries per cache; far more customers and mappings than one worker serves.
    public static let capacity = 20_000

    let store: ConfigurationStore
    let ttl: Duration
    private let integrations: BoundedCache<String, StoredIntegration?>
    private let mappings: BoundedCache<MappingKey, StoredMapping?>
    private let misses: Coalescer<MappingKey, StoredMapping?>

    public init(store: ConfigurationStore, ttl: Duration, capacity: Int = ConfigurationCache.capacity) {
        self.store = store
        self.ttl = ttl
        integrations = BoundedCache(capacity: capacity, ttl: ttl)
        mappings = BoundedCache(capacity: capacity, ttl: ttl)
        misses = Coalescer(leaders: 1, linger: .milliseconds(2)) { keys in
            let found = try await store.mappings(keys: keys)
            return keys.map { .success(found[$0] ?? nil) }
        }
    }

    public func integration(customerID: String) async throws -> StoredIntegration? {
        if let cached = integrations.value(for: customerID) { return cached }
        let value = try await store.integration(customerID: customerID)
        integrations.set(value, for: customerID)
        return value
    }

    public func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping? {
        let key = MappingKey(customerID: customerID, networkID: networkID, alertType: alertType)
        if let cached = mappings.value(for: key) { return cached }
        let value = try await misses.submit(key)
        mappings.set(value, for: key)
        return value
    }

    /// Integrations and mappings held now (for tests and metrics).
    public var count: Int { integrations.count + mappings.count }
}
