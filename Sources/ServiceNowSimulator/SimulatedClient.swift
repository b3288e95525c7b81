/// An OAuth application the simulated instance knows.
public struct SimulatedClient: Sendable, Hashable {
    public var clientID: String
    public var clientSecret: String
    public var active: Bool
    /// The instance's client-credentials grant switch, for this client.
    public var grantEnabled: Bool
    /// The OAuth Application User the token acts as (`sys_updated_by`); `nil` for none.
    public var applicationUser: String?

    public init(clientID: String, clientSecret: String, active: Bool = true, grantEnabled: Bool = true, applicationUser: String? = "itsm.integration") {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.active = active
        self.grantEnabled = grantEnabled
        self.applicationUser = applicationUser
    }
}
