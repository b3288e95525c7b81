
/// Where the use cases find a customer's integration and a network's mapping.
public protocol IntegrationDirectory: Sendable {
    /// Whether the customer has an integration at all (an event of a customer without one is not
    /// for ITSM).
    func hasIntegration(customerID: String) async throws -> Bool
    func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping?
    /// The customer's integration, connected to its instance; nil when there is none.
    func connect(customerID: String) async throws -> ConnectedIntegration?
    /// The same, read from the store rather than the message path's cache: for the sync, which
    /// runs rarely and should see an integration's latest settings.
    func connectFresh(customerID: String) async throws -> ConnectedIntegration?
}
