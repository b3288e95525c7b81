import Foundation
import ITSMCore
import Synchronization

/// The twin of the stored integrations: one customer's settings and gateway, mappings by key.
public final class InMemoryIntegrationDirectory: IntegrationDirectory {
    private let integrations = Mutex<[String: ConnectedIntegration]>([:])
    private let unusable = Mutex<[String: IntegrationUnusable]>([:])
    private let mappings = Mutex<[String: StoredMapping]>([:])

    public init() {}

    public func add(customerID: String, gateway: any IncidentGateway, settings: IntegrationSettings = IntegrationSettings()) {
        integrations.withLock { $0[customerID] = ConnectedIntegration(settings: settings, gateway: gateway) }
    }

    /// The customer has an integration that cannot be used (a secret sealed with another key).
    public func addUnusable(customerID: String, _ reason: IntegrationUnusable) {
        unusable.withLock { $0[customerID] = reason }
    }

    public func add(_ mapping: StoredMapping) {
        mappings.withLock { $0["\(mapping.customerID)\u{0}\(mapping.networkID)\u{0}\(mapping.alertType)"] = mapping }
    }

    public func hasIntegration(customerID: String) async throws -> Bool {
        integrations.withLock { $0[customerID] != nil } || unusable.withLock { $0[customerID] != nil }
    }

    public func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping? {
        mappings.withLock { $0["\(customerID)\u{0}\(networkID)\u{0}\(alertType)"] }
    }

    public func connectFresh(customerID: String) async throws -> ConnectedIntegration? {
        try await connect(customerID: customerID)
    }

    public func connect(customerID: String) async throws -> ConnectedIntegration? {
        if let reason = unusable.withLock({ $0[customerID] }) { throw reason }
        return integrations.withLock { $0[customerID] }
    }
}
