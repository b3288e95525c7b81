/// A failure that may pass: the message is retried after a delay.
public struct RetryableFailure: Error, CustomStringConvertible {
    public let reason: String
    /// The least delay before trying again (a 429's Retry-After).
    public let retryAfter: Duration?
    /// For an instance's failures, the error itself.
    public let gatewayError: GatewayError?
    /// Parked by a circuit breaker or bulkhead: retried without using up an attempt.
    public let parked: Bool
    /// The instance (its key) that is healthy but has more work than it can take now: the
    /// message waits its turn in that instance's hold queue rather than in the retry queues.
    public let busyInstance: String?

    public init(reason: String, retryAfter: Duration? = nil, gatewayError: GatewayError? = nil, parked: Bool = false, busyInstance: String? = nil) {
        self.reason = reason
        self.retryAfter = retryAfter
        self.gatewayError = gatewayError
        self.parked = parked || busyInstance != nil
        self.busyInstance = busyInstance
    }

    public var description: String { reason }

    /// A retryable instance error. Rate limits and busy slots are the instance asking us to slow
    /// down, not the message failing: they park it without using an attempt.
    public init(_ error: GatewayError) {
        self.init(reason: error.description, retryAfter: error.retryAfter, gatewayError: error, parked: error.parks)
    }
}
