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
    /// How long the rows of confirmed handed events may wait to be deleted together: under load
    /// one statement every this long rather than one per batch. (A worker that dies in between
    /// leaves them to be published again after their grace: duplicates, which consumers drop.)
    let deleteInterval: Duration
    let logger: Logger

    public init(outbox: any EventOutbox, publisher: any EventPublisher, signal: OutboxSignal, pollInterval: Duration, batchSize: Int = 200,
                linger: Duration? = .milliseconds(2), deleteInterval: Duration = .milliseconds(100), logger: Logger) {
        self.outbox = outbox
        self.publisher = publisher
        self.signal = signal
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.linger = linger
        self.deleteInterval = deleteInterval
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
        var confirmed = Confirmed()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if let linger, let lastEnd, ContinuousClock.now - lastEnd < linger {
                    await Linger.wait(for: linger)
                    // What came meanwhile goes in this batch.
                    let more = signal.take()
                    wake.rowsQueued = wake.rowsQueued || more.rowsQueued
                    wake.handed += more.handed
                }
                defer { lastEnd = .now }
                let handed = wake.handed
                wake.handed = []
                try await publishHanded(handed, confirmed: &confirmed)
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
            let untilDelete = confirmed.since.map { deleteInterval - (ContinuousClock.now - $0) } ?? untilPoll
            let wait = failures == 0 ? max(min(untilPoll, untilDelete), .zero) : failureBackoff.delay(afterFailures: failures)
            let next = await cancelWhenGracefulShutdown { await signal.wait(timeout: wait) } ?? OutboxSignal.Wake()
            wake.rowsQueued = wake.rowsQueued || next.rowsQueued
            wake.handed += next.handed
        }
        // Flush: events committed before the shutdown go out before the connections close.
        try? await publishHanded(wake.handed + signal.take().handed, confirmed: &confirmed, flush: true)
        for _ in 0..<20 {
            guard let published = try? await relayBatch(), published > 0 else { break }
        }
    }

    /// Rows of confirmed handed events not deleted yet, and since when the oldest waits.
    struct Confirmed {
        var ids: [Int] = []
        var since: ContinuousClock.Instant?
    }

    /// Publishes events handed over by the transactions that wrote them and deletes the confirmed
    /// ones' rows, together once ``deleteInterval`` has passed or a batch is full; a failed one
    /// goes back to the poll at once. Rows whose delete failed (the database away) are deleted
    /// with the next; until then the poll would publish them again once their grace is over.
    func publishHanded(_ handed: [OutboxEntry], confirmed: inout Confirmed, flush: Bool = false) async throws {
        var report = PublishReport()
        for start in stride(from: 0, to: handed.count, by: batchSize) {
            let part = await publishAll(Array(handed[start..<min(start + batchSize, handed.count)]))
            report.confirmed += part.confirmed
            report.failed += part.failed
        }
        if !report.confirmed.isEmpty {
            // Bounded: a database away for long costs duplicates, not memory.
            confirmed.ids = Array((confirmed.ids + report.confirmed).suffix(50_000))
            confirmed.since = confirmed.since ?? .now
        }
        if let since = confirmed.since, flush || confirmed.ids.count >= batchSize || ContinuousClock.now - since >= deleteInterval {
            try await outbox.deletePublished(confirmed.ids)
            confirmed = Confirmed()
        }
        if !report.failed.isEmpty {
            logFailures(report)
            try await outbox.returnToPoll(report.failed)
        }
    }

    /// Publishes one batch; returns how many were confirmed.
    @discardableResult
    public func relayBatch() async throws -> Int {
        let report = try await outbox.relay(limit: batchSize) { entries in await publishAll(entries) }
        logFailures(report)
        return report.confirmed.count
    }

    private func logFailures(_ report: PublishReport) {
        guard let first = report.failed.first else { return }
        logger.warning("some events could not be published; they stay in the outbox",
                       metadata: ["failed": "\(report.failed.count)", "error": "\(first.reason)"])
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
