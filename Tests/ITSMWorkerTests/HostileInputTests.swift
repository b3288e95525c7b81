import AMQP
import Foundation
import ITSMCore
import ITSMCoreTesting
import ITSMPostgres
@testable import ITSMWorker
import Postgres
import ServiceNowSimulator
import TestSupport
import Testing

/// What a publisher or a customer's instance sends can be absurd; the shared worker stays up,
/// other customers go on, and the message gets a clear outcome.
@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct HostileInputTests {
    /// cust-1 on the first simulator and cust-2 on the second, both mapped for net-1.
    static func twoCustomers() async throws -> TestStack {
        let stack = try await TestStack.make(simulators: 2)
        for (index, customer) in ["cust-1", "cust-2"].enumerated() {
            try await stack.addIntegration(customer: customer, simulator: index)
            try await stack.addMapping(customer: customer, network: "net-1")
        }
        return stack
    }

    @Test func anInstanceAnsweringAbsurdNumbersStopsNoOtherCustomer() async throws {
        let stack = try await Self.twoCustomers()
        let worker = try await stack.startWorker()
        // Every API answer of cust-1's instance is a 429 with an absurd delay and reset.
        await stack.simulators[0].store.inject(.answer(status: 429, headers: ["Retry-After": "1e300", "X-RateLimit-Reset": "nan",
                                                                              "X-RateLimit-Limit": "-1", "Content-Type": "application/json"],
                                                       body: #"{"error":{"message":"Rate limit exceeded"},"status":"failure"}"#),
                                               count: -1, scope: .api)
        let hostile = "trg-hostile-\(UUID().uuidString.prefix(6))"
        try await stack.publishRaised(customer: "cust-1", alertID: hostile)
        #expect(await stack.eventually { stack.logs.all.contains { $0.contains("will retry") && $0.contains(hostile) } },
                "the hostile instance's alert was not scheduled for a retry")
        let healthy = "trg-healthy-\(UUID().uuidString.prefix(6))"
        try await stack.publishRaised(customer: "cust-2", alertID: healthy)
        #expect(await stack.eventually { stack.events.forAlert(healthy, type: "ticket.created").count == 1 })
        #expect(!worker.task.isCancelled)
        #expect(stack.events.forAlert(hostile).isEmpty, "the parked alert was given up on")
        await stack.simulators[0].store.clearFaults()
    }

    @Test(arguments: ["customer_id", "network_id", "alert.id", "event_id"])
    func identifiersWithControlCharactersAreDeadLettered(_ field: String) async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        try await stack.startWorker()
        var body: [String: Any] = [
            "schema": "ceburu.alert.v1", "event_id": UUID().uuidString, "type": "alert.raised", "occurred_at": "2026-11-29T03:00:00Z",
            "customer_id": "cust-1", "network_id": "net-1",
        ]
        var alert: [String: Any] = ["id": "trg-nul", "type": "cpu_usage", "severity": "critical", "title": "t"]
        if field == "alert.id" { alert["id"] = "trg-nul\u{0}evil" } else { body[field] = "\(body[field] as! String)\u{0}evil" }
        body["alert"] = alert
        try await stack.publish(try JSONSerialization.data(withJSONObject: body), routingKey: "alert.raised")
        let dead = try await stack.drainDeadLetters(expecting: 1)
        #expect(dead.count == 1)
        #expect(dead.first?.properties.headers["x-error-code"]?.stringValue == "invalid_value")
        #expect(dead.first?.properties.headers["x-reason"]?.stringValue?.contains("control characters") == true)
        #expect(await stack.incidents().isEmpty, "an identifier with a NUL reached an instance")
    }

    /// The attempt counter is the worker's own, read only from messages back from its retry
    /// queues: a publisher's header cannot make a fresh alert be given up on at its first failure.
    @Test func aPublishersAttemptHeaderIsIgnored() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        try await stack.startWorker()
        await stack.simulator.store.inject(.status(503), count: 1)
        let alertID = "trg-attempt-\(UUID().uuidString.prefix(6))"
        let body: [String: Any] = [
            "schema": "ceburu.alert.v1", "event_id": UUID().uuidString, "type": "alert.raised", "occurred_at": AlertEvent.formatTimestamp(Date()),
            "customer_id": "cust-1", "network_id": "net-1",
            "alert": ["id": alertID, "type": "cpu_usage", "severity": "critical", "title": "t"] as [String: Any],
        ]
        let headers: [String: AMQPFieldValue] = ["x-attempt": 99, "itsm-attempt": 99]
        let outcome = try await stack.publisher.publish(Array(try JSONSerialization.data(withJSONObject: body)), exchange: stack.configuration.alertsExchange,
                                                        routingKey: "alert.raised", properties: AMQPProperties(contentType: "application/json", headers: headers),
                                                        mandatory: true)
        #expect(outcome == .confirmed)
        #expect(await stack.eventually { stack.events.forAlert(alertID, type: "ticket.created").count == 1 })
        #expect(stack.events.forAlert(alertID, type: "ticket.failed").isEmpty)
    }

    /// Event ids are the customer's own: another customer reusing one cannot make the first
    /// customer's event a duplicate.
    @Test func anotherCustomersEventIDIsNoDuplicate() async throws {
        let stack = try await Self.twoCustomers()
        try await stack.startWorker()
        let eventID = UUID().uuidString.lowercased()
        let squatter = "trg-squat-\(UUID().uuidString.prefix(6))"
        try await stack.publishRaised(customer: "cust-2", alertID: squatter, eventID: eventID)
        #expect(await stack.eventually { stack.events.forAlert(squatter, type: "ticket.created").count == 1 })
        let alertID = "trg-real-\(UUID().uuidString.prefix(6))"
        try await stack.publishRaised(customer: "cust-1", alertID: alertID, eventID: eventID)
        #expect(await stack.eventually { stack.events.forAlert(alertID, type: "ticket.created").count == 1 })
        #expect(await stack.incidents(simulator: 0).count == 1)
    }

    /// An instance's `sys_updated_on` is stored as it came, whatever it holds: quotes, commas and
    /// backslashes must not split or shift the batch that stamps many tickets at once.
    @Test func changeStampsFromAnInstanceAreStoredExactlyHoweverTheyRead() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_stamps") { pool in
            let store = TicketStore(pool: pool)
            var links: [TicketLink] = []
            for _ in 0..<3 { links.append(try await TicketRepositoryContract.open(TicketRepositoryContract.raised(), in: store)) }
            let stamps = [#"2026-01-01 00:00:00","9999-12-31 23:59:59"#, #"back\slash\"#, "plain, {braced}"]
            try await PostgresSyncStore(pool: pool, workerID: "w1").refreshStamps(Array(zip(links.map(\.id), stamps)))
            for (link, stamp) in zip(links, stamps) {
                #expect(try await store.link(id: link.id)?.sysUpdatedOn == stamp)
            }
        }
    }

    @Test func processedEventsAndPublishedOutboxRowsArePrunedPastTheirRetention() async throws {
        let stack = try await TestStack.make()
        try await stack.pool.execute("""
            INSERT INTO processed_events (event_id, customer_id, event_type, outcome, processed_at)
            VALUES ('old', 'cust-1', 'alert.raised', 'ticket_created', now() - interval '20 days'),
                   ('new', 'cust-1', 'alert.raised', 'ticket_created', now())
            """)
        try await stack.pool.execute("""
            INSERT INTO outbox (event_id, routing_key, payload, published_at) VALUES
              (gen_random_uuid(), 'ticket.created', '{}', now() - interval '20 days'),
              (gen_random_uuid(), 'ticket.created', '{}', now()),
              (gen_random_uuid(), 'ticket.created', '{}', NULL)
            """)
        let pruned = try await TicketStore(pool: stack.pool).pruneHistory(olderThan: .seconds(14 * 24 * 3600))
        #expect(pruned == 2)
        #expect(try await stack.pool.query("SELECT event_id FROM processed_events").compactMap { try $0["event_id"].optionalString() } == ["new"])
        #expect(try await stack.pool.query("SELECT count(*) AS n FROM outbox").first?["n"].int() == 2)
    }

    /// Absent customers are cached too (most alerts are for customers without ITSM); a flood of
    /// invented customer ids evicts instead of growing the worker.
    @Test func aFloodOfUnknownCustomersStaysWithinTheCachesBound() async throws {
        let stack = try await TestStack.make()
        let cache = ConfigurationCache(store: ConfigurationStore(pool: stack.pool), ttl: .seconds(60), capacity: 50)
        for n in 0..<500 {
            #expect(try await cache.integration(customerID: "invented-\(n)") == nil)
            _ = try await cache.mapping(customerID: "invented-\(n)", networkID: "n", alertType: "t")
        }
        #expect(cache.count <= 100, "\(cache.count) entries for a bound of 50 per cache")
    }
}
