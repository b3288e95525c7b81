import ITSMCore
import ITSMPostgres

/// The integration directory over the stored integrations (cached) and ServiceNow sessions.
public struct ServiceNowDirectory: IntegrationDirectory {
    let resolver: IntegrationResolver
    let validator: MappingValidator

    public init(resolver: IntegrationResolver, validator: MappingValidator) {
        self.resolver = resolver
        self.validator = validator
    }

    public func integration(customerID: String) async throws -> FoundIntegration? {
        guard let integration = try await resolver.cache.integration(customerID: customerID) else { return nil }
        return FoundIntegration { () throws(IntegrationUnusable) in connected(try resolver.resolve(integration)) }
    }

    public func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping? {
        try await resolver.cache.mapping(customerID: customerID, networkID: networkID, alertType: alertType)
    }

    public func connectFresh(customerID: String) async throws -> ConnectedIntegration? {
        guard let integration = try await resolver.configuration.integration(customerID: customerID) else { return nil }
        return connected(try resolver.resolve(integration))
    }

    public func connected(_ resolved: IntegrationResolver.Resolved) -> ConnectedIntegration {
        ConnectedIntegration(settings: resolved.integration.settings,
                             gateway: ServiceNowIncidentGateway(session: resolved.session, instance: resolved.instance, validator: validator,
                                                                customerID: resolved.integration.customerID))
    }
}
