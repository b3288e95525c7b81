import Foundation

/// What ServiceNow reported back after a write: the state and its change stamp.
public struct WrittenRecord: Sendable, Equatable {
    public var state: IncidentState
    public var sysUpdatedOn: String?

    public init(state: IncidentState, sysUpdatedOn: String?) {
        self.state = state
        self.sysUpdatedOn = sysUpdatedOn
    }
}
