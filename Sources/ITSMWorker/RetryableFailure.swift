import ServiceNow

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
