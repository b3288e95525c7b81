import Foundation
import ITSMCore
import Synchronization

/// Integrations and mappings as the message path reads them: one query per customer (and per
/// network and alert type) every `ttl` instead of two or three per message. Absent ones are
/// cached too, since most alerts are for customers or networks without ITSM. A change made with
/// `integration set` or `mapping set` is seen within `ttl`.
public final class ConfigurationCache: Sendable {
    private struct Entry<Value: Sendable>: Sendable {
        let value: Value
        let expires: ContinuousClock.Instant
    }

    let store: ConfigurationStore
    let ttl: Duration
    private let integrations = Mutex<[String: Entry<StoredIntegration?>]>([:])
    private let mappings = Mutex<[String: Entry<StoredMapping?>]>([:])

    public init(store: ConfigurationStore, ttl: Duration) {
        self.store = store
        self.ttl = ttl
    }

    public func integration(customerID: String) async throws -> StoredIntegration? {
        if let entry = integrations.withLock({ $0[customerID] }), entry.expires > .now { return entry.value }
        let value = try await store.integration(customerID: customerID)
        integrations.withLock { $0[customerID] = Entry(value: value, expires: .now + ttl) }
        return value
    }

    public func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping? {
        let key = "\(customerID)\u{0}\(networkID)\u{0}\(alertType)"
        if let entry = mappings.withLock({ $0[key] }), entry.expires > .now { return entry.value }
        let value = try await store.mapping(customerID: customerID, networkID: networkID, alertType: alertType)
        mappings.withLock { $0[key] = Entry(value: value, expires: .now + ttl) }
        return value
    }
}
