import Foundation

public struct ProcessingObserver: Sendable {
    let onProcessed: @Sendable (String, MessageProcessor.Settlement, Duration) -> Void
    let onParked: @Sendable () -> Void

    public init(onParked: @escaping @Sendable () -> Void = {},
                _ onProcessed: @escaping @Sendable (_ type: String, _ settlement: MessageProcessor.Settlement, _ duration: Duration) -> Void) {
        self.onProcessed = onProcessed
        self.onParked = onParked
    }

    public static let none = ProcessingObserver { _, _, _ in }

    package func processed(type: String, settlement: MessageProcessor.Settlement, duration: Duration) {
        onProcessed(type, settlement, duration)
    }

    /// A message parked by a circuit breaker or bulkhead.
    package func parked() { onParked() }
}
