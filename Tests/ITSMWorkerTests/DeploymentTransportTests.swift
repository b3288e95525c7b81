import AMQP
import Foundation
import ITSMCore
@testable import ITSMWorker
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
}
