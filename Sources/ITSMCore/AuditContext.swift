/// The alert a task is working for; ServiceNow calls made inside are recorded against it.
public struct AuditContext: Sendable {
    public var customerID: String
    public var alertID: String
    public var eventID: String?

    public init(customerID: String, alertID: String, eventID: String?) {
        self.customerID = customerID
        self.alertID = alertID
        self.eventID = eventID
    }

    @TaskLocal public static var current: AuditContext?
}
