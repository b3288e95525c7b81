/// A customer's integration, ready to write with: its settings and its instance.
public struct ConnectedIntegration: Sendable {
    public let settings: IntegrationSettings
    public let gateway: any IncidentGateway

    public init(settings: IntegrationSettings, gateway: any IncidentGateway) {
        self.settings = settings
        self.gateway = gateway
    }
}

/// Why a stored integration cannot be used (its secret cannot be opened, its URL or proxy is
/// refused); final until an operator fixes it.
public struct IntegrationUnusable: Error, CustomStringConvertible {
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// Where the use cases find a customer's integration and a network's mapping.
public protocol IntegrationDirectory: Sendable {
    /// Whether the customer has an integration at all (an event of a customer without one is not
    /// for ITSM).
    func hasIntegration(customerID: String) async throws -> Bool
    func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping?
    /// The customer's integration, connected to its instance; nil when there is none.
    func connect(customerID: String) async throws -> ConnectedIntegration?
}
