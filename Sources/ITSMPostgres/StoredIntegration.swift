import Foundation
import ITSMCore
import JSONText

/// A customer's ServiceNow integration as stored (the secret still sealed).
public struct StoredIntegration: Sendable {
    public var customerID: String
    public var instanceURL: String
    public var clientID: String
    public var sealedSecret: SecretBox.Sealed
    public var settings: IntegrationSettings
    public var lastTest: JSONValue?
    public var lastTestedAt: Date?
    public var updatedAt: Date
}
