import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMWorker
import Postgres
import ServiceNowSimulator
import TestSupport
import Testing

@Suite(.stopsTestStacks, .timeLimit(.minutes(5)))
struct ExactlyOnceTests {
    @Test func alertsLandOnTheirCustomersInstanceWithTheirNetworksMapping() async throws {
        let stack = try await TestStack.make(simulators: 3)
        let customers = ["cust-a", "cust-b", "cust-c"]
        for (index, customer) in customers.enumerated() {
            try await stack.addIntegration(customer: customer, simulator: index)
        }
        // Five networks; each has its own mapping, recognisable by its category.
        let networks = [("cust-a", "net-a1"), ("cust-a", "net-a2"), ("cust-b", "net-b1"), ("cust-b", "net-b2"), ("cust-c", "net-c1")]
        for (customer, network) in networks {
            try await stack.addMapping(customer: customer, network: network, fields: #"{"short_description": "{{alert.title}} [\#(network)]", "category": "network", "description": "network \#(network)"}"#)
        }
        let worker = try await stack.startWorker()
        var expected: [String: (customer: String, network: String)] = [:]
        var unmapped = 0
        for n in 0..<100 {
            let (customer, network) = networks[n % networks.count]
            let alertID = "a-\(n)"
            // Every fifth alert has a type no network maps: skipped.
            let type = n % 5 == 4 ? "fan_speed" : "cpu_usage"
            if type == "cpu_usage" { expected[alertID] = (customer, network) } else { unmapped += 1 }
            try await stack.publishRaised(customer: customer, network: network, alertID: alertID, alertType: type, title: "alert \(n)")
        }
        // An alert for a customer without an integration is skipped too.
        try await stack.publishRaised(customer: "cust-unknown", network: "net-x", alertID: "a-unknown")
        #expect(await stack.eventually(30) { stack.settled(worker, type: "alert.raised") >= 101 })
        #expect(try await stack.eventsCaughtUp())
        #expect(stack.events.ofType("ticket.created").count == expected.count)
        var total = 0
        for (index, customer) in customers.enumerated() {
            let incidents = await stack.incidents(simulator: index)
            total += incidents.count
            for incident in incidents {
                let alertID = String(incident["correlation_display"]!.dropFirst("Ceburu alert ".count))
                let target = try #require(expected[alertID])
                #expect(target.customer == customer, "\(alertID) landed on \(customer)'s instance")
                #expect(incident["description"] == "network \(target.network)")
                #expect(incident["short_description"]?.hasSuffix("[\(target.network)]") == true)
            }
        }
        #expect(total == expected.count)
        #expect(unmapped == 20)
        let skipped = try await stack.pool.query("SELECT count(*) AS c FROM ticket_links WHERE alert_id = 'a-unknown'")
        #expect(try skipped[0]["c"].int() == 0)
    }

    @Test func redeliveriesAndReFiresNeverCreateASecondIncident() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker()
        let alertID = "trg-dup"
        let eventID = UUID().uuidString.lowercased()
        for _ in 0..<5 { try await stack.publishRaised(alertID: alertID, eventID: eventID) }
        #expect(await stack.eventually { stack.settled(worker, type: "alert.raised") >= 5 })
        #expect(try await stack.eventsCaughtUp())
        #expect(await stack.incidents().count == 1)
        #expect(stack.events.forAlert(alertID).count == 1)
        let processed = try await stack.pool.query("SELECT outcome FROM processed_events WHERE event_id = $1", [.text(eventID)])
        #expect(processed.count == 1)

        // Five re-fires: five work notes on the same incident, five ticket.updated.
        for n in 0..<5 {
            try await stack.publishRaised(alertID: alertID, title: "CPU usage above 95% (again \(n))", occurredAt: Date().addingTimeInterval(Double(n)))
        }
        #expect(await stack.eventually { stack.events.forAlert(alertID, type: "ticket.updated").count == 5 })
        let incidents = await stack.incidents()
        #expect(incidents.count == 1)
        let notes = await stack.simulator.store.journal(sysID: incidents[0]["sys_id"]!, element: "work_notes")
        #expect(notes.count == 5)
        #expect(notes.allSatisfy { $0["value"]?.hasPrefix("Alert fired again at ") == true })
        let updated = try #require(stack.events.forAlert(alertID, type: "ticket.updated").first)
        #expect((updated["ticket"] as? [String: Any])?["number"] as? String == incidents[0]["number"])
    }

