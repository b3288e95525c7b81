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
    /// is a round trip at least (a poll, four), and without the wait it carried three or four events.
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
        signal.relayStarted()
        defer { signal.relayStopped() }
        let failureBackoff = Backoff(initial: max(pollInterval, .milliseconds(100)), maximum: max(pollInterval, .seconds(10)))
        var failures = 0
        var lastEnd: ContinuousClock.Instant?
        var lastPoll: ContinuousClock.Instant?
        var wake = OutboxSignal.Wake(rowsQueued: true)
        var undeleted: [Int] = []
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if let linger, let lastEnd, ContinuousClock.now - lastEnd < linger {
                    try? await Task.sleep(for: linger)
                    // What came meanwhile goes in this batch.
                    let more = signal.take()
                    wake.rowsQueued = wake.rowsQueued || more.rowsQueued
                    wake.handed += more.handed
                }
                defer { lastEnd = .now }
                let handed = wake.handed
                wake.handed = []
                try await publishHanded(handed, undeleted: &undeleted)
                // Handed events need no poll; rows queued otherwise, and those a dead worker
                // left, do (the latter at least once per poll interval).
                if wake.rowsQueued || lastPoll.map({ ContinuousClock.now - $0 >= pollInterval }) ?? true {
                    wake.rowsQueued = false
                    lastPoll = .now
                    if try await relayBatch() >= batchSize { wake.rowsQueued = true }
                }
                failures = 0
                if wake.rowsQueued { continue }
            } catch {
                failures += 1
                logger.warning("outbox relay failed; will retry", metadata: ["error": "\(error)"])
            }
            let untilPoll = lastPoll.map { pollInterval - (ContinuousClock.now - $0) } ?? .zero
            let wait = failures == 0 ? max(untilPoll, .zero) : failureBackoff.delay(afterFailures: failures)
            let next = await cancelWhenGracefulShutdown { await signal.wait(timeout: wait) } ?? OutboxSignal.Wake()
            wake.rowsQueued = wake.rowsQueued || next.rowsQueued
            wake.handed += next.handed
        }
        // Flush: events committed before the shutdown go out before the connections close.
        try? await publishHanded(wake.handed + signal.take().handed, undeleted: &undeleted)
        for _ in 0..<20 {
            guard let published = try? await relayBatch(), published > 0 else { break }
        }
    }

    /// Publishes events handed over by the transactions that wrote them and deletes the confirmed
    /// ones' rows in one statement; a failed one goes back to the poll at once. Confirmed events
    /// whose delete failed (the database away) are deleted with the next batch; until then their
    /// rows would be published again by the poll once their grace is over.
    func publishHanded(_ handed: [OutboxEntry], undeleted: inout [Int]) async throws {
        var report = PublishReport()
        for start in stride(from: 0, to: handed.count, by: batchSize) {
            let part = await publishAll(Array(handed[start..<min(start + batchSize, handed.count)]))
            report.confirmed += part.confirmed
            report.failed += part.failed
        }
        // Bounded: a database away for long costs duplicates, not memory.
        undeleted = Array((undeleted + report.confirmed).suffix(50_000))
        if !undeleted.isEmpty {
            try await outbox.deletePublished(undeleted)
            undeleted = []
        }
        if let first = report.failed.first {
            logger.warning("some events could not be published; they stay in the outbox",
                           metadata: ["failed": "\(report.failed.count)", "error": "\(first.reason)"])
            try await outbox.returnToPoll(report.failed)
        }
    }

    /// Publishes one batch; returns how many were confirmed.
    @discardableResult
    public func relayBatch() async throws -> Int {
        let report = try await outbox.relay(limit: batchSize) { entries in await publishAll(entries) }
        if let first = report.failed.first {
            logger.warning("some events could not be published; they stay in the outbox",
                           metadata: ["failed": "\(report.failed.count)", "error": "\(first.reason)"])
        }
        return report.confirmed.count
    }

    private func publishAll(_ entries: [OutboxEntry]) async -> PublishReport {
        let publisher = self.publisher
        return await withTaskGroup(of: (Int, String?).self) { group in
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
}
