import AMQP
import ArgumentParser
import Foundation
import ITSMCore
import ITSMPostgres
import ITSMWorker
import ServiceNowSimulator

/// The README's "run it": the whole job on one machine, with a simulated ServiceNow.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the worker against a simulated ServiceNow with a sample customer, publish sample alerts, print what happens, and keep running until Ctrl-C.")

    @Option(name: .long, help: "A file of KEY=value settings; the environment overrides it.") var config: String?
    @Option(help: "Port of the ServiceNow simulator.") var simulatorPort: Int = 8089

    func run() async throws {
        var (configuration, logger) = try loadConfiguration(file: config)
        configuration.allowInsecureInstanceURLs = true
        configuration.retryDelays = [.seconds(1), .seconds(3), .seconds(10)]
        guard configuration.secretKey != nil else { throw fail(SecretBoxError.noKey.description, code: configurationExitCode) }

        let simulator = ServiceNowSimulator(configuration: SimulatorConfiguration(clients: [SimulatedClient(clientID: "demo-client", clientSecret: "demo-secret")]))
        let url = try await simulator.start(port: simulatorPort)
        say("ServiceNow simulator on \(url) (client_id=demo-client)")

        let runtime = try await WorkerRuntime.start(configuration: configuration, logger: logger)
        let box = try SecretBox(currentKey: configuration.secretKey!, previousKeys: configuration.previousSecretKeys)
        try await runtime.configurationStore.saveIntegration(customerID: "demo-customer", instanceURL: url, clientID: "demo-client",
                                                             sealedSecret: try box.seal("demo-secret", customerID: "demo-customer"), settings: IntegrationSettings())
        let fields = """
            {"short_description": "{{alert.title}} on {{alert.device.name}}", "description": "{{alert.description}}",
             "category": "network", "impact": {"from": "alert.severity", "map": {"critical": "1", "major": "2"}, "default": "3"},
             "urgency": {"from": "alert.severity", "map": {"critical": "1", "major": "2"}, "default": "3"},
             "assignment_group": "Network Operations"}
            """
        for type in ["cpu_usage", "device_down"] {
            try await runtime.configurationStore.saveMapping(StoredMapping(customerID: "demo-customer", networkID: "demo-network", alertType: type,
                                                                           mapping: try AlertMapping.parse(fieldsJSON: Data(fields.utf8))))
        }
        say("integration: demo-customer → \(url); mappings: demo-network / cpu_usage, device_down")

        // Watch the events exchange as another service would.
        let watchQueue = "\(configuration.queuePrefix).demo.watch"
        try await runtime.amqp.declare(AMQPQueue(name: watchQueue, kind: .classic, durable: false, exclusive: true))
        try await runtime.amqp.bind(AMQPBinding(queue: watchQueue, exchange: configuration.eventsExchange, routingKey: "#"))
        let events = try await runtime.amqp.consume(queue: watchQueue, prefetch: 100)
        let watcher = Task {
            for try await delivery in events {
                try? await delivery.ack()
                say(Self.describe(delivery.body))
            }
        }

        let worker = Task { try await runtime.run() }
        let run = UUID().uuidString.prefix(4).lowercased()
        let samples: [(String, String, String, String)] = [
            ("trg-\(run)-1", "cpu_usage", "critical", "CPU usage above 95%"),
            ("trg-\(run)-2", "device_down", "major", "Device unreachable"),
            ("trg-\(run)-3", "disk_usage", "minor", "Disk 85% full (no mapping: skipped)"),
            ("trg-\(run)-1", "cpu_usage", "critical", "CPU usage above 95% (fired again)"),
        ]
        for (alertID, type, severity, title) in samples {
            let body: [String: Any] = [
                "schema": "ceburu.alert.v1", "event_id": UUID().uuidString.lowercased(), "type": "alert.raised",
                "occurred_at": AlertEvent.formatTimestamp(Date()), "customer_id": "demo-customer", "network_id": "demo-network",
                "alert": ["id": alertID, "type": type, "severity": severity, "title": title, "description": "sample alert from the demo",
                          "device": ["id": "dev-9", "name": "core-sw-01", "ip": "10.0.0.1"]] as [String: Any],
            ]
            try await runtime.amqp.publish(try JSONSerialization.data(withJSONObject: body), exchange: configuration.alertsExchange, routingKey: "alert.raised",
                                           properties: AMQPProperties(contentType: "application/json"))
            say("published alert.raised \(alertID) (\(type), \(severity))")
            try await Task.sleep(for: .milliseconds(400))
        }
        say("the worker keeps running; publish more alerts to \(configuration.alertsExchange), look at \(url)/sim/incidents; Ctrl-C stops")
        _ = try await worker.value
        watcher.cancel()
        await simulator.stop()
    }

    static func describe(_ body: [UInt8]) -> String {
        guard let event = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return "event: (unreadable)" }
        let type = event["type"] as? String ?? "?"
        let alert = event["alert_id"] as? String ?? "?"
        let ticket = event["ticket"] as? [String: Any]
        var text = "event \(type) for alert \(alert)"
        if let number = ticket?["number"] as? String { text += ": \(number) (\(ticket?["state_label"] as? String ?? ""))" }
        if let url = ticket?["url"] as? String { text += " \(url)" }
        if let warnings = event["warnings"] as? [String], !warnings.isEmpty { text += " warnings: \(warnings.joined(separator: ", "))" }
        if let error = event["error"] as? [String: Any] { text += " error: \(error["code"] ?? "") \(error["message"] ?? "")" }
        return text
    }
}

func say(_ line: String) {
    FileHandle.standardOutput.write(Data("[demo] \(line)\n".utf8))
}
