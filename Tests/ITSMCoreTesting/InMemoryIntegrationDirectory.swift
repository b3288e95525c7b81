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

    public func integration(customerID: String) async throws -> FoundIntegration? {
        if let reason = unusable.withLock({ $0[customerID] }) { return FoundIntegration { () throws(IntegrationUnusable) in throw reason } }
        guard let connected = integrations.withLock({ $0[customerID] }) else { return nil }
        return FoundIntegration { connected }
    }

    public func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping? {
        mappings.withLock { $0["\(customerID)\u{0}\(networkID)\u{0}\(alertType)"] }
    }

    public func connectFresh(customerID: String) async throws -> ConnectedIntegration? {
        try await integration(customerID: customerID)?.connect()
    }
}
