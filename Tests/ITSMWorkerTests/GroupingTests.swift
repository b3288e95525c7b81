import Foundation
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Postgres
import ServiceNowSimulator
import TestSupport
import Testing

/// Alerts of a grouping mapping share their group's incident; past the storm limit a network's
/// alerts share its storm incident. Real broker, database and simulator.
@Suite(.stopsTestStacks, .timeLimit(.minutes(5)))
struct GroupingTests {
    static let byType = AlertGrouping(key: "{{network_id}}:{{alert.type}}", window: .seconds(900), resolve: .last)

    func posts(_ stack: TestStack) async -> Int {
        await stack.simulator.store.requests().filter { $0.method == "POST" && $0.table == "incident" }.count
    }

    @Test func alertsOfAGroupShareOneIncidentAndItResolvesWithTheLast() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1", grouping: Self.byType)
        try await stack.startWorker(roles: [.alerts, .status, .outbox])
        try await stack.publishRaised(alertID: "g0")
        #expect(await stack.eventually { stack.events.forAlert("g0", type: "ticket.created").count == 1 })
        for n in 1...4 { try await stack.publishRaised(alertID: "g\(n)") }
        #expect(await stack.eventually { stack.events.ofType("ticket.linked").count == 4 })

        let incidents = await stack.incidents()
        #expect(incidents.count == 1, "the group's alerts opened \(incidents.count) incidents")
        let sysID = try #require(incidents.first?["sys_id"])
        let created = try #require(stack.events.forAlert("g0", type: "ticket.created").first)
        #expect((created["group"] as? [String: Any])?["key"] as? String == "net-1:cpu_usage")
        let linked = stack.events.ofType("ticket.linked")
        #expect(Set(linked.compactMap { ($0["ticket"] as? [String: Any])?["sys_id"] as? String }) == [sysID])
        #expect(Set(linked.compactMap { ($0["group"] as? [String: Any])?["size"] as? Int }) == [2, 3, 4, 5])
        #expect(linked.allSatisfy { ($0["group"] as? [String: Any])?["key"] as? String == "net-1:cpu_usage" })
        // Each joining alert is named in the incident's work notes.
        #expect(await stack.eventually {
            let notes = await stack.simulator.store.journal(sysID: sysID, element: "work_notes").map { $0["value"] ?? "" }.joined(separator: "\n")
            return (1...4).allSatisfy { notes.contains("g\($0) (cpu_usage)") }
        })

        // The incident stays open until its last alert resolves.
        for n in 0...3 { try await stack.publishStatus("alert.resolved", alertID: "g\(n)") }
        #expect(await stack.eventually { stack.events.ofType("ticket.updated").count == 4 })
        #expect(await stack.simulator.store.record("incident", sysID: sysID)?["state"] == "1")
        try await stack.publishStatus("alert.resolved", alertID: "g4")
        #expect(await stack.eventually { await stack.simulator.store.record("incident", sysID: sysID)?["state"] == "6" })
        // Every alert's link takes the incident's state, so the sync does not report the worker's
        // own resolve back as a change made in ServiceNow, and the group ends.
        #expect(try await stack.eventually {
            let states = try await stack.pool.query("SELECT DISTINCT state FROM ticket_links WHERE group_id IS NOT NULL AND status = 'open'")
            return try states.map { try $0["state"].string() } == ["6"]
        })
        let groups = try await stack.pool.query("SELECT status FROM ticket_groups")
        #expect(try groups[0]["status"].string() == "ended")
        // A new alert of the key opens a new incident: the group ended with its resolve.
        try await stack.publishRaised(alertID: "g5")
        #expect(await stack.eventually { stack.events.forAlert("g5", type: "ticket.created").count == 1 })
        #expect(await stack.incidents().count == 2)
    }

    @Test func resolveFirstResolvesTheIncidentWithItsFirstAlert() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1", grouping: AlertGrouping(key: "{{alert.device.name}}", resolve: .first))
        try await stack.startWorker(roles: [.alerts, .status, .outbox])
        try await stack.publishRaised(alertID: "f0")
        #expect(await stack.eventually { stack.events.forAlert("f0", type: "ticket.created").count == 1 })
        try await stack.publishRaised(alertID: "f1")
        #expect(await stack.eventually { stack.events.forAlert("f1", type: "ticket.linked").count == 1 })
        try await stack.publishStatus("alert.resolved", alertID: "f1")
        let sysID = try #require(try await stack.link(alertID: "f0")?.sysID)
        #expect(await stack.eventually { await stack.simulator.store.record("incident", sysID: sysID)?["state"] == "6" })
        #expect(await stack.eventually { (try? await stack.pool.query("SELECT status FROM ticket_groups")[0]["status"].string()) == "ended" })
    }

    @Test func pastItsWindowAGroupTakesNoMoreAlerts() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1", grouping: AlertGrouping(key: "{{alert.device.name}}", window: .seconds(2)))
        try await stack.startWorker(roles: [.alerts, .status, .outbox])
        try await stack.publishRaised(alertID: "w0")
        #expect(await stack.eventually { stack.events.forAlert("w0", type: "ticket.created").count == 1 })
        try await Task.sleep(for: .seconds(2.5))
        // The first incident is still open, but its group's window has passed.
        try await stack.publishRaised(alertID: "w1")
        #expect(await stack.eventually { stack.events.forAlert("w1", type: "ticket.created").count == 1 })
        #expect(await stack.incidents().count == 2)
        #expect(stack.events.ofType("ticket.linked").isEmpty)
    }

    @Test func twoWorkersRacingToOpenAGroupOpenOneIncident() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1", grouping: Self.byType)
        let workers = [try await stack.startWorker(name: "w1"), try await stack.startWorker(name: "w2")]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<20 { group.addTask { try await stack.publishRaised(alertID: "r\(n)") } }
            try await group.waitForAll()
        }
        #expect(await stack.eventually(30) { stack.settled(workers[0], workers[1], type: "alert.raised") >= 20 })
        #expect(try await stack.eventsCaughtUp())
        #expect(await stack.incidents().count == 1)
        #expect(await posts(stack) == 1)
        #expect(stack.events.ofType("ticket.created").count == 1)
        #expect(stack.events.ofType("ticket.linked").count == 19)
        // Every alert has exactly one link, all on the one incident.
        let rows = try await stack.pool.query("SELECT count(*) AS links, count(DISTINCT alert_id) AS alerts, count(DISTINCT sys_id) AS incidents FROM ticket_links WHERE status = 'open'")
        #expect(try rows[0]["links"].int() == 20)
        #expect(try rows[0]["alerts"].int() == 20)
        #expect(try rows[0]["incidents"].int() == 1)
    }

    /// (The test stack turns storm protection off; the workers here turn it on.)
    @Test func aStormOnTwoWorkersOpensAHandfulOfIncidentsAndFewCalls() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        try await stack.addMapping(customer: "cust-1", network: "net-2")
        let workers = [try await stack.startWorker(name: "w1") { $0.storm.maxNewPerMinute = 5 },
                       try await stack.startWorker(name: "w2") { $0.storm.maxNewPerMinute = 5 }]
        await stack.simulator.store.clearRequests()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<300 { group.addTask { try await stack.publishRaised(alertID: "s\(n)") } }
            try await group.waitForAll()
        }
        #expect(await stack.eventually(60) { stack.settled(workers[0], workers[1], type: "alert.raised") >= 300 })
        #expect(try await stack.eventsCaughtUp())
        // Five incidents within the limit, and one storm incident for the rest.
        let incidents = await stack.incidents()
        #expect(incidents.count == 6, "\(incidents.map { $0["short_description"] ?? "" })")
        #expect(await posts(stack) == 6)
        let storm = try #require(incidents.first { $0["short_description"]?.hasPrefix("Alert storm on network net-1") == true })
        #expect(stack.events.ofType("ticket.created").count == 6)
        let linked = stack.events.ofType("ticket.linked")
        #expect(linked.count == 294)
        #expect(linked.allSatisfy { ($0["ticket"] as? [String: Any])?["sys_id"] as? String == storm["sys_id"] })
        #expect(linked.allSatisfy { ($0["group"] as? [String: Any])?["key"] as? String == "net-1" })
        // Work notes name the alerts in batches, and every one of them eventually (the sync
        // cycle writes what is left).
        let calls = await stack.simulator.store.requests().filter { $0.table == "incident" }.count
        #expect(calls < 30, "the storm cost \(calls) calls to the instance")
        print("storm of 300 alerts on two workers: \(incidents.count) incidents, \(calls) calls to the incident table")
        let sync = workers[0].runtime.sync
        _ = await sync.syncAll()
        let notes = await stack.simulator.store.journal(sysID: storm["sys_id"]!, element: "work_notes").map { $0["value"] ?? "" }
        #expect(notes.allSatisfy { $0.hasPrefix("Alert storm on network net-1:") })
        let named = Set(notes.flatMap { ($0.components(separatedBy: "so far): ").last ?? "").components(separatedBy: ", ") })
        #expect(named.count == 294, "\(named.count) alerts named in the storm's notes")
        let pending = try await stack.pool.query("SELECT count(*) AS n FROM ticket_links WHERE note_pending")
        #expect(try pending[0]["n"].int() == 0)

        // The other network is not in the storm.
        try await stack.publishRaised(network: "net-2", alertID: "calm")
        #expect(await stack.eventually { stack.events.forAlert("calm", type: "ticket.created").count == 1 })
    }
}

