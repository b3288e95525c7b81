import AMQP
import Foundation
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Postgres
import ServiceNowSimulator
import Testing

@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct AlertToIncidentTests {
    @Test func aMappedAlertBecomesOneIncidentAReferenceAndOneEvent() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        try await stack.startWorker()
        let alertID = "trg-\(UUID().uuidString.prefix(6))"
        let eventID = try await stack.publishRaised(alertID: alertID)

        #expect(await stack.eventually { stack.events.forAlert(alertID, type: "ticket.created").count == 1 })
        let incidents = await stack.incidents()
        #expect(incidents.count == 1)
        let incident = try #require(incidents.first)
        #expect(incident["short_description"] == "CPU usage above 95% on core-sw-01")
        #expect(incident["description"] == "core-sw-01 CPU at 97.2% for 5 minutes")
        #expect(incident["category"] == "network")
        #expect(incident["subcategory"] == "cpu")
        #expect(incident["impact"] == "1")
        #expect(incident["urgency"] == "1")
        #expect(incident["priority"] == "1")
        // The mapping names the group; the worker sends its sys_id.
        let group = await stack.simulator.store.records("sys_user_group").first { $0["name"] == "Network Operations" }
        #expect(incident["assignment_group"] == group?["sys_id"])
        #expect(incident["correlation_id"]?.hasPrefix("ceburu-") == true)
        #expect(incident["correlation_display"] == "Ceburu alert \(alertID)")
        // It asked for only the fields it reads back, not the whole record.
        let posts = await stack.simulator.store.requests().filter { $0.method == "POST" && $0.path == "/api/now/table/incident" }
        #expect(posts.map { $0.query.removingPercentEncoding?.contains("sysparm_fields=sys_id,number,state,sys_updated_on") } == [true])

        let link = try #require(try await stack.link(alertID: alertID))
        #expect(link.status == .open)
        #expect(link.sysID == incident["sys_id"])
        #expect(link.number == incident["number"])
        #expect(link.url == "\(stack.simulatorURLs[0])/nav_to.do?uri=incident.do?sys_id=\(incident["sys_id"]!)")
        #expect(link.correlationID == incident["correlation_id"])

        let event = try #require(stack.events.forAlert(alertID, type: "ticket.created").first)
        #expect(event["schema"] as? String == "itsm.ticket.v1")
        #expect(event["cause_event_id"] as? String == eventID)
        #expect(event["customer_id"] as? String == "cust-1")
        #expect(event["network_id"] as? String == "net-1")
        #expect(event["alert_status"] as? String == "open")
        #expect((event["warnings"] as? [String]) == [])
        let ticket = try #require(event["ticket"] as? [String: Any])
        #expect(ticket["system"] as? String == "servicenow")
        #expect(ticket["table"] as? String == "incident")
        #expect(ticket["sys_id"] as? String == incident["sys_id"])
        #expect(ticket["number"] as? String == incident["number"])
        #expect(ticket["url"] as? String == link.url)
        #expect(ticket["state"] as? String == "1")
        #expect(ticket["state_label"] as? String == "New")
        // Nothing is left to publish (the handed row is deleted once its event is confirmed).
        #expect(await stack.eventually(5) {
            (try? await stack.pool.query("SELECT count(*) AS c FROM outbox WHERE published_at IS NULL")[0]["c"].int()) == 0
        })
    }

    /// The relay polls only every minute here: every event must go out because the commit that
    /// queued it woke the relay (created, updated, and failed before any ticket).
    @Test func everyQueuedEventGoesOutWithoutWaitingForTheRelaysPoll() async throws {
        let stack = try await TestStack.make(configure: { $0.outboxPollInterval = .seconds(60) })
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        // A customer whose secret was sealed with a key this worker does not have.
        let strangerKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try await ConfigurationStore(pool: stack.pool).saveIntegration(customerID: "cust-2", instanceURL: stack.simulatorURLs[0], clientID: "worker-client",
                                                                       sealedSecret: try SecretBox(currentKey: strangerKey).seal("x", customerID: "cust-2"), settings: IntegrationSettings())
        try await stack.addMapping(customer: "cust-2", network: "net-1")
        let worker = try await stack.startWorker()
        // The relay's first poll at start-up is done once it waits on the signal.
        #expect(await stack.eventually { worker.runtime.outboxSignal.bookkeeping.waiting == 1 })
        let within = 10.0

        try await stack.publishRaised(alertID: "woken")
        #expect(await stack.eventually(within) { stack.events.forAlert("woken", type: "ticket.created").count == 1 })
        // Handed to the relay by its commit (not to its poll), which deleted the row once confirmed.
        #expect(await stack.eventually(within) {
            (try? await stack.pool.query("SELECT 1 FROM outbox WHERE payload ->> 'alert_id' = 'woken'"))?.isEmpty == true
        })
        try await stack.publishStatus("alert.acknowledged", alertID: "woken", occurredAt: Date().addingTimeInterval(1))
        #expect(await stack.eventually(within) { stack.events.forAlert("woken", type: "ticket.updated").count == 1 })
        try await stack.publishRaised(customer: "cust-2", alertID: "unusable")
        #expect(await stack.eventually(within) {
            stack.events.forAlert("unusable", type: "ticket.failed").first.flatMap { ($0["error"] as? [String: Any])?["code"] as? String } == "secret_unreadable"
        })
    }
}
