import ITSMCore
import ITSMCoreTesting
import Logging
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
}