extension GroupingTests {
    /// The worker opening a group's incident dies between the create and the commit: the others
    /// wait, the survivor finds the incident by its correlation id, and they all join that one.
    @Test func aGroupsOpenerKilledBeforeItsCommitLeavesOneIncident() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1", grouping: Self.byType)
        var environment = stack.processEnvironment
        environment["ITSM_TEST_CRASH_AFTER_CREATE"] = "1"
        let doomed = try WorkerProcess(arguments: ["run"], environment: environment)
        try await stack.publishRaised(alertID: "o0")
        #expect(await doomed.waitForExit(within: 30) == SIGKILL, "\(doomed.log)")
        #expect(await stack.incidents().count == 1)
        for n in 1...3 { try await stack.publishRaised(alertID: "o\(n)") }

        let survivor = try WorkerProcess(arguments: ["run"], environment: stack.processEnvironment)
        defer { survivor.signal(SIGKILL) }
        #expect(await stack.eventually(30) { stack.events.ofType("ticket.linked").count == 3 }, "\(survivor.log)")
        #expect(stack.events.forAlert("o0", type: "ticket.created").count == 1)
        #expect(await stack.incidents().count == 1)
        #expect(await posts(stack) == 1, "a second incident was posted")
    }
}

extension GroupingTests {
    /// A storm incident's alerts: the first acknowledgement moves it to In Progress, the others
    /// change nothing on it, it resolves with its last alert, and the sync echoes none of it.
    @Test func aStormIncidentFollowsItsAlertsStatusAndTheSyncEchoesNothing() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker(roles: [.alerts, .status, .outbox]) { $0.storm.maxNewPerMinute = 1 }
        try await stack.publishRaised(alertID: "first")
        #expect(await stack.eventually { stack.events.forAlert("first", type: "ticket.created").count == 1 })
        try await stack.publishRaised(alertID: "s0")
        #expect(await stack.eventually { stack.events.forAlert("s0", type: "ticket.created").count == 1 })
        for n in 1...3 { try await stack.publishRaised(alertID: "s\(n)") }
        #expect(await stack.eventually { stack.events.ofType("ticket.linked").count == 3 })
        let sysID = try #require(try await stack.link(alertID: "s0")?.sysID)
        #expect(await stack.simulator.store.record("incident", sysID: sysID)?["short_description"] == "Alert storm on network net-1")
        let writes = { await stack.simulator.store.requests().filter { $0.method == "PATCH" && $0.path.hasSuffix(sysID) && $0.status == 200 }.count }
        // (The storm's first note is written after the joins' events: wait for it before counting
        // writes; the next may come only 15 s later.)
        #expect(await stack.eventually { await stack.simulator.store.journal(sysID: sysID, element: "work_notes").count == 1 })
        // The simulator logs a request once its answer is sent, after the journal shows the note.
        #expect(await stack.eventually { await writes() >= 1 })
        let notesWritten = await writes()

