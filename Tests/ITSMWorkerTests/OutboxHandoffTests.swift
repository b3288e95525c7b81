import Foundation
@testable import ITSMCore
import ITSMCoreTesting
import ITSMPostgres
import Postgres
import Synchronization
import Testing

/// A new ticket's `ticket.created` is handed to the relay of the process that committed it,
/// and its outbox row waits out a grace before any relay's poll may take it: so the relay does
/// not read back what it was handed, and an event whose worker died is still published.
struct OutboxHandoffTests {
    typealias Contract = TicketRepositoryContract

    /// The `ticket.created` row of `alertID`: its id, and seconds from creation until due.
    func row(_ pool: PostgresPool, alertID: String) async throws -> (id: Int, grace: Double) {
        let row = try await pool.query("""
            SELECT id, extract(epoch FROM relay_after - created_at)::float8 AS grace FROM outbox WHERE payload ->> 'alert_id' = $1
            """, [.text(alertID)])[0]
        return (try row["id"].int(), try row["grace"].double())
    }

    /// Event ids the poll hands to its publisher (all confirmed).
    func poll(_ outbox: PostgresEventOutbox) async throws -> [String] {
        let taken = Mutex<[String]>([])
        _ = try await outbox.relay(limit: 100) { entries in
            taken.withLock { $0 = entries.map(\.eventID) }
            return PublishReport(confirmed: entries.map(\.id))
        }
        return taken.withLock { $0 }
    }

    @Test func aHandedEventWaitsOutItsGraceForThePollAndIsDeletedByItsRelay() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_handoff") { pool in
            let signal = OutboxSignal()
            signal.relayStarted()
            let store = TicketStore(pool: pool, outbox: signal)
            let outbox = PostgresEventOutbox(pool: pool)

            let first = Contract.raised()
            _ = try await Contract.open(first, in: store)
            let handed = signal.take()
            #expect(!handed.rowsQueued && handed.handed.count == 1)
            let entry = try #require(handed.handed.first)
            let stored = try await row(pool, alertID: first.alert.id)
            #expect(entry.id == stored.id && entry.routingKey == "ticket.created")
            #expect(stored.grace >= 5 && stored.grace <= 60, "a handed row is due after a grace of seconds, not \(stored.grace)")
            let payload = try JSONSerialization.jsonObject(with: Data(entry.payload)) as? [String: Any]
            #expect(payload?["event_id"] as? String == entry.eventID)

            // Within the grace, the poll leaves it to the relay it was handed to.
            #expect(try await poll(outbox).isEmpty)
            try await outbox.deletePublished([entry.id])
            #expect(try await pool.query("SELECT 1 FROM outbox WHERE id = $1", [.int(entry.id)]).isEmpty)

            // A handed row whose relay never deleted it (its worker died) is due once the grace
            // has passed, to any relay.
            let orphan = Contract.raised()
            _ = try await Contract.open(orphan, in: store)
            let orphanEntry = try #require(signal.take().handed.first)
            #expect(try await poll(outbox).isEmpty)
            try await pool.execute("UPDATE outbox SET relay_after = now() - interval '1 second' WHERE id = $1", [.int(orphanEntry.id)])
            #expect(try await poll(outbox).contains(orphanEntry.eventID))

            // One the broker refused goes back to the poll at once, with the reason.
            let refused = Contract.raised()
            _ = try await Contract.open(refused, in: store)
            let refusedEntry = try #require(signal.take().handed.first)
            try await outbox.returnToPoll([.init(id: refusedEntry.id, reason: "no confirm")])
            let attempts = try await pool.query("SELECT attempts, last_error FROM outbox WHERE id = $1", [.int(refusedEntry.id)])[0]
            #expect(try attempts["attempts"].int() == 1 && attempts["last_error"].string() == "no confirm")
            #expect(try await poll(outbox).contains(refusedEntry.eventID))
        }
    }

    /// Completions batched into one statement each hand the id of their own row: the relay
    /// deletes by these ids, so a mix-up would delete another event's row before it went out.
    @Test func batchedCompletionsHandTheirOwnRows() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_handoff") { pool in
            let signal = OutboxSignal()
            signal.relayStarted()
            let store = TicketStore(pool: pool, outbox: signal)
            let events = (0..<40).map { _ in Contract.raised() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for event in events { group.addTask { _ = try await Contract.open(event, in: store) } }
                try await group.waitForAll()
            }
            let handed = signal.take().handed
            #expect(handed.count == events.count)
            let rows = try await pool.query("SELECT id, event_id::text AS event_id, payload ->> 'alert_id' AS alert_id FROM outbox")
            let byID = try Dictionary(uniqueKeysWithValues: rows.map { (try $0["id"].int(), (try $0["event_id"].string(), try $0["alert_id"].string())) })
            for entry in handed {
                let payload = try JSONSerialization.jsonObject(with: Data(entry.payload)) as? [String: Any]
                #expect(byID[entry.id]?.0 == entry.eventID && byID[entry.id]?.1 == payload?["alert_id"] as? String)
            }
            // The statement batched them (else this test proves nothing about the batch).
            let statements = try await pool.query("""
                SELECT count(DISTINCT xmin::text) AS n FROM outbox
                """)[0]["n"].int()
            #expect(statements < events.count, "no two completions shared a statement")
        }
    }

    @Test func withoutARelayInTheProcessTheRowIsDueAtOnce() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_handoff") { pool in
            let signal = OutboxSignal()
            let store = TicketStore(pool: pool, outbox: signal)
            let event = Contract.raised()
            _ = try await Contract.open(event, in: store)
            let wake = signal.take()
            #expect(wake.rowsQueued && wake.handed.isEmpty)
            #expect(try await row(pool, alertID: event.alert.id).grace == 0)
            #expect(try await poll(PostgresEventOutbox(pool: pool)).count == 1)
        }
    }
}
