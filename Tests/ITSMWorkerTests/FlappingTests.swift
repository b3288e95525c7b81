import Foundation
import ITSMCore
import ITSMWorker
import Postgres
import ServiceNowSimulator
import Testing

/// An alert that keeps resolving and firing again: its incident stops bouncing, gets summary
/// notes, and is resolved once the alert stays resolved. Real broker, database and simulator;
/// the sync (the quiet timer) is driven by hand.
@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct FlappingTests {
    @Test func aFlappingAlertKeepsItsIncidentOpenUntilItStaysResolved() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker(roles: [.alerts, .status, .outbox]) {
            $0.flapping = FlapSettings(threshold: 3, window: .seconds(120), quiet: .seconds(2))
        }
        var clock = Date()
        func next() -> Date { clock = clock.addingTimeInterval(1); return clock }
        try await stack.publishRaised(alertID: "f", occurredAt: next())
        #expect(await stack.eventually { stack.events.forAlert("f", type: "ticket.created").count == 1 })
        let sysID = try #require(try await stack.link(alertID: "f")?.sysID)
        func state() async -> String? { await stack.simulator.store.record("incident", sysID: sysID)?["state"] }
        var updates = 0
        func settle() async -> Bool {
            updates += 1
            let expected = updates
            return await stack.eventually { stack.events.forAlert("f", type: "ticket.updated").count == expected }
        }
        // Two ordinary cycles: resolved, then reopened by the next fire.
        for _ in 0..<2 {
            try await stack.publishStatus("alert.resolved", alertID: "f", occurredAt: next())
            #expect(await settle())
            #expect(await state() == "6")
            try await stack.publishRaised(alertID: "f", occurredAt: next())
            #expect(await settle())
            #expect(await state() == "2")
        }
        // The third fire after a resolve makes it flapping: reopened once more, with a note
        // that says so.
        try await stack.publishStatus("alert.resolved", alertID: "f", occurredAt: next())
        #expect(await settle())
        try await stack.publishRaised(alertID: "f", occurredAt: next())
        #expect(await settle())
        #expect(await state() == "2")
        let notes = { await stack.simulator.store.journal(sysID: sysID, element: "work_notes").map { $0["value"] ?? "" } }
        #expect(await notes().last?.contains("the alert is flapping (3 fire/resolve cycles") == true)

        // From now on it does not bounce: resolves and fires change nothing on the instance.
        let writesBefore = await stack.simulator.store.requests().filter { $0.method == "PATCH" }.count
        for _ in 0..<3 {
            try await stack.publishStatus("alert.resolved", alertID: "f", occurredAt: next())
            #expect(await settle())
            #expect(await state() == "2")
            try await stack.publishRaised(alertID: "f", occurredAt: next())
            #expect(await settle())
        }
        #expect(await stack.simulator.store.requests().filter { $0.method == "PATCH" }.count == writesBefore,
                "a flapping alert's resolves and fires wrote to the instance")
        let lastUpdate = try #require(stack.events.forAlert("f", type: "ticket.updated").last)
        #expect(lastUpdate["alert_status"] as? String == "open", "Ceburu still learns each change of the alert")

        // Resolved, but not yet quiet for long enough: the sync leaves it open.
        try await stack.publishStatus("alert.resolved", alertID: "f", occurredAt: next())
        #expect(await settle())
        var report = try #require(await worker.runtime.sync.syncAll().first)
        #expect(report.flappingResolved == 0)
        #expect(await state() == "2")
        // Quiet for the quiet time (2 s here): resolved, with close notes that say why.
        try await Task.sleep(for: .seconds(2.5))
        report = try #require(await worker.runtime.sync.syncAll().first)
        #expect(report.flappingResolved == 1)
        #expect(await state() == "6")
        #expect(await stack.simulator.store.record("incident", sysID: sysID)?["close_notes"]?.contains("flapped") == true)
        #expect(try await stack.pool.query("SELECT 1 FROM flapping_alerts").isEmpty, "the alert no longer counts as flapping")
    }

    @Test func aSummaryNoteIsWrittenOncePerWindow() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        try await stack.startWorker(roles: [.alerts, .status, .outbox]) {
            $0.flapping = FlapSettings(threshold: 2, window: .seconds(3), quiet: .seconds(60))
        }
        var clock = Date()
        func next() -> Date { clock = clock.addingTimeInterval(1); return clock }
        var updates = 0
        func cycle() async throws {
            try await stack.publishStatus("alert.resolved", alertID: "s", occurredAt: next())
            updates += 1
            let afterResolve = updates
            #expect(await stack.eventually { stack.events.forAlert("s", type: "ticket.updated").count == afterResolve })
            try await stack.publishRaised(alertID: "s", occurredAt: next())
            updates += 1
            let afterFire = updates
            #expect(await stack.eventually { stack.events.forAlert("s", type: "ticket.updated").count == afterFire })
        }
        try await stack.publishRaised(alertID: "s", occurredAt: next())
        #expect(await stack.eventually { stack.events.forAlert("s", type: "ticket.created").count == 1 })
        let sysID = try #require(try await stack.link(alertID: "s")?.sysID)
        let summaries = {
            await stack.simulator.store.journal(sysID: sysID, element: "work_notes").filter { ($0["value"] ?? "").contains("still flapping") }.count
        }
        try await cycle()
        try await cycle()   // flapping from here (two cycles within 3 s)
        try await cycle()
        try await cycle()
        #expect(await summaries() == 0, "a summary before the window passed")
        try await Task.sleep(for: .seconds(3.2))
        try await cycle()
        #expect(await summaries() == 1)
        let text = await stack.simulator.store.journal(sysID: sysID, element: "work_notes").last?["value"] ?? ""
        #expect(text.contains("fired again 3 time(s) since the last note"), "\(text)")
    }
}