        try await stack.publishStatus("alert.acknowledged", alertID: "s2")
        #expect(await stack.eventually { stack.events.forAlert("s2", type: "ticket.updated").count == 1 })
        #expect(await stack.simulator.store.record("incident", sysID: sysID)?["state"] == "2")
        try await stack.publishStatus("alert.acknowledged", alertID: "s3")
        #expect(await stack.eventually { stack.events.forAlert("s3", type: "ticket.updated").count == 1 })
        #expect(await writes() == notesWritten + 1, "a second acknowledgement wrote to the incident")

        for n in 0...2 { try await stack.publishStatus("alert.resolved", alertID: "s\(n)") }
        #expect(await stack.eventually { stack.events.ofType("ticket.updated").filter { $0["alert_status"] as? String == "resolved" }.count == 3 })
        #expect(await stack.simulator.store.record("incident", sysID: sysID)?["state"] == "2")
        try await stack.publishStatus("alert.resolved", alertID: "s3")
        #expect(await stack.eventually { await stack.simulator.store.record("incident", sysID: sysID)?["state"] == "6" })
        #expect(await stack.eventually { (try? await stack.pool.query("SELECT status FROM ticket_groups")[0]["status"].string()) == "ended" })

        // Every change on the storm incident was the worker's own: the sync reports none.
        let report = try #require(await worker.runtime.sync.syncAll().first)
        #expect(report.changes == 0)
        #expect(try await stack.eventsCaughtUp())
        #expect(stack.events.ofType("ticket.state_changed").isEmpty)
    }
}

