import Foundation

/// The rules of one alert's tickets: who may create one, what a re-fire does, which status event
/// wins. Pure decisions; the stores and handlers carry them out (the PostgreSQL store inside
/// its transactions, the in-memory twin in the tests).
public enum TicketLifecycle {
    /// What an `alert.raised` may do, given the alert's live (pending or open) link.
    public enum ClaimDecision: Sendable, Equatable {
        /// No live link: create a new ticket (the next generation).
        case createNew
        /// The alert already has an open ticket.
        case open(TicketLink)
        /// Another attempt holds an unexpired claim; try again later.
        case busy
        /// A pending link whose claim expired or was released: take it over, and search
        /// ServiceNow by correlation_id before creating, since the earlier attempt may have
        /// created the incident before it stopped.
        case takeOver(TicketLink)
    }

    public static func claim(live: TicketLink?, now: Date) -> ClaimDecision {
        guard let live else { return .createNew }
        if live.status == .open { return .open(live) }
        if live.claimedBy != nil, let expires = live.claimExpiresAt, expires > now { return .busy }
        return .takeOver(live)
    }

    /// What an alert that fires again does to its open ticket.
    public enum RefireDecision: Sendable, Equatable {
        /// A work note on the ticket.
        case addNote
        /// The alert was resolved moments ago: a work note, and the ticket back in progress.
        case reopen
        /// A new ticket that links the previous one: ServiceNow closed or canceled this one, or
        /// the alert was resolved longer ago than the reopen window.
        case replace
    }

    public static func refire(_ link: TicketLink, now: Date, reopenWindow: Duration) -> RefireDecision {
        if link.state?.isFinal == true { return .replace }
        guard link.alertStatus == .resolved else { return .addNote }
        // A resolved link without its time predates the column: too old to reopen.
        guard let resolvedAt = link.resolvedAt, now.timeIntervalSince(resolvedAt) <= reopenWindow.seconds else { return .replace }
        return .reopen
    }

    /// Whether a write ServiceNow refused means the ticket is gone for good (deleted, or closed
    /// or canceled since the worker last looked), so a re-fire gets a new ticket.
    public static func refusedWriteEndsTicket(deleted: Bool, currentState: IncidentState?) -> Bool {
        deleted || currentState?.isFinal == true
    }

    /// What the newest waiting status event does to the alert's open ticket.
    public enum StatusDecision: Sendable, Equatable {
        /// Write it to the ticket.
        case apply(AlertStatus)
        /// Not newer than the last status applied: events are applied by `occurred_at`, so a
        /// late delivery of an older event never undoes a newer one.
        case stale
        /// ServiceNow closed or canceled the ticket; it takes no more writes.
        case ticketClosed
    }

    public static func status(_ kind: AlertEvent.Kind, occurredAt: Date, on link: TicketLink) -> StatusDecision {
        if let last = link.statusEventAt, occurredAt <= last { return .stale }
        if link.state?.isFinal == true { return .ticketClosed }
        return .apply(AlertStatus(kind))
    }

    /// Whether a claim of `age` still covers a write to ServiceNow: what is left of it must hold
    /// a write window (slot wait and request) plus half of the lease's margin over that, for the
    /// token request or the clock's drift. A claim taken moments ago (the usual case) does, which
    /// saves the renewal's round trip; an older one is renewed before the write.
    public static func claimCovers(writeWindow: Duration, lease: Duration, age: Duration) -> Bool {
        lease - age >= writeWindow + (lease - writeWindow) / 2
    }
}
