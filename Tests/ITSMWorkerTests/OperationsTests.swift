import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import ITSMServiceNow
import ITSMWorker
import Postgres
import ServiceNowSimulator
import TestSupport
import Testing

@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct OperationsTests {
    func get(_ url: String) async throws -> (Int, String) { try await httpGet(url) }

    /// With nothing to do, the outbox relay polls at its interval (200 ms here): a handful of
    /// transactions a second. It once ran an empty transaction after another, thousands a second
    /// per worker, once its first poll had timed out.
    @Test func anIdleWorkerLeavesTheDatabaseAlone() async throws {
        let stack = try await TestStack.make()
        let worker = try await stack.startWorker()
        #expect(await stack.eventually { worker.runtime.health.databaseReachable })
        func committed() async throws -> Int {
            try await stack.pool.query("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")[0]["xact_commit"].int()
        }
        try await Task.sleep(for: .seconds(1))
        let before = try await committed()
        try await Task.sleep(for: .seconds(3))
        // A backend reports its counts when it exits, and otherwise at most once a second.
        await worker.stop()
        try await Task.sleep(for: .milliseconds(500))
        let idle = try await committed() - before
        #expect(idle < 200, "an idle worker committed \(idle) transactions in about 3 s")
    }

    @Test func metricsHealthAndReadiness() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker()
        try await stack.publishRaised(alertID: "m1")
        try await stack.publish(Data("garbage".utf8), routingKey: "alert.raised")
        #expect(await stack.eventually { stack.events.forAlert("m1").count == 1 })
        #expect(await stack.eventually { worker.runtime.health.httpPort != 0 && worker.runtime.health.databaseReachable })
        let base = "http://127.0.0.1:\(worker.runtime.health.httpPort)"
        #expect(try await get("\(base)/healthz").0 == 200)
        #expect(try await get("\(base)/readyz").0 == 200)
        var metrics = ""
        #expect(await stack.eventually {
            metrics = (try? await get("\(base)/metrics").1) ?? ""
            return metrics.contains(#"outcome="dead_lettered""#)
        })
        #expect(metrics.contains(#"itsm_messages_total{type="alert.raised",outcome="ticket_created"} 1"#))
        #expect(metrics.contains(#"itsm_dead_lettered_total{reason="invalid_json"} 1"#))
        #expect(metrics.contains(#"itsm_servicenow_requests_total{instance="127.0.0.1",operation="create",status_class="2xx"} 1"#))
        #expect(metrics.contains("itsm_servicenow_request_seconds_bucket"))
        #expect(metrics.contains("itsm_message_processing_seconds_bucket"))
        #expect(metrics.contains(#"itsm_token_requests_total{instance="127.0.0.1"} 1"#))
        #expect(metrics.contains("itsm_outbox_backlog"))
        #expect(metrics.contains("itsm_amqp_connected 1"))

        // While the broker connection is down the worker is alive but not ready; it recovers by
        // itself and is ready again.
        var notReady = ""
        #expect(await stack.eventually(5) {
            await worker.runtime.amqp.simulateConnectionLoss()
            let (status, body) = (try? await get("\(base)/readyz")) ?? (0, "")
            notReady = body
            return status == 503
        })
        #expect(notReady.contains("rabbitmq disconnected"))
        #expect(try await get("\(base)/healthz").0 == 200)
        #expect(await stack.eventually(10) { (try? await get("\(base)/readyz").0) == 200 })
    }

    @Test func theWorkerOpensItsWholeDatabasePoolBeforeTheFirstMessage() async throws {
        let stack = try await TestStack.make()
        let worker = try await stack.startWorker { $0.databasePoolSize = 5 }
        #expect(worker.runtime.pool.openConnections == 5)
        let rows = try await stack.pool.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1",
                                              [.text("itsm-worker \(worker.runtime.configuration.workerID)")])
        #expect(try rows[0]["n"].int() == 5)
    }

    @Test func theShutdownLogCountsOnlyDeliveriesStillBeingHandled() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker()
        for n in 0..<3 { try await stack.publishRaised(alertID: "done-\(n)") }
        #expect(await stack.eventually { stack.events.ofType("ticket.created").count == 3 })
        await worker.stop()
        // Three deliveries were handled and none was in flight: an operator reading "finishing
        // those in flight" must not be told three are.
        let line = stack.logs.all.first { $0.contains("stopped taking deliveries") && $0.contains(stack.topology.alertsQueue) }
        #expect(line?.contains("\"in_flight\": 0") == true, "\(line ?? "no shutdown line")")
    }

    @Test func aFailingInstanceIsParkedWhileOtherCustomersFlow() async throws {
        let stack = try await TestStack.make(simulators: 2, configure: {
            $0.requestTimeout = .seconds(1)
            $0.circuitThreshold = 2
            $0.circuitOpenFor = .seconds(3)
            $0.maxAttempts = 20
        })
        try await stack.addIntegration(customer: "sick", simulator: 0)
        try await stack.addIntegration(customer: "well", simulator: 1)
        try await stack.addMapping(customer: "sick", network: "net-1")
        try await stack.addMapping(customer: "well", network: "net-1")
        let worker = try await stack.startWorker()
        await stack.simulators[0].store.inject(.hang, count: -1)
        let started = ContinuousClock.now
        for n in 0..<10 { try await stack.publishRaised(customer: "sick", alertID: "s\(n)") }
        for n in 0..<20 { try await stack.publishRaised(customer: "well", alertID: "w\(n)") }
        #expect(await stack.eventually(40) { await stack.incidents(simulator: 1).count == 20 })
        let healthyTime = ContinuousClock.now - started
        print("20 alerts for a healthy instance took \(healthyTime) while another instance hung on every call")
        // Isolation: the healthy customer's work all went through while the sick instance was
        // still hanging on every call (it has no incident yet).
        #expect(await stack.incidents(simulator: 0).isEmpty)
        // The circuit cycles (open 3 s, a trial that hangs, open again) while the instance hangs:
        // wait for it to open afresh, so the checks below fall inside one open period.
        let openings = stack.counter(worker, "itsm_circuit_opened_total")
        #expect(await stack.eventually(15) { stack.counter(worker, "itsm_circuit_opened_total") > openings })
        await stack.simulators[0].store.clearRequests()
        // A new alert for the sick customer meets the open circuit: it is parked at once.
        let parked = stack.counter(worker, "itsm_parked_total")
        try await stack.publishRaised(customer: "sick", alertID: "s-late")
        #expect(await stack.eventually(2) { stack.counter(worker, "itsm_parked_total") > parked })
        #expect(worker.runtime.circuits.state(stack.simulatorURLs[0]) == .open)
        // While the circuit is open the sick instance gets no traffic: parked, not hammered.
        let requestsWhileOpen = await stack.simulators[0].store.requests().count
        #expect(requestsWhileOpen == 0, "the failing instance got \(requestsWhileOpen) requests while its circuit was open")
        // It recovers: the next trial succeeds, the circuit closes, the parked alerts go through.
        await stack.simulators[0].store.clearFaults()
        #expect(await stack.eventually(60) { await stack.incidents(simulator: 0).count == 11 })
        #expect(worker.runtime.circuits.state(stack.simulatorURLs[0]) == .closed)
        #expect(worker.runtime.metrics.render().contains("itsm_parked_total"))
        let correlations = await stack.incidents(simulator: 0).map { $0["correlation_display"] ?? "" }
        #expect(Set(correlations).count == 11)
    }
}