extension FlappingTests {
    /// Someone resolves the incident in ServiceNow while its alert flaps: the next fire reopens it
    /// rather than leaving a firing alert on a resolved incident.
    @Test func anIncidentResolvedInServiceNowWhileItsAlertFlapsIsReopenedByTheNextFire() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker(roles: [.alerts, .status, .outbox]) {
            $0.flapping = FlapSettings(threshold: 1, window: .seconds(120), quiet: .seconds(600))
        }
        var clock = Date()
        func next() -> Date { clock = clock.addingTimeInterval(1); return clock }
        try await stack.publishRaised(alertID: "p", occurredAt: next())
        #expect(await stack.eventually { stack.events.forAlert("p", type: "ticket.created").count == 1 })
        let sysID = try #require(try await stack.link(alertID: "p")?.sysID)
        func state() async -> String? { await stack.simulator.store.record("incident", sysID: sysID)?["state"] }
        // One cycle makes it flapping here.
        try await stack.publishStatus("alert.resolved", alertID: "p", occurredAt: next())
        #expect(await stack.eventually { await state() == "6" })
        try await stack.publishRaised(alertID: "p", occurredAt: next())
        #expect(await stack.eventually { await state() == "2" })
        try await stack.publishStatus("alert.resolved", alertID: "p", occurredAt: next())
        #expect(await stack.eventually { stack.events.forAlert("p", type: "ticket.updated").count == 3 })
        #expect(await state() == "2", "a flapping alert's resolve wrote to the incident")
        // The worker may still hold the link for the flap's note (written after the event); a
        // sync leaves a link being written alone, so wait until it is let go.
        #expect(await stack.eventually { (try? await stack.link(alertID: "p"))??.claimedBy == nil })

        let before = await stack.simulator.store.requests().count
        try await stack.simulator.store.operatorUpdate(sysID: sysID, fields: ["state": "6", "close_code": "Solution provided", "close_notes": "done"])
        let report = await worker.runtime.sync.syncAll().first
        let link = try await stack.link(alertID: "p")
        // The instance's state as the sync left it, and the requests since the operator's update:
        // a write of the worker's arriving after it would explain a sync that saw no change.
        let instance = await state() ?? "none"
        let since = await stack.simulator.store.requests().dropFirst(before).map { "\($0.method) \($0.path) \($0.status)" }
        #expect(report?.changes == 1, "\(String(describing: report)); link \(String(describing: link)); instance state \(instance); requests \(since)")
        try await stack.publishRaised(alertID: "p", occurredAt: next())
        #expect(await stack.eventually { await state() == "2" })
    }
}
