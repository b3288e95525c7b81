import Foundation

/// What the use cases need of the worker's memory: ticket links and their claims, processed
/// events, status events waiting for their ticket, and the outbox. Each method that queues an
/// outgoing event does so in the same transaction as its other effects, so an event is
/// published exactly when its effect is committed.
///
/// `TicketStore` (PostgreSQL) is the production implementation; `InMemoryTicketRepository` in
/// the `ITSMCoreTesting` module is its twin for unit tests, and one set of contract tests runs
/// against both.
public protocol TicketRepository: Sendable {
    /// Whether the customer's event had its effect already.
    func isProcessed(_ event: AlertEvent) async throws -> Bool
    /// Marks an event processed with no other effect, queueing `outgoing` if given.
    func markProcessed(event: AlertEvent, outcome: String, outgoing: TicketEvent?) async throws

    /// Claims the right to create the alert's ticket (see ``TicketLifecycle/claim(live:now:)``),
    /// or reports `.duplicate` when the event was processed already.
    func claim(event: AlertEvent, table: String, workerID: String, lease: Duration) async throws -> TicketClaim
    /// Extends this worker's creation claim; `false` if it was taken over.
    func renewClaim(link: TicketLink, workerID: String, lease: Duration) async throws -> Bool
    /// Gives a claim back after a retryable failure, so the retry can take it at once.
    func release(link: TicketLink, workerID: String) async throws
    /// Stores the created ticket, marks the event processed and queues `outgoing`; throws
    /// ``LostClaim`` if the claim is no longer this worker's. `statusWaiting`: a status event
    /// for the alert waits to be applied.
    func completeCreation(link: TicketLink, workerID: String, ticket: TicketEvent.Ticket, sysUpdatedOn: String?,
                          warnings: [String], event: AlertEvent, outgoing: TicketEvent) async throws -> (link: TicketLink, statusWaiting: Bool)
    /// Gives up creating a ticket: the link fails, the event is processed, `outgoing` queued.
    func failCreation(link: TicketLink?, event: AlertEvent, outgoing: TicketEvent) async throws
    /// Closes an open ticket that can take no more writes and claims a new one for the alert.
    func supersede(link: TicketLink, event: AlertEvent, table: String, workerID: String, lease: Duration) async throws -> TicketClaim

    /// Takes the short claim that serializes writes to an open ticket; nil while another holds it.
    func claimOpen(link: TicketLink, workerID: String, lease: Duration) async throws -> TicketLink?
    /// Releases a claim on an open ticket without other effect.
    func releaseClaim(link: TicketLink, workerID: String) async throws
    /// Keeps a status event until it is applied (idempotent by event id).
    func recordStatusEvent(_ event: AlertEvent) async throws
    /// The newest status event of an alert that has not been applied yet.
    func latestWaitingStatus(customerID: String, alertID: String) async throws -> StoredStatusEvent?
    /// Stores what a write to an open ticket did (or why it did nothing) and releases its claim,
    /// in one transaction: the link's state and alert status, the applied status event (and
    /// the older ones it supersedes), the processed mark and the outgoing event.
    func completeStatus(link: TicketLink, workerID: String, record: WrittenRecord?, alertStatus: AlertStatus?, statusEventAt: Date?,
                        resolvedAt: Date??, linkStatus: TicketLink.Status?, reopened: Bool, applied: AlertEvent?, processed: AlertEvent?,
                        outcome: String, outgoing: TicketEvent?) async throws

    /// The alert's newest link.
    func link(customerID: String, alertID: String) async throws -> TicketLink?
    func link(id: Int) async throws -> TicketLink?
    /// All of the alert's links, oldest first.
    func links(customerID: String, alertID: String) async throws -> [TicketLink]
}

extension TicketRepository {
    public func markProcessed(event: AlertEvent, outcome: String) async throws {
        try await markProcessed(event: event, outcome: outcome, outgoing: nil)
    }

    /// A write that changed nothing: releases the claim and records the outcome.
    public func completeStatus(link: TicketLink, workerID: String, record: WrittenRecord? = nil, alertStatus: AlertStatus? = nil,
                               statusEventAt: Date? = nil, resolvedAt: Date?? = nil, linkStatus: TicketLink.Status? = nil, reopened: Bool = false,
                               applied: AlertEvent?, processed: AlertEvent?, outcome: String, outgoing: TicketEvent?) async throws {
        try await completeStatus(link: link, workerID: workerID, record: record, alertStatus: alertStatus, statusEventAt: statusEventAt,
                                 resolvedAt: resolvedAt, linkStatus: linkStatus, reopened: reopened, applied: applied, processed: processed,
                                 outcome: outcome, outgoing: outgoing)
    }
}
