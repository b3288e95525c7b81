import ITSMCore
import ITSMCoreTesting
import Logging
import TestSupport
import Testing

/// The relay's rules over the in-memory outbox: what is confirmed is marked, what fails stays
/// with its reason and goes out on a later pass, and concurrent relays never share an entry.
struct OutboxRelayTests {
    let outbox = InMemoryEventOutbox()
    let publisher = RecordingPublisher()

    func relay(batchSize: Int = 200) -> OutboxRelay {
        OutboxRelay(outbox: outbox, publisher: publisher, signal: OutboxSignal(), pollInterval: .seconds(1), batchSize: batchSize,
                    logger: Logger(label: "outbox-relay-tests"))
    }

    @Test func confirmedEventsAreMarkedAndNotSentAgain() async throws {
        for _ in 0..<5 { outbox.add() }
        #expect(try await relay().relayBatch() == 5)
        #expect(outbox.rows.filter { !$0.published }.isEmpty)
        #expect(try await relay().relayBatch() == 0)
        #expect(publisher.published.count == 5)
    }

    @Test func aFailedPublishStaysWithItsReasonAndGoesOutLater() async throws {
        for _ in 0..<3 { outbox.add() }
        publisher.fail(eventIDs: ["event-2"])
        #expect(try await relay().relayBatch() == 2)
        let failed = try #require(outbox.rows.first { $0.entry.eventID == "event-2" })
        #expect(!failed.published && failed.attempts == 1 && failed.lastError == "the broker did not confirm")
        publisher.fail(eventIDs: [])
        #expect(try await relay().relayBatch() == 1)
        #expect(outbox.rows.filter { !$0.published }.isEmpty)
    }

    @Test func relaysRunningAtOnceNeverPublishAnEntryTwice() async throws {
        for _ in 0..<100 { outbox.add() }
        let relays = (0..<4).map { _ in relay(batchSize: 10) }
        await withTaskGroup(of: Void.self) { group in
            for relay in relays {
                group.addTask { while (try? await relay.relayBatch()) ?? 0 > 0 {} }
            }
        }
        #expect(outbox.rows.filter { !$0.published }.isEmpty)
        #expect(publisher.published.count == 100)
        #expect(Set(publisher.published).count == 100)
    }

    /// The relay's loop with a poll of an hour: what is handed to it goes out and its row is
    /// deleted without the poll (which leaves handed rows), and rows queued for the poll still go
    /// out when notified. A refused handed event goes back to the poll with its reason.
    @Test func theRunningRelayPublishesWhatIsHandedToItAndDeletesItsRow() async throws {
        let signal = OutboxSignal()
        let relay = OutboxRelay(outbox: outbox, publisher: publisher, signal: signal, pollInterval: .seconds(3600),
                                logger: Logger(label: "outbox-relay-tests"))
        #expect(!signal.takesHandoffs)
        let running = Task { try await relay.run() }
        #expect(await eventually(10) { signal.takesHandoffs && signal.bookkeeping.waiting == 1 })

        publisher.fail(eventIDs: ["event-2"])
        for _ in 0..<3 { signal.hand(outbox.add(handed: true)) }
        // The confirmed rows are deleted before the refused one goes back to the poll: wait for both.
        #expect(await eventually(10) { outbox.deleted == 2 && outbox.rows.first.map { !$0.handed } == true })
        #expect(outbox.rows.map(\.entry.eventID) == ["event-2"])
        let refused = try #require(outbox.rows.first)
        #expect(!refused.published && !refused.handed && refused.attempts == 1 && refused.lastError == "the broker did not confirm")

        publisher.fail(eventIDs: [])
        outbox.add()
        signal.notify()
        #expect(await eventually(10) { outbox.rows.allSatisfy(\.published) })
        #expect(publisher.published.sorted() == ["event-1", "event-2", "event-3", "event-4"])

        running.cancel()
        _ = try? await running.value
        #expect(!signal.takesHandoffs)
    }

    /// Confirmed handed rows are deleted together: when a batch is full, or at the shutdown,
    /// not one statement per event.
    @Test func confirmedHandedRowsAreDeletedTogether() async throws {
        let signal = OutboxSignal()
        let relay = OutboxRelay(outbox: outbox, publisher: publisher, signal: signal, pollInterval: .seconds(3600), batchSize: 3,
                                deleteInterval: .seconds(3600), logger: Logger(label: "outbox-relay-tests"))
        let running = Task { try await relay.run() }
        #expect(await eventually(10) { signal.takesHandoffs && signal.bookkeeping.waiting == 1 })
        for _ in 0..<2 { signal.hand(outbox.add(handed: true)) }
        #expect(await eventually(10) { publisher.published.count == 2 && signal.bookkeeping.waiting == 1 })
        #expect(outbox.deletes == 0)
        signal.hand(outbox.add(handed: true))
        #expect(await eventually(10) { outbox.deleted == 3 })
        #expect(outbox.deletes == 1)

        signal.hand(outbox.add(handed: true))
        #expect(await eventually(10) { publisher.published.count == 4 && signal.bookkeeping.waiting == 1 })
        #expect(outbox.deleted == 3)
        running.cancel()
        _ = try? await running.value
        #expect(outbox.deleted == 4 && outbox.deletes == 2 && outbox.rows.isEmpty)
    }
}
