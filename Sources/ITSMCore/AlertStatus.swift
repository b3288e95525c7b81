/// Where an alert stands in Ceburu, as the worker last told it or learned it from ServiceNow:
/// the `alert_status` of ticket events and of a ticket link.
public enum AlertStatus: String, Sendable, Codable, CaseIterable {
    case open
    case acknowledged
    case resolved

    /// The status a Ceburu status event moves the alert to.
    public init(_ kind: AlertEvent.Kind) {
        switch kind {
        case .raised: self = .open
        case .acknowledged: self = .acknowledged
        case .resolved: self = .resolved
        }
    }
}