    @Test func threeWorkersOnOneQueueCreateEachIncidentOnce() async throws {
        let stack = try await TestStack.make(configureSimulator: { $0.baseLatency = .milliseconds(20) })
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        var workers: [RunningWorker] = []
        for name in ["w1", "w2", "w3"] { workers.append(try await stack.startWorker(name: name)) }
        let alerts = (0..<300).map { "alert-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for alertID in alerts {
                group.addTask {
                    // Each alert is also published twice more as a redelivery would be.
                    let eventID = UUID().uuidString.lowercased()
                    for _ in 0..<(alertID.hasSuffix("7") ? 3 : 1) { try await stack.publishRaised(alertID: alertID, eventID: eventID) }
                }
            }
            try await group.waitForAll()
        }
        // 300 alerts, 30 of them (ending in 7) published three times.
        #expect(await stack.eventually(60) { stack.settled(workers[0], workers[1], workers[2], type: "alert.raised") >= 360 })
        #expect(try await stack.eventsCaughtUp())
        let incidents = await stack.incidents()
        let byAlert = Dictionary(grouping: incidents, by: { $0["correlation_display"]! })
        #expect(incidents.count == 300)
        #expect(byAlert.count == 300)
        #expect(byAlert.values.allSatisfy { $0.count == 1 })
        #expect(stack.events.ofType("ticket.created").count == 300)
        let open = try await stack.pool.query("SELECT count(*) AS c FROM ticket_links WHERE status = 'open'")
        #expect(try open[0]["c"].int() == 300)
        print("peak concurrent requests at the instance: \(await stack.simulator.store.peakConcurrency()) (3 workers × 4 each allowed)")
    }

    @Test func aRejectedAssignmentGroupIsDroppedWithAWarning() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1",
                                   fields: #"{"short_description": "{{alert.title}}", "assignment_group": "Restricted Ops"}"#)
        try await stack.startWorker()
        try await stack.publishRaised(alertID: "trg-ag")
        #expect(await stack.eventually { stack.events.forAlert("trg-ag", type: "ticket.created").count == 1 })
        let event = try #require(stack.events.forAlert("trg-ag", type: "ticket.created").first)
        #expect(event["warnings"] as? [String] == ["assignment_group"])
        let incidents = await stack.incidents()
        #expect(incidents.count == 1)
        #expect(incidents.first?["assignment_group"] == "")
        let link = try #require(try await stack.link(alertID: "trg-ag"))
        #expect(link.warnings == ["assignment_group"])
        let rejected = await stack.simulator.store.requests().filter { $0.method == "POST" && $0.status == 403 }
        #expect(rejected.count == 1)
    }

    @Test func rateLimitsAndServerErrorsAreRetriedWithoutDuplicates() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        try await stack.startWorker()
        try await stack.publishRaised(alertID: "warm-up")
        #expect(await stack.eventually { stack.events.forAlert("warm-up").count == 1 })
        await stack.simulator.store.inject(.status(429, retryAfterSeconds: 1), count: 6)
        await stack.simulator.store.inject(.status(500), count: 6)
        await stack.simulator.store.inject(.status(503), count: 4)
        let started = ContinuousClock.now
        for n in 0..<20 { try await stack.publishRaised(alertID: "burst-\(n)") }
        #expect(await stack.eventually(60) { stack.events.ofType("ticket.created").count == 21 })
        let elapsed = ContinuousClock.now - started
        let incidents = await stack.incidents()
        #expect(incidents.count == 21)
        #expect(Set(incidents.map { $0["correlation_display"]! }).count == 21)
        let requests = await stack.simulator.store.requests()
        let limited = requests.filter { $0.status == 429 }
        #expect(limited.count == 6)
        #expect(requests.filter { $0.status == 500 || $0.status == 503 }.count == 10)
        // Retry-After: 1 holds every request to the instance back for a second.
        print("20 alerts through 6×429, 6×500 and 4×503 took \(elapsed)")
        #expect(elapsed >= .seconds(1))
    }

    @Test func malformedMessagesAreDeadLetteredWithReasonsAndDoNotBlockValidOnes() async throws {
        let stack = try await TestStack.make(configure: { $0.maxMessageBytes = 4096 })
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        try await stack.startWorker()
        let valid = #"{"schema":"ceburu.alert.v1","event_id":"e-ok","type":"alert.raised","occurred_at":"2026-11-29T03:00:00Z","customer_id":"cust-1","network_id":"net-1","alert":{"id":"%@","type":"cpu_usage","severity":"critical","title":"t"}}"#
        let bad: [(String, String)] = [
            ("not json at all", "invalid_json"),
            ("[1,2,3]", "wrong_type"),
            (#"{"schema":"ceburu.alert.v2","event_id":"e","type":"alert.raised"}"#, "unsupported_schema"),
            (#"{"schema":"ceburu.alert.v1","type":"alert.raised","occurred_at":"2026-11-29T03:00:00Z","customer_id":"c","network_id":"n","alert":{"id":"a","type":"t","severity":"critical","title":"t"}}"#, "missing_field"),
            (#"{"schema":"ceburu.alert.v1","event_id":42,"type":"alert.raised"}"#, "wrong_type"),
            (#"{"schema":"ceburu.alert.v1","event_id":"e","type":"alert.exploded","occurred_at":"2026-11-29T03:00:00Z"}"#, "invalid_value"),
            (#"{"schema":"ceburu.alert.v1","event_id":"e","type":"alert.raised","occurred_at":"yesterday","customer_id":"c","network_id":"n","alert":{}}"#, "invalid_value"),
            (#"{"schema":"ceburu.alert.v1","event_id":"e","type":"alert.raised","occurred_at":"2026-11-29T03:00:00Z","customer_id":"c","network_id":"n","alert":{"id":"a","type":"t","severity":"apocalyptic","title":"t"}}"#, "invalid_value"),
            (#"{"schema":"ceburu.alert.v1","event_id":"e","type":"alert.raised","occurred_at":"2026-11-29T03:00:00Z","customer_id":"c","network_id":"n","alert":{"id":"a","type":"t","severity":"critical","title":"t","value":"high"}}"#, "wrong_type"),
            ("{\"x\":\"" + String(repeating: "A", count: 5000) + "\"}", "too_large"),
            ("", "invalid_json"),
        ]
        for (index, (body, _)) in bad.enumerated() {
            try await stack.publish(Data(body.utf8), routingKey: "alert.raised")
            try await stack.publish(Data(valid.replacingOccurrences(of: "%@", with: "good-\(index)").replacingOccurrences(of: "e-ok", with: "e-ok-\(index)").utf8), routingKey: "alert.raised")
        }
        #expect(await stack.eventually(30) { stack.events.ofType("ticket.created").count == bad.count })
        let dead = try await stack.drainDeadLetters(expecting: bad.count)
        #expect(dead.count == bad.count)
        let codes = dead.map { $0.properties.headers["x-error-code"]?.stringValue ?? "?" }
        #expect(codes.sorted() == bad.map(\.1).sorted())
        for delivery in dead {
            #expect(delivery.properties.headers["x-reason"]?.stringValue?.isEmpty == false)
            #expect(delivery.properties.headers["x-origin-queue"]?.stringValue == stack.topology.alertsQueue)
        }
        #expect(await stack.incidents().count == bad.count)
    }

    @Test func secretsAreSealedAtRestAndNeverLogged() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        try await stack.startWorker()
        try await stack.publishRaised(alertID: "trg-secret")
        await stack.simulator.store.revokeTokens()
        try await stack.publishRaised(alertID: "trg-secret-2")
        #expect(await stack.eventually { stack.events.ofType("ticket.created").count == 2 })
        let row = try await stack.pool.query("SELECT client_secret_sealed, secret_key_id FROM integrations WHERE customer_id = 'cust-1'")[0]
        let sealed = try row["client_secret_sealed"].bytes()
        let plaintext = Array("Sup3r-Secret-Value".utf8)
        #expect(!sealed.isEmpty)
        #expect(!Data(sealed).contains(Data(plaintext)), "the secret is stored in plain text")
        let dump = try await stack.pool.query("SELECT row_to_json(i)::text AS j FROM integrations i")
        #expect(!(try dump[0]["j"].string()).contains("Sup3r-Secret-Value"))
        let lines = stack.logs.all
        #expect(lines.count > 10)
        for line in lines {
            #expect(!line.contains("Sup3r-Secret-Value"))
            #expect(!line.contains("Bearer "))
            #expect(!line.contains("access_token"))
        }
    }
}
