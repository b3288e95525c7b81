import AMQP
import Foundation
import ITSMCore
import ITSMPostgres
import ITSMServiceNow
@testable import ITSMWorker
import Postgres
import Testing

/// The worker over the transports real deployments use.
@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct DeploymentTransportTests {
    /// `amqps://` with the CA and a client certificate from the `ITSM_AMQP_TLS_*` settings: the
    /// alert arrives over TLS and its event leaves over TLS.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ITSM_TEST_TLS_DIR"] != nil, "needs the broker's TLS listener"))
    func theWorkerRunsOverAMQPWithMutualTLS() async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = try #require(environment["ITSM_TEST_TLS_DIR"])
        let port = environment["ITSM_TEST_AMQPS_PORT"] ?? "5671"
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker {
            $0.amqpURL = "amqps://guest:guest@localhost:\(port)/%2f"
            $0.amqpTLSCAFile = "\(directory)/ca.pem"
            $0.amqpTLSCertificateFile = "\(directory)/client.pem"
            $0.amqpTLSKeyFile = "\(directory)/client-key.pem"
        }
        #expect(worker.runtime.amqp.configuration.tls != nil)
        #expect(worker.runtime.amqp.currentNode?.port == Int(port))
        let alertID = "trg-tls-\(UUID().uuidString.prefix(6))"
        try await stack.publishRaised(alertID: alertID)
        #expect(await stack.eventually { stack.events.forAlert(alertID, type: "ticket.created").count == 1 })
    }

    /// PgBouncer in transaction pooling mode between the worker and PostgreSQL: the whole alert
    /// flow (claim, create, outbox, acknowledge) goes through it.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ITSM_TEST_PGBOUNCER_PORT"] != nil, "needs PgBouncer"))
    func theWorkerRunsThroughPgBouncerInTransactionMode() async throws {
        let port = try #require(ProcessInfo.processInfo.environment["ITSM_TEST_PGBOUNCER_PORT"])
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        try await stack.startWorker {
            var url = try! PostgresConfiguration(url: $0.databaseURL)
            url.port = Int(port)!
            $0.databaseURL = "postgres://\(url.user):\(url.password ?? "")@127.0.0.1:\(port)/\(url.database)"
        }
        let alertIDs = (1...10).map { "trg-bouncer-\($0)-\(UUID().uuidString.prefix(4))" }
        for alertID in alertIDs { try await stack.publishRaised(alertID: alertID) }
        #expect(await stack.eventually { alertIDs.allSatisfy { stack.events.forAlert($0, type: "ticket.created").count == 1 } })
        try await stack.publishStatus("alert.acknowledged", alertID: alertIDs[0])
        #expect(await stack.eventually { stack.events.forAlert(alertIDs[0], type: "ticket.updated").count == 1 })
        #expect(await stack.incidents().count == alertIDs.count)
    }

    /// `sslmode=verify-full` with the made-up CA: the worker talks to PostgreSQL over TLS.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ITSM_TEST_PG_TLS_DIR"] != nil, "needs the local server's TLS"))
    func theWorkerTalksToPostgreSQLOverVerifiedTLS() async throws {
        let directory = try #require(ProcessInfo.processInfo.environment["ITSM_TEST_PG_TLS_DIR"])
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker {
            let url = try! PostgresConfiguration(url: $0.databaseURL)
            $0.databaseURL = "postgres://\(url.user):\(url.password ?? "")@localhost:\(url.port)/\(url.database)?sslmode=verify-full&sslrootcert=\(directory)/ca.pem"
        }
        let encrypted = try await worker.runtime.pool.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").first?["ssl"].bool()
        #expect(encrypted == true)
        let alertID = "trg-pgtls-\(UUID().uuidString.prefix(6))"
        try await stack.publishRaised(alertID: alertID)
        #expect(await stack.eventually { stack.events.forAlert(alertID, type: "ticket.created").count == 1 })
    }

    /// HTTPS_PROXY for every ServiceNow call: the alert flow goes through the proxy (its log shows
    /// the instance's requests); an integration set to `none` goes direct; one set to a proxy that
    /// is down fails Test Connection with the proxy named.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ITSM_TEST_PROXY_URL"] != nil, "needs tinyproxy"))
    func serviceNowCallsGoThroughTheConfiguredProxy() async throws {
        let environment = ProcessInfo.processInfo.environment
        let proxyURL = try #require(environment["ITSM_TEST_PROXY_URL"])
        let log = try #require(environment["ITSM_TEST_PROXY_LOG"])
        let stack = try await TestStack.make(simulators: 3)
        try await stack.addIntegration(customer: "cust-1", simulator: 0)
        var direct = IntegrationSettings()
        direct.proxy = "none"
        try await stack.addIntegration(customer: "cust-2", simulator: 1, settings: direct)
        var broken = IntegrationSettings()
        broken.proxy = "http://127.0.0.1:1"
        try await stack.addIntegration(customer: "cust-3", simulator: 2, settings: broken)
        for customer in ["cust-1", "cust-2"] { try await stack.addMapping(customer: customer, network: "net-1") }
        let configuration = try WorkerConfiguration(environment: ["HTTPS_PROXY": proxyURL, "NO_PROXY": ".service-now.com"])
        #expect(configuration.summary.first { $0.0 == "HTTPS_PROXY" }.map { !$0.1.contains("proxy-secret") } == true)
        let worker = try await stack.startWorker { $0.serviceNowProxy = configuration.serviceNowProxy }

        func proxied(_ index: Int) -> Bool {
            let port = URLComponents(string: stack.simulatorURLs[index])?.port ?? 0
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.contains("CONNECT 127.0.0.1:\(port) ")
        }
        let viaProxy = "trg-proxy-\(UUID().uuidString.prefix(6))"
        let viaDirect = "trg-direct-\(UUID().uuidString.prefix(6))"
        try await stack.publishRaised(customer: "cust-1", alertID: viaProxy)
        try await stack.publishRaised(customer: "cust-2", alertID: viaDirect)
        #expect(await stack.eventually { stack.events.forAlert(viaProxy, type: "ticket.created").count == 1 })
        #expect(await stack.eventually { stack.events.forAlert(viaDirect, type: "ticket.created").count == 1 })
        #expect(await stack.eventually(5) { proxied(0) }, "cust-1's requests did not go through the proxy")
        #expect(!proxied(1), "cust-2 is set to go direct")

        let integration = try #require(try await worker.runtime.configurationStore.integration(customerID: "cust-3"))
        let result = await ConnectionTester(resolver: worker.runtime.resolver).test(integration)
        let reachability = try #require(result.checks.first { $0.name == "reachability" })
        #expect(reachability.status == .failed)
        #expect(reachability.cause?.contains("through the proxy http://127.0.0.1:1") == true, "\(reachability.cause ?? "nil")")
        #expect(reachability.remedy?.contains("proxy") == true)
    }
}
