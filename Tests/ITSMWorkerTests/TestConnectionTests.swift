import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import JSONText
@testable import ITSMServiceNow
@testable import ITSMWorker
import Logging
import Postgres
import ServiceNow
import ServiceNowSimulator
import Synchronization
import TestSupport
import Testing

@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct TestConnectionTests {
    func run(_ stack: TestStack, customer: String = "cust-1") async throws -> ConnectionTestResult {
        let worker = try await stack.startWorker(roles: [.outbox])
        let integration = try #require(try await worker.runtime.configurationStore.integration(customerID: customer))
        return await ConnectionTester(resolver: worker.runtime.resolver).test(integration)
    }

    func check(_ result: ConnectionTestResult, _ name: String) -> ConnectionCheck? { result.checks.first { $0.name == name } }

    @Test func aHealthyIntegrationPassesEveryCheck() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        let result = try await run(stack)
        #expect(result.passed, "\(result.text)")
        #expect(result.checks.map(\.name) == ["url_policy", "reachability", "token", "table_access", "metadata"])
        #expect(result.checks.allSatisfy { $0.status == .ok || $0.status == .warning })
    }

    @Test(arguments: [("wrong-secret", "worker-client"), ("inactive", "inactive-client"), ("no-grant", "no-grant-client")])
    func refusedCredentialsNameTheCausesAndRemedies(_ label: String, _ clientID: String) async throws {
        let stack = try await TestStack.make(configureSimulator: {
            $0.clients += [SimulatedClient(clientID: "inactive-client", clientSecret: "Sup3r-Secret-Value", active: false),
                           SimulatedClient(clientID: "no-grant-client", clientSecret: "Sup3r-Secret-Value", grantEnabled: false)]
        })
        let box = try SecretBox(currentKey: TestStack.secretKey)
        let secret = label == "wrong-secret" ? "not-the-secret" : "Sup3r-Secret-Value"
        try await ConfigurationStore(pool: stack.pool).saveIntegration(customerID: "cust-1", instanceURL: stack.simulatorURLs[0], clientID: clientID,
                                                                       sealedSecret: try box.seal(secret, customerID: "cust-1"), settings: IntegrationSettings())
        let result = try await run(stack)
        #expect(!result.passed)
        let token = try #require(check(result, "token"))
        #expect(token.status == .failed)
        #expect(token.cause?.contains("access_denied") == true)
        #expect(token.remedy?.contains("glide.oauth.inbound.client.credential.grant_type.enabled") == true)
        #expect(token.remedy?.contains("active") == true)
        #expect(check(result, "table_access")?.status == .skipped)
    }

    @Test func anApplicationWithoutAUserIsNamed() async throws {
        let stack = try await TestStack.make(configureSimulator: { $0.clients = [SimulatedClient(clientID: "worker-client", clientSecret: "Sup3r-Secret-Value", applicationUser: nil)] })
        try await stack.addIntegration(customer: "cust-1")
        let token = try #require(check(try await run(stack), "token"))
        #expect(token.status == .failed)
        #expect(token.remedy?.contains("OAuth Application User") == true)
    }

    @Test func anACLDenialOnIncidentFailsTableAccess() async throws {
        let stack = try await TestStack.make(configureSimulator: { $0.deniedOperations = ["incident.create", "incident.write"] })
        try await stack.addIntegration(customer: "cust-1")
        let result = try await run(stack)
        let access = try #require(check(result, "table_access"))
        #expect(access.status == .failed)
        #expect(access.cause?.contains("refused an update") == true, "\(access.cause ?? "nil")")
        #expect(access.remedy?.contains("itil") == true)
        #expect(await stack.incidents().isEmpty, "the check created a record")
    }

    /// Real instances commonly show incident's cross-scope flags (create_access, update_access)
    /// false while the Table API works; they say nothing about REST. The simulator shows them so.
    @Test func crossScopeFlagsDoNotFailAWorkingIntegration() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        let flags = await stack.simulator.store.records("sys_db_object").first { $0["name"] == "incident" }
        #expect(flags?["create_access"] == "false" && flags?["update_access"] == "false")
        let result = try await run(stack)
        #expect(result.passed, "\(result.text)")
        // (A warning remains: the new instance has no incident to read yet.)
        #expect(check(result, "table_access")?.status != .failed)
        #expect(!result.text.contains("create_access") && !result.text.contains("does not allow"))
    }

    @Test func aTableClosedToWebServicesFailsTableAccess() async throws {
        let stack = try await TestStack.make(configureSimulator: { $0.deniedOperations = ["incident.web_service"] })
        try await stack.addIntegration(customer: "cust-1")
        let access = try #require(check(try await run(stack), "table_access"))
        #expect(access.status == .failed)
        #expect(access.cause?.contains("ws_access") == true)
    }

    @Test func aHibernatingInstanceIsNamedAsSuch() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        await stack.simulator.store.inject(.hibernating, count: 1)
        let reachability = try #require(check(try await run(stack), "reachability"))
        #expect(reachability.status == .failed)
        #expect(reachability.cause?.contains("hibernating") == true)
    }

    @Test func anUnreachablePortAndARefusedURL() async throws {
        let stack = try await TestStack.make()
        let box = try SecretBox(currentKey: TestStack.secretKey)
        let store = ConfigurationStore(pool: stack.pool)
        try await store.saveIntegration(customerID: "closed-port", instanceURL: "http://127.0.0.1:1", clientID: "x", sealedSecret: try box.seal("y", customerID: "closed-port"), settings: IntegrationSettings())
        try await store.saveIntegration(customerID: "refused", instanceURL: "https://intranet.example.com", clientID: "x", sealedSecret: try box.seal("y", customerID: "refused"), settings: IntegrationSettings())
        let closed = try await run(stack, customer: "closed-port")
        #expect(check(closed, "reachability")?.status == .failed)
        #expect(check(closed, "token")?.status == .skipped)
        let refused = try await run(stack, customer: "refused")
        #expect(check(refused, "url_policy")?.status == .failed)
        #expect(check(refused, "url_policy")?.remedy?.contains("ITSM_INSTANCE_HOST_ALLOWLIST") == true)
        #expect(check(refused, "reachability")?.status == .skipped)
    }

    @Test func aCloseCodeTheInstanceDoesNotKnowFailsTheMetadataCheck() async throws {
        let stack = try await TestStack.make()
        var settings = IntegrationSettings()
        settings.closeCode = "Solved (Permanently)"
        try await stack.addIntegration(customer: "cust-1", settings: settings)
        let metadata = try #require(check(try await run(stack), "metadata"))
        #expect(metadata.status == .failed)
        #expect(metadata.remedy?.contains("Solution provided") == true)
    }

    @Test func reachabilityRefusesHostsThatResolveToPrivateAddresses() async {
        let strict = ConnectAddressPolicy(allowLoopback: false)
        let loopback = await ConnectionTester.addressRefusal(host: "localhost", lookup: .system, policy: strict)
        #expect(loopback?.hasPrefix("localhost resolves to ") == true && loopback?.contains("loopback") == true, "\(loopback ?? "nil")")
        #expect(await ConnectionTester.addressRefusal(host: "localhost", lookup: .system, policy: ConnectAddressPolicy(allowLoopback: true)) == nil)
        let reason = await ConnectionTester.addressRefusal(host: "10.1.2.3", lookup: .system, policy: ConnectAddressPolicy(allowLoopback: true))
        #expect(reason?.hasPrefix("10.1.2.3 resolves to 10.1.2.3: ") == true, "\(reason ?? "nil")")
        // Every address counts, not only the first.
        let mixed = AddressLookup { _ in ["93.184.216.34", "169.254.169.254"] }
        #expect(await ConnectionTester.addressRefusal(host: "acme.service-now.com", lookup: mixed, policy: strict)?.contains("169.254.169.254") == true)
    }

    /// DNS rebinding: the name resolves to a public address when Test Connection looks it up, and
    /// to loopback when the connection is made. The connection's peer is checked, so no request
    /// (and no secret) reaches the loopback listener.
    @Test func aNameThatRebindsToLoopbackIsRefusedAtConnectTime() async throws {
        let stack = try await TestStack.make()
        let port = try #require(URLComponents(string: stack.simulatorURLs[0])?.port)
        let answers = Mutex(["93.184.216.34"])
        let lookup = AddressLookup { _ in answers.withLock { $0.isEmpty ? ["127.0.0.1"] : [$0.removeFirst()] } }
        // The URL policy let the name through (insecure mode, as for the simulator); the
        // connections are held to the production address policy.
        var settings = ServiceNowClient.Configuration()
        settings.addressPolicy = ConnectAddressPolicy(allowLoopback: false)
        let client = ServiceNowClient(configuration: settings, logger: Logger(label: "test"))
        defer { Task { await client.shutdown() } }
        let resolver = IntegrationResolver(configuration: ConfigurationStore(pool: stack.pool), client: client,
                                           policy: InstanceURLPolicy(allowInsecure: true), secrets: try SecretBox(currentKey: TestStack.secretKey))
        let store = ConfigurationStore(pool: stack.pool)
        try await store.saveIntegration(customerID: "rebind", instanceURL: "http://localhost:\(port)", clientID: "worker-client",
                                        sealedSecret: try SecretBox(currentKey: TestStack.secretKey).seal("Sup3r-Secret-Value", customerID: "rebind"), settings: IntegrationSettings())
        let integration = try #require(try await store.integration(customerID: "rebind"))
        let before = await stack.simulator.store.requests().count
        let result = await ConnectionTester(resolver: resolver, addressLookup: lookup).test(integration)
        let reachability = try #require(check(result, "reachability"))
        #expect(reachability.status == .failed)
        #expect(reachability.cause?.contains("refused address") == true, "\(reachability.cause ?? "nil")")
        #expect(reachability.cause?.contains("loopback") == true)
        #expect(await stack.simulator.store.requests().count == before, "a request reached the loopback listener")
    }

    @Test func testConnectionAndFieldsOverTheQueue() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        let worker = try await stack.startWorker()
        let replyQueue = try await stack.replyQueue("fields")
        defer { replyQueue.stop() }
        let replies = replyQueue.name
        for (key, correlation) in [("integration.test", "corr-test"), ("integration.fields", "corr-fields")] {
            try await stack.publisher.publish(Array(#"{"schema":"ceburu.command.v1","customer_id":"cust-1","table":"incident"}"#.utf8),
                                              exchange: stack.configuration.alertsExchange, routingKey: key,
                                              properties: AMQPProperties(contentType: "application/json", correlationID: correlation, replyTo: replies))
        }
        #expect(await stack.eventually { replyQueue.deliveries.count == 2 })
        let byCorrelation = Dictionary(replyQueue.deliveries.map { ($0.properties.correlationID ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        let testReply = try #require(byCorrelation["corr-test"])
        let fieldsReply = try #require(byCorrelation["corr-fields"])
        let test = try JSONDecoder().decode(ConnectionTestResult.self, from: Data(testReply.body))
        #expect(test.passed)
        #expect(test.checks.count == 5)
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(fieldsReply.body)) as? [String: Any])
        let list = try #require(fields["fields"] as? [[String: Any]])
        let closeCode = try #require(list.first { $0["name"] as? String == "close_code" })
        #expect((closeCode["choices"] as? [[String: Any]])?.contains { $0["value"] as? String == "Solution provided" } == true)
        #expect(list.contains { $0["name"] as? String == "short_description" && $0["maxLength"] as? Int == 160 && $0["mandatory"] as? Bool == true })
        #expect(await stack.eventually { stack.events.ofType("integration.tested").count == 1 })
        #expect(stack.events.ofType("integration.tested").first?["customer_id"] as? String == "cust-1")
        let stored = try #require(try await ConfigurationStore(pool: stack.pool).integration(customerID: "cust-1"))
        #expect(stored.lastTestedAt != nil)
        if case .object(let last)? = stored.lastTest { #expect(last["status"] == .string("ok")) } else { Issue.record("no stored test result") }

        // A malformed command and an unknown one are dead-lettered, and every command is counted.
        try await stack.publisher.publish(Array("not json".utf8), exchange: stack.configuration.alertsExchange, routingKey: "integration.test")
        // Straight into the commands queue: its bindings only route the known commands.
        try await stack.publisher.publish(Array(#"{"schema":"ceburu.command.v1","customer_id":"cust-1"}"#.utf8),
                                          exchange: "", routingKey: stack.topology.commandsQueue)
        let dead = try await stack.drainDeadLetters(expecting: 2)
        #expect(Set(dead.compactMap { $0.properties.headers["x-error-code"] }) == [.string("invalid_command"), .string("unknown_command")])
        // A settlement is counted once the broker confirmed the dead letter: it may reach the
        // queue a moment before the count.
        for line in [#"itsm_messages_total{type="integration.test",outcome="answered"} 1"#,
                     #"itsm_messages_total{type="integration.fields",outcome="answered"} 1"#,
                     #"itsm_messages_total{type="integration.test",outcome="dead_lettered"} 1"#,
                     #"itsm_messages_total{type="command",outcome="dead_lettered"} 1"#,
                     #"itsm_dead_lettered_total{reason="invalid_command"} 1"#,
                     #"itsm_dead_lettered_total{reason="unknown_command"} 1"#] {
            #expect(await stack.eventually(5) { worker.runtime.metrics.render().contains(line) }, "\(line)")
        }
    }

    /// A command may only have its reply published to direct reply-to or a configured prefix,
    /// may only name a plain table, and a failing one comes back through the retry queues.
    @Test func commandsAreHeldToTheirReplyQueueAndRetriedWithDelay() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.startWorker()
        let exchange = stack.configuration.alertsExchange
        let command = Array(#"{"schema":"ceburu.command.v1","customer_id":"cust-1"}"#.utf8)
        // A queue of someone else's, and a table name that is no table name.
        try await stack.publisher.publish(command, exchange: exchange, routingKey: "integration.fields",
                                          properties: AMQPProperties(correlationID: "c1", replyTo: stack.topology.alertsQueue))
        try await stack.publisher.publish(Array(#"{"schema":"ceburu.command.v1","customer_id":"cust-1","table":"incident^ORname=x"}"#.utf8),
                                          exchange: exchange, routingKey: "integration.fields")
        let dead = try await stack.drainDeadLetters(expecting: 2)
        #expect(Set(dead.compactMap { $0.properties.headers["x-error-code"]?.stringValue }) == ["reply_to_refused", "invalid_command"])

        // The instance fails the listing once: the command is retried after a delay and answered.
        let replyQueue = try await stack.replyQueue("retry")
        defer { replyQueue.stop() }
        let replies = replyQueue.name
        await stack.simulator.store.inject(.status(503), count: 1)
        try await stack.publisher.publish(command, exchange: exchange, routingKey: "integration.fields",
                                          properties: AMQPProperties(correlationID: "c2", replyTo: replies))
        #expect(await stack.eventually { replyQueue.deliveries.count == 1 })
        #expect(stack.logs.all.contains { $0.contains("will retry") && $0.contains("command failed") })
        #expect(!stack.logs.all.contains { $0.contains("the broker will redeliver it") })
    }

    @Test func mappingsAreValidatedAgainstTheInstanceIncludingReferenceNames() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        let worker = try await stack.startWorker(roles: [.outbox])
        let integration = try #require(try await worker.runtime.configurationStore.integration(customerID: "cust-1"))
        let session = try worker.runtime.resolver.resolve(integration).session
        let sample = MappingValidator.sampleAlert(customerID: "cust-1", networkID: "net-1", alertType: "cpu_usage")

        let good = try AlertMapping.parse(fieldsJSON: Data(TestStack.standardFields.utf8))
        let report = await worker.runtime.validator.validate(good, customerID: "cust-1", session: session, sample: sample)
        #expect(report.valid, "\(report.errors)")
        let group = await stack.simulator.store.records("sys_user_group").first { $0["name"] == "Network Operations" }
        #expect(report.references["assignment_group"] == group?["sys_id"])
        #expect(report.warnings.contains { $0.field == "assignment_group" && $0.message.contains("advanced") })
        #expect(report.warnings.contains { $0.field == "short_description" && $0.message.contains("160") })
        #expect(report.samplePayload["short_description"] == "CPU usage above 95% on core-sw-01")
        #expect(report.samplePayload["assignment_group"] == group?["sys_id"])
        #expect(await stack.incidents().isEmpty)

        let bad = try AlertMapping.parse(fieldsJSON: Data(#"""
            {"short_description": "{{alert.title}}", "u_nope": "x", "category": "plumbing", "impact": {"from": "alert.severity", "map": {"critical": "9"}, "default": "3"},
             "assignment_group": "Nobody Group", "assigned_to": "Dana Ops", "cmdb_ci": "core-sw-01"}
            """#.utf8))
        let badReport = await worker.runtime.validator.validate(bad, customerID: "cust-1", session: session, sample: sample)
        #expect(!badReport.valid)
        let messages = badReport.errors.map { "\($0.field ?? ""): \($0.message)" }
        #expect(messages.contains { $0.hasPrefix("u_nope:") })
        #expect(messages.contains { $0.hasPrefix("category:") && $0.contains("plumbing") })
        #expect(messages.contains { $0.hasPrefix("impact:") && $0.contains("'9'") })
        #expect(messages.contains { $0.hasPrefix("assignment_group:") && $0.contains("Nobody Group") })
        #expect(badReport.references["assigned_to"] != nil)
        #expect(badReport.references["cmdb_ci"] != nil)

        let ambiguous = try AlertMapping.parse(fieldsJSON: Data(#"{"short_description": "x", "assignment_group": "Network"}"#.utf8))
        let ambiguousReport = await worker.runtime.validator.validate(ambiguous, customerID: "cust-1", session: session, sample: sample)
        #expect(ambiguousReport.errors.contains { $0.field == "assignment_group" && $0.message.contains("2 sys_user_group records") })
    }

    @Test func overLongValuesAreTruncatedWithAMarker() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1", fields: #"{"short_description": "{{alert.title}}"}"#)
        try await stack.startWorker()
        try await stack.publishRaised(alertID: "long", title: String(repeating: "x", count: 500))
        #expect(await stack.eventually { stack.events.forAlert("long", type: "ticket.created").count == 1 })
        let description = try #require(await stack.incidents().first?["short_description"])
        #expect(description.count == 160)
        #expect(description.hasSuffix(MappingValidator.truncationMarker))
    }
}
