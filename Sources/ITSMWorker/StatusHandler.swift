import ITSMCore
import Logging

/// Processes `alert.acknowledged` and `alert.resolved`.
public struct StatusHandler: Sendable {
    public func handle(_ event: AlertEvent, logger: Logger) async throws -> ProcessingOutcome {
        throw RetryableFailure(reason: "status events are not handled yet")
    }
}
