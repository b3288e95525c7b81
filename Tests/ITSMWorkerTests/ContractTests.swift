import AMQP
import Foundation
import ITSMCore
import ITSMWorker
import ServiceNowSimulator
import TestSupport
import Testing

/// The messages the worker really emits, checked against the published JSON Schemas.
@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct ContractTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs scripts/validate-messages.py; returns its output and whether every verdict matched.
    static func validate(_ items: [[String: Any]]) async throws -> (Bool, String) {
        let python = try await Subprocess.run(["python3", packageRoot.appendingPathComponent("scripts/validate-messages.py").path],
                                              input: try JSONSerialization.data(withJSONObject: ["items": items]))
        return (python.status == 0, python.output)
    }

    @Test func everyEmittedMessageMatchesItsSchema() async throws {
        let stack = try await TestStack.make(configure: { $0.maxAttempts = 1 })
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1",
                                   fields: #"{"short_description": "{{alert.title}}", "assignment_group": "Restricted Ops"}"#)
        let worker = try await stack.startWorker()
        try await stack.publishRaised(alertID: "k1", occurredAt: Date())
        try await stack.publishRaised(alertID: "k1", occurredAt: Date().addingTimeInterval(1))
        try await stack.publishStatus("alert.resolved", alertID: "k1", occurredAt: Date().addingTimeInterval(2), note: "done")
        try await stack.publishRaised(alertID: "k2", occurredAt: Date())
        #expect(await stack.eventually { stack.events.ofType("ticket.created").count == 2 && stack.events.ofType("ticket.updated").count == 2 })
        // An operator change: ticket.state_changed. A refused create: ticket.failed.
        let k2 = try #require(try await stack.link(alertID: "k2"))
        try await stack.simulator.store.operatorUpdate(sysID: try #require(k2.sysID), fields: ["state": "2"])
        _ = await worker.runtime.sync.syncAll()
        await stack.simulator.store.configure { $0.deniedOperations = ["incident.create"] }
        try await stack.publishRaised(alertID: "k3", occurredAt: Date())
        // Test Connection and fields over the queue, with replies.
        let replyQueue = try await stack.replyQueue("contract")
        defer { replyQueue.stop() }
        let replies = replyQueue.name
        for key in ["integration.test", "integration.fields"] {
            try await stack.publisher.publish(Array(#"{"schema":"ceburu.command.v1","customer_id":"cust-1"}"#.utf8), exchange: stack.configuration.alertsExchange,
                                              routingKey: key, properties: AMQPProperties(correlationID: key, replyTo: replies))
        }
        try await worker.runtime.outboxRelay.relayBatch()
        #expect(await stack.eventually {
            ["ticket.state_changed", "ticket.failed", "integration.tested"].allSatisfy { !stack.events.ofType($0).isEmpty }
                && replyQueue.deliveries.count == 2
        })

        var items: [[String: Any]] = []
        for event in stack.events.all {
            let schema = event["type"] as? String == "integration.tested" ? "integration-tested.schema.json" : "ticket-event.schema.json"
            items.append(["schema": schema, "message": event, "valid": true])
        }
        for reply in replyQueue.deliveries {
            let message = try JSONSerialization.jsonObject(with: Data(reply.body))
            let schema = reply.properties.correlationID == "integration.test" ? "connection-test-result.schema.json" : "fields-reply.schema.json"
            items.append(["schema": schema, "message": message, "valid": true])
        }
        #expect(Set(stack.events.all.compactMap { $0["type"] as? String }) ==
                ["ticket.created", "ticket.updated", "ticket.state_changed", "ticket.failed", "integration.tested"])
        #expect(stack.events.ofType("ticket.created").contains { ($0["warnings"] as? [String]) == ["assignment_group"] })
        let (ok, output) = try await Self.validate(items)
        #expect(ok, "\(output)")
        #expect(output.contains("\(items.count) passed"))
    }

    @Test func theInputSchemasAgreeWithTheWorkersValidation() async throws {
        let raised: [String: Any] = [
            "schema": "ceburu.alert.v1", "event_id": "e1", "type": "alert.raised", "occurred_at": "2026-11-29T03:00:00Z",
            "customer_id": "c", "network_id": "n", "alert": ["id": "a", "type": "cpu_usage", "severity": "critical", "title": "t", "value": 97.2] as [String: Any],
        ]
        var wrongSeverity = raised
        wrongSeverity["alert"] = ["id": "a", "type": "cpu_usage", "severity": "apocalyptic", "title": "t"]
        var missingTitle = raised
        missingTitle["alert"] = ["id": "a", "type": "cpu_usage", "severity": "critical"]
        var stringValue = raised
        stringValue["alert"] = ["id": "a", "type": "t", "severity": "critical", "title": "t", "value": "high"]
        let resolved: [String: Any] = ["schema": "ceburu.alert.v1", "event_id": "e2", "type": "alert.resolved", "occurred_at": "2026-11-29T03:20:00Z",
                                       "customer_id": "c", "network_id": "n", "alert": ["id": "a", "type": "cpu_usage"], "actor": ["name": "Dana"], "note": "x"]
        let cases: [([String: Any], String)] = [
            (raised, "alert-raised.schema.json"), (wrongSeverity, "alert-raised.schema.json"), (missingTitle, "alert-raised.schema.json"),
            (stringValue, "alert-raised.schema.json"), (resolved, "alert-status.schema.json"),
            (["schema": "ceburu.command.v1", "customer_id": "c"], "command.schema.json"),
            (["schema": "ceburu.command.v1"], "command.schema.json"),
        ]
        var items: [[String: Any]] = []
        for (message, schema) in cases {
            let data = try JSONSerialization.data(withJSONObject: message)
            let workerAccepts: Bool
            if schema == "command.schema.json" {
                workerAccepts = message["customer_id"] != nil
            } else {
                workerAccepts = (try? AlertEvent.decode(Array(data))) != nil
            }
            items.append(["schema": schema, "message": message, "valid": workerAccepts])
        }
        let (ok, output) = try await Self.validate(items)
        #expect(ok, "\(output)")
    }
}
