import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMWorker
import Postgres
import ServiceNowSimulator
import TestSupport
import Testing

@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct CrashRecoveryTests {
    @Test func aWorkerKilledBetweenTheCreateAndTheCommitLeavesNoDuplicate() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")

        var environment = stack.processEnvironment
        environment["ITSM_TEST_CRASH_AFTER_CREATE"] = "1"
        let doomed = try WorkerProcess(arguments: ["run"], environment: environment)
        try await stack.publishRaised(alertID: "trg-crash")
        let status = await doomed.waitForExit(within: 30)
        #expect(doomed.process.terminationReason == .uncaughtSignal, "the worker did not die by the signal:\n\(doomed.log)")
        #expect(status == SIGKILL)
        // ServiceNow has the incident; the database still has only the claim.
        #expect(await stack.incidents().count == 1)
        #expect(try await stack.link(alertID: "trg-crash")?.status == .pending)
        #expect(stack.events.forAlert("trg-crash").isEmpty)

        // A healthy worker takes over once the claim's lease has run out.
        let survivor = try WorkerProcess(arguments: ["run"], environment: stack.processEnvironment)
        defer { survivor.signal(SIGKILL) }
        #expect(await stack.eventually(30) { stack.events.forAlert("trg-crash", type: "ticket.created").count == 1 }, "\(survivor.log)")
        let incidents = await stack.incidents()
        #expect(incidents.count == 1)
        let link = try #require(try await stack.link(alertID: "trg-crash"))
        #expect(link.status == .open)
        #expect(link.sysID == incidents.first?["sys_id"])
        #expect(link.createAttempts == 2)
        let posts = await stack.simulator.store.requests().filter { $0.method == "POST" && $0.path == "/api/now/table/incident" }
        #expect(posts.count == 1, "a second incident was posted")

        // SIGTERM stops the survivor cleanly.
        survivor.signal(SIGTERM)
        #expect(await survivor.waitForExit(within: 30) == 0, "\(survivor.log)")
    }

    /// Intake stops first and the outbox relay last: the events of work that finishes during the
    /// shutdown go out before the worker exits, not at the next start.
    @Test func aShutdownPublishesTheEventsOfWorkFinishedDuringIt() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        var environment = stack.processEnvironment
        // Timeouts far above the simulator's delay: on a loaded machine the stack's 3 s timeout
        // can end the slowed calls, and the test is about the drain, not about timeouts.
        environment["ITSM_REQUEST_TIMEOUT"] = "15s"
        environment["ITSM_CLAIM_LEASE"] = "25s"
        let worker = try WorkerProcess(arguments: ["run"], environment: environment)
        defer { worker.signal(SIGKILL) }
        // Every API call takes a second, so the creates are still in flight at the signal.
        await stack.simulator.store.inject(.slow(.seconds(1)), count: -1)
        let alerts = ["drain-1", "drain-2", "drain-3"]
        for alert in alerts { try await stack.publishRaised(alertID: alert) }
        #expect(await stack.eventually(20) { await stack.simulator.store.peakConcurrency() >= 1 }, "\(worker.log)")
        worker.signal(SIGTERM)
        let publishedBeforeTheSignal = alerts.filter { !stack.events.forAlert($0, type: "ticket.created").isEmpty }
        try #require(publishedBeforeTheSignal.count < alerts.count, "the work was done before the signal; nothing was in flight")

        #expect(await worker.waitForExit(within: 30) == 0, "\(worker.log)")
        await stack.simulator.store.clearFaults()
        let unpublished = try await stack.pool.query("SELECT count(*) AS c FROM outbox WHERE published_at IS NULL")[0]["c"].int()
        #expect(unpublished == 0, "events left in the outbox at exit")
        for alert in alerts {
            #expect(await stack.eventually(5) { stack.events.forAlert(alert, type: "ticket.created").count == 1 }, "no ticket.created for \(alert):\n\(worker.log)")
        }
    }

    @Test func aSecondSignalExitsWithoutWaitingForWorkInFlight() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        var environment = stack.processEnvironment
        environment["ITSM_REQUEST_TIMEOUT"] = "30s"
        environment["ITSM_CLAIM_LEASE"] = "40s"
        environment["ITSM_SHUTDOWN_GRACE"] = "40s"
        let worker = try WorkerProcess(arguments: ["run"], environment: environment)
        defer { worker.signal(SIGKILL) }
        await stack.simulator.store.inject(.hang, count: -1)
        try await stack.publishRaised(alertID: "slow")
        #expect(await stack.eventually(20) { await stack.simulator.store.peakConcurrency() >= 1 }, "\(worker.log)")
        worker.signal(SIGTERM)
        // The graceful shutdown has begun once the worker stopped consuming; it still waits.
        #expect(await stack.eventually(10) { (try? await stack.publisher.inspectQueue(stack.topology.alertsQueue).consumerCount) == 0 })
        #expect(worker.process.isRunning, "the first signal should wait for the hanging call")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: 5) == 130, "\(worker.log)")
        await stack.simulator.store.clearFaults()
    }
}
