
/// A customer's stored integration, found but not yet connected: connecting opens its secret
/// and checks its URL and proxy, which can fail for good (``IntegrationUnusable``).
public struct FoundIntegration: Sendable {
    private let open: @Sendable () throws(IntegrationUnusable) -> ConnectedIntegration

    public init(connect: @escaping @Sendable () throws(IntegrationUnusable) -> ConnectedIntegration) {
        open = connect
    }

    public func connect() throws(IntegrationUnusable) -> ConnectedIntegration {
        try open()
    }
}

/// Where the use cases find a customer's integration and a network's mapping.
public protocol IntegrationDirectory: Sendable {
    /// The customer's integration; nil when there is none (an event of such a customer is not
    /// for ITSM). Read through the message path's cache.
    func integration(customerID: String) async throws -> FoundIntegration?
    func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping?
    /// The same, read from the store rather than the message path's cache: for the sync, which
    /// runs rarely and should see an integration's latest settings.
    func connectFresh(customerID: String) async throws -> ConnectedIntegration?
}
