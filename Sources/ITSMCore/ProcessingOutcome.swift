/// How the worker settled one message; logged, counted, and decides the ack.
public enum ProcessingOutcome: Sendable, Equatable {
    case ticketCreated(number: String)
    case ticketUpdated(number: String)
    /// The alert joined another alert's incident (grouping or storm protection).
    case ticketLinked(number: String)
    /// Not for ITSM (no integration, no mapping) or nothing to do; acked.
    case skipped(reason: String)
    /// Seen before; acked without effect.
    case duplicate
    /// Another attempt holds the alert's claim; retried later.
    case busy
    /// Given up: `ticket.failed` was published.
    case failed(code: String)
    /// Kept for later (a status event before its ticket exists); acked.
    case deferred
    /// A command (`integration.test`, `integration.fields`) was carried out and answered; acked.
    case answered

    /// The `outcome` label in logs and metrics.
    public var label: String {
        switch self {
        case .ticketCreated: return "ticket_created"
        case .ticketUpdated: return "ticket_updated"
        case .ticketLinked: return "ticket_linked"
        case .skipped(let reason): return "skipped_\(reason)"
        case .duplicate: return "duplicate"
        case .busy: return "busy"
        case .failed: return "failed"
        case .deferred: return "deferred"
        case .answered: return "answered"
        }
    }
}
