import Foundation
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Postgres
import ServiceNowSimulator
import TestSupport
import Testing

/// Work notes and comments people write in ServiceNow come back as `ticket.commented`; the
/// worker's own notes do not. Real broker, database and simulator; the sync is driven by hand.
@Suite(.stopsTestStacks, .timeLimit(.minutes(5)))
struct NotesSyncTests {
    func stack(settings: IntegrationSettings = IntegrationSettings(), configure: (inout WorkerConfiguration) -> Void = { _ in })
        async throws -> (TestStack, RunningWorker) {
        let stack = try await TestStack.make(configure: configure)
        try await stack.addIntegration(customer: "cust-1", settings: settings)
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker(roles: [.alerts, .status, .outbox])
        return (stack, worker)
    }

    @Test func notesAndCommentsPeopleWriteAreReportedOnceAndTheWorkersOwnAreNot() async throws {
        let (stack, worker) = try await stack()
        try await stack.publishRaised(alertID: "n1")
        #expect(await stack.eventually { stack.events.forAlert("n1", type: "ticket.created").count == 1 })
        // The worker writes a work note of its own.
        try await stack.publishStatus("alert.acknowledged", alertID: "n1", note: "on it")
        #expect(await stack.eventually { stack.events.forAlert("n1", type: "ticket.updated").count == 1 })
        let sysID = try #require(try await stack.link(alertID: "n1")?.sysID)
        try await stack.simulator.store.operatorUpdate(sysID: sysID, fields: ["work_notes": "Replaced the line card"])
        try await stack.simulator.store.operatorUpdate(sysID: sysID, fields: ["comments": "We are on it, ETA 30 minutes"])
        await stack.simulator.store.clearRequests()

        let report = try #require(await worker.runtime.sync.syncAll().first)
        #expect(report.comments == 2)
        #expect(report.noteRequests == 1, "one journal request for one batch of tickets")
        #expect(await stack.eventually { stack.events.ofType("ticket.commented").count == 2 })
        let comments = stack.events.ofType("ticket.commented").compactMap { $0["comment"] as? [String: Any] }
        let internalNote = try #require(comments.first { $0["field"] as? String == "work_notes" })
        #expect(internalNote["visibility"] as? String == "internal")
        #expect(internalNote["author"] as? String == "dana.operator")
        #expect(internalNote["text"] as? String == "Replaced the line card")
        let customerNote = try #require(comments.first { $0["field"] as? String == "comments" })
        #expect(customerNote["visibility"] as? String == "customer")
        #expect(customerNote["text"] as? String == "We are on it, ETA 30 minutes")
        #expect(stack.events.ofType("ticket.commented").allSatisfy { $0["alert_id"] as? String == "n1" })
        #expect(!comments.contains { ($0["text"] as? String)?.contains("Acknowledged in Ceburu") == true }, "the worker's own note was echoed")
        let journalRequests = await stack.simulator.store.requests().filter { $0.table == "sys_journal_field" }
        #expect(journalRequests.count == 1)
        #expect(journalRequests.first?.query.removingPercentEncoding?.contains("element_idIN\(sysID)") == true)

        // The next cycle reads the overlap again and reports nothing twice.
        let again = try #require(await worker.runtime.sync.syncAll().first)
        #expect(again.comments == 0)
        try await Task.sleep(for: .milliseconds(500))
        #expect(stack.events.ofType("ticket.commented").count == 2)
    }

    @Test func aCapPerCycleLeavesTheRestForTheNextCycleAndDropsNothing() async throws {
        let (stack, worker) = try await stack { $0.notesPerCycle = 3 }
        try await stack.publishRaised(alertID: "c1")
        #expect(await stack.eventually { stack.events.forAlert("c1", type: "ticket.created").count == 1 })
        let sysID = try #require(try await stack.link(alertID: "c1")?.sysID)
        // Seven entries within the same second or two: the cap must not lose any of them.
        for n in 1...7 { try await stack.simulator.store.operatorUpdate(sysID: sysID, fields: ["work_notes": "note \(n)"]) }
        var cycles: [IncidentSync.Report] = []
        for _ in 0..<4 { cycles.append(try #require(await worker.runtime.sync.syncAll().first)) }
        #expect(cycles.map(\.comments) == [3, 3, 1, 0])
        #expect(cycles.map(\.notesLeft) == [true, true, false, false])
        #expect(await stack.eventually { stack.events.ofType("ticket.commented").count == 7 })
        let texts = Set(stack.events.ofType("ticket.commented").compactMap { ($0["comment"] as? [String: Any])?["text"] as? String })
        #expect(texts == Set((1...7).map { "note \($0)" }))
    }

    @Test func theSwitchTurnsNotesOff() async throws {
        var settings = IntegrationSettings()
        settings.syncNotes = false
        let (stack, worker) = try await stack(settings: settings)
        try await stack.publishRaised(alertID: "q1")
        #expect(await stack.eventually { stack.events.forAlert("q1", type: "ticket.created").count == 1 })
        let sysID = try #require(try await stack.link(alertID: "q1")?.sysID)
        try await stack.simulator.store.operatorUpdate(sysID: sysID, fields: ["work_notes": "quiet please"])
        let report = try #require(await worker.runtime.sync.syncAll().first)
        #expect(report.noteRequests == 0)
        #expect(report.comments == 0)
    }
}

extension NotesSyncTests {
    /// An integration user that may not list sys_journal_field: the states still sync, and the
    /// notes' failure is reported, not the cycle's.
    @Test func aJournalTheUserMayNotReadDoesNotStopTheStateSync() async throws {
        let (stack, worker) = try await stack()
        try await stack.publishRaised(alertID: "r1")
        #expect(await stack.eventually { stack.events.forAlert("r1", type: "ticket.created").count == 1 })
        let sysID = try #require(try await stack.link(alertID: "r1")?.sysID)
        await stack.simulator.store.configure { $0.deniedOperations.insert("sys_journal_field.query") }
        try await stack.simulator.store.operatorUpdate(sysID: sysID, fields: ["state": "2"])
        let report = try #require(await worker.runtime.sync.syncAll().first)
        #expect(report.outcome == "ok")
        #expect(report.changes == 1)
        #expect(report.notesError != nil)
        #expect(await stack.eventually { stack.events.forAlert("r1", type: "ticket.state_changed").count == 1 })
    }
}
