import ServiceNow

/// How the worker settled one message; logged, counted, and decides the ack.
public enum ProcessingOutcome: Sendable, Equatable {
    case ticketCreated(number: String)
    case ticketUpdated(number: String)
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
        case .skipped(let reason): return "skipped_\(reason)"
        case .duplicate: return "duplicate"
        case .busy: return "busy"
        case .failed: return "failed"
        case .deferred: return "deferred"
        case .answered: return "answered"
        }
    }
}

/// A failure that may pass: the message is retried after a delay.
public struct RetryableFailure: Error, CustomStringConvertible {
    public let reason: String
    /// The least delay before trying again (a 429's Retry-After).
    public let retryAfter: Duration?
    /// For ServiceNow failures, the error itself.
    public let serviceNowError: ServiceNowError?
    /// Parked by a circuit breaker or bulkhead: retried without using up an attempt.
    public let parked: Bool

    public init(reason: String, retryAfter: Duration? = nil, serviceNowError: ServiceNowError? = nil, parked: Bool = false) {
        self.reason = reason
        self.retryAfter = retryAfter
        self.serviceNowError = serviceNowError
        self.parked = parked
    }

    public var description: String { reason }

    /// A retryable ServiceNow error. Rate limits and busy slots are the instance asking us to
    /// slow down, not the message failing: they park it without using an attempt.
    public init(_ error: ServiceNowError) {
        self.init(reason: error.description, retryAfter: error.retryAfter, serviceNowError: error,
                  parked: error.kind == .rateLimited || error.kind == .instanceBusy)
    }
}
