/// An OAuth application's client credentials. The secret never appears in a description.
public struct ServiceNowCredentials: Sendable, Hashable, CustomStringConvertible {
    public let clientID: String
    public let clientSecret: String

    public init(clientID: String, clientSecret: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    public var description: String { "ServiceNowCredentials(clientID: \(clientID), clientSecret: ********)" }
}
