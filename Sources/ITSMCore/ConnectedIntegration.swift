/// A customer's integration, ready to write with: its settings and its instance.
public struct ConnectedIntegration: Sendable {
    public let settings: IntegrationSettings
    public let gateway: any IncidentGateway

    public init(settings: IntegrationSettings, gateway: any IncidentGateway) {
        self.settings = settings
        self.gateway = gateway
    }
}
