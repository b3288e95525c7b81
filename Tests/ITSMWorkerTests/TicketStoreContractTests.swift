import Foundation
import ITSMCore
import ITSMCoreTesting
import ITSMPostgres
import ITSMWorker
import Logging
import Postgres
import Testing

/// The PostgreSQL ticket store keeps the same contract as the in-memory twin the core's unit
/// tests use (`TicketRepositoryContract`), so what those tests prove holds for the store.
struct TicketStoreContractTests {
    @Test func theStoreKeepsTheTicketRepositoryContract() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_contract") { pool in
            let store = TicketStore(pool: pool)
            for (name, check) in TicketRepositoryContract.all {
                do {
                    try await check(store)
                } catch {
                    Issue.record("\(name): \(error)")
                }
            }
        }
    }
}

/// Storm protection's count of new incidents is a sliding minute: what the previous minute opened
/// still counts for the part of it the last 60 seconds cover.
struct StormBudgetTests {
    func event(_ alertID: String) -> AlertEvent {
        AlertEvent(eventID: UUID().uuidString, kind: .raised, occurredAt: Date(), customerID: "cust-1", networkID: "net-1",
                   alert: AlertEvent.Alert(id: alertID, type: "cpu_usage", title: "CPU"))
    }

    @Test func thePreviousMinuteCountsForWhatTheLastSixtySecondsCover() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_budget") { pool in
            let store = TicketStore(pool: pool, storm: StormProtection(maxNewPerMinute: 4))
            func claim(_ alertID: String, minuteBeganSecondsAgo: Int, opened: Int) async throws -> TicketLink? {
                try await pool.execute("DELETE FROM incident_budgets")
                try await pool.execute("""
                    INSERT INTO incident_budgets (customer_id, network_id, window_start, opened, previous)
                    VALUES ('cust-1', 'net-1', now() - make_interval(secs => $1), $2, 0)
                    """, [.int(minuteBeganSecondsAgo), .int(opened)])
                guard case .claimed(let link, _) = try await store.claim(event: event(alertID), table: "incident", workerID: "w1", lease: .seconds(60)) else {
                    return nil
                }
                return link
            }
            // A full minute (4) that ended 10 s ago: 4 × 50/60 of it is still within the last
            // minute, so one more is past the limit (a fixed minute would have started afresh).
            let late = try #require(try await claim("a1", minuteBeganSecondsAgo: 70, opened: 4))
            #expect(late.groupKind == .storm)
            // The same minute that ended 55 s ago: 4 × 5/60 of it counts; the alert opens its own.
            let later = try #require(try await claim("a2", minuteBeganSecondsAgo: 115, opened: 4))
            #expect(later.groupKind == nil)
            // Within the current minute, the limit is the limit: a fifth joins the storm, whose
            // incident a1 is still creating, so it waits.
            #expect(try await claim("a3", minuteBeganSecondsAgo: 10, opened: 4) == nil)
            #expect(try await store.link(customerID: "cust-1", alertID: "a3") == nil)
            let fourth = try #require(try await claim("a4", minuteBeganSecondsAgo: 10, opened: 3))
            #expect(fourth.groupKind == nil)
            // Two minutes quiet: nothing counts.
            let fresh = try #require(try await claim("a5", minuteBeganSecondsAgo: 130, opened: 4))
            #expect(fresh.groupKind == nil)
        }
    }
}
