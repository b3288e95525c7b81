import Coordination
import Logging
import ServiceLifecycle

/// Publishes the events that transactions wrote to the outbox, with publisher confirms, and
/// marks them published. Several workers may relay at once (the outbox gives each its own
/// entries); after a crash, whatever was not confirmed is published again, so consumers must
/// dedupe by `event_id`.
public struct OutboxRelay: Service {
    let outbox: any EventOutbox
    let publisher: any EventPublisher
    let signal: OutboxSignal
    let pollInterval: Duration
    let batchSize: Int
    /// A batch that would start within this of the previous one's end (the relay is busy) first
    /// waits this long for company, as the claim and completion batches do: under load each batch
    /// is a transaction of four round trips, and without the wait it carried three or four events.
    let linger: Duration?
    let logger: Logger

    public init(outbox: any EventOutbox, publisher: any EventPublisher, signal: OutboxSignal, pollInterval: Duration, batchSize: Int = 200,
                linger: Duration? = .milliseconds(2), logger: Logger) {
        self.outbox = outbox
        self.publisher = publisher
        self.signal = signal
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.linger = linger
        self.logger = logger
    }

    public func run() async throws {
        let failureBackoff = Backoff(initial: max(pollInterval, .milliseconds(100)), maximum: max(pollInterval, .seconds(10)))
        var failures = 0
        var lastEnd: ContinuousClock.Instant?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if let linger, let lastEnd, ContinuousClock.now - lastEnd < linger { try? await Task.sleep(for: linger) }
                defer { lastEnd = .now }
                let published = try await relayBatch()
                failures = 0
                if published >= batchSize { continue }
            } catch {
                failures += 1
                logger.warning("outbox relay failed; will retry", metadata: ["error": "\(error)"])
            }
            let wait = failures == 0 ? pollInterval : failureBackoff.delay(afterFailures: failures)
            await cancelWhenGracefulShutdown { await signal.wait(timeout: wait) }
        }
        // Flush: events committed before the shutdown go out before the connections close.
        for _ in 0..<20 {
            guard let published = try? await relayBatch(), published > 0 else { break }
        }
    }

    /// Publishes one batch; returns how many were confirmed.
    @discardableResult
    public func relayBatch() async throws -> Int {
        let publisher = self.publisher
        let report = try await outbox.relay(limit: batchSize) { entries in
            await withTaskGroup(of: (Int, String?).self) { group in
                for entry in entries {
                    group.addTask {
                        do {
                            try await publisher.publish(entry)
                            return (entry.id, nil)
                        } catch {
                            return (entry.id, "\(error)")
                        }
                    }
                }
                var report = PublishReport()
                for await (id, failure) in group {
                    if let failure { report.failed.append(.init(id: id, reason: failure)) } else { report.confirmed.append(id) }
                }
                return report
            }
        }
        if let first = report.failed.first {
            logger.warning("some events could not be published; they stay in the outbox",
                           metadata: ["failed": "\(report.failed.count)", "error": "\(first.reason)"])
        }
        return report.confirmed.count
    }
}
