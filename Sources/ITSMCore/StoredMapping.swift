/// A mapping as stored, with its key.
public struct StoredMapping: Sendable, Equatable {
    public var customerID: String
    public var networkID: String
    public var alertType: String
    public var mapping: AlertMapping

    public init(customerID: String, networkID: String, alertType: String, mapping: AlertMapping) {
        self.customerID = customerID
        self.networkID = networkID
        self.alertType = alertType
        self.mapping = mapping
    }
}