extension GroupingTests {
    @Test func resolveNeverLeavesTheIncidentToPeople() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1", grouping: AlertGrouping(key: "{{alert.type}}", resolve: .never))
        try await stack.startWorker(roles: [.alerts, .status, .outbox])
        try await stack.publishRaised(alertID: "n0")
        #expect(await stack.eventually { stack.events.forAlert("n0", type: "ticket.created").count == 1 })
        try await stack.publishRaised(alertID: "n1")
        #expect(await stack.eventually { stack.events.forAlert("n1", type: "ticket.linked").count == 1 })
        let sysID = try #require(try await stack.link(alertID: "n0")?.sysID)
        // (The join's work note is written after its event: wait for it before counting writes.)
        #expect(await stack.eventually {
            await stack.simulator.store.journal(sysID: sysID, element: "work_notes").contains { ($0["value"] ?? "").contains("n1 (") }
        })
        // The simulator logs a request once its answer is sent, after the journal shows the note.
        #expect(await stack.eventually { await stack.simulator.store.requests().contains { $0.method == "PATCH" && $0.path.hasSuffix(sysID) } })
        await stack.simulator.store.clearRequests()
        for alertID in ["n0", "n1"] { try await stack.publishStatus("alert.resolved", alertID: alertID) }
        #expect(await stack.eventually { stack.events.ofType("ticket.updated").filter { $0["alert_status"] as? String == "resolved" }.count == 2 })
        #expect(await stack.simulator.store.record("incident", sysID: sysID)?["state"] == "1")
        #expect(await stack.simulator.store.requests().filter { $0.method == "PATCH" }.isEmpty, "a resolve wrote to the incident")
    }
}
