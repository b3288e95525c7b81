/// Where a sync pass stands for one customer: the newest `sys_updated_on` seen, and how many
/// passes came before (every Nth is a full pass).
public struct SyncLease: Sendable, Equatable {
    public let watermark: String?
    public let cycles: Int

    public init(watermark: String?, cycles: Int) {
        self.watermark = watermark
        self.cycles = cycles
    }
}

/// What the sync needs of the worker's memory: which customers to sync, a lease so that one
/// worker at a time syncs a customer, the open tickets, and compare-and-set writes that record a
/// change made in ServiceNow together with its outgoing event.
public protocol SyncStore: Sendable {
    /// Every customer with an integration.
    func customers() async throws -> [String]
    /// Takes the customer's sync lease for `lease`; nil while another worker holds it.
    func takeLease(customerID: String, lease: Duration) async throws -> SyncLease?
    /// Gives the lease back with the new watermark, and the pass's error if it failed.
    func releaseLease(customerID: String, watermark: String?, error: String?) async throws
    /// The customer's open tickets with a sys_id, oldest first.
    func openLinks(customerID: String) async throws -> [TicketLink]
    /// Records newer change stamps of tickets whose state did not change.
    func refreshStamps(_ stamps: [(linkID: Int, sysUpdatedOn: String)]) async throws
    /// Records a state change if the link still has the state it was read with and nobody is
    /// writing to it, and queues `event`; `false` if the compare-and-set lost.
    func recordStateChange(_ link: TicketLink, to state: IncidentState, sysUpdatedOn: String?, alertStatus: AlertStatus,
                           event: TicketEvent) async throws -> Bool
    /// Marks an open ticket deleted in ServiceNow and queues `event`; `false` if it was not open.
    func markDeleted(_ link: TicketLink, event: TicketEvent) async throws -> Bool
    /// Alerts of the customer with an open ticket and a status event waiting.
    func alertsWithWaitingStatus(customerID: String) async throws -> [String]
}
