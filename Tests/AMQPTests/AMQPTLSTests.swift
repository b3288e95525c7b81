import AMQP
import Foundation
import Logging
import TestSupport
import Testing

/// `amqps://` against the local broker's TLS listener (scripts/services.sh sets it up with a
/// made-up CA; it requires a client certificate). Enabled where that listener exists.
@Suite(.enabled(if: TLSBroker.directory != nil, "needs the broker's TLS listener (scripts/test sets ITSM_TEST_TLS_DIR)"),
       .timeLimit(.minutes(2)))
struct AMQPTLSTests {
    @Test func aGoodCertificateConnectsWithMutualTLS() async throws {
        let connection = try await TLSBroker.connect(host: "localhost")
        let queue = Broker.uniqueName("tls")
        try await connection.declare(AMQPQueue(name: queue, kind: .classic, durable: false, autoDelete: true))
        #expect(try await connection.publish(Array("over tls".utf8), exchange: "", routingKey: queue) == .confirmed)
        let consumer = try await connection.consume(queue: queue, prefetch: 1)
        for try await delivery in consumer {
            #expect(String(decoding: delivery.body, as: UTF8.self) == "over tls")
            try await delivery.ack()
            break
        }
        await connection.close()
    }

    @Test func aCertificateFromAnotherCAIsRefused() async throws {
        let error = try await TLSBroker.refusal(host: "localhost", caFile: "other-ca.pem")
        #expect(error.contains("TLS") && error.contains("certificate"), "\(error)")
        #expect(error.contains("local issuer") || error.contains("self-signed") || error.contains("self signed"), "\(error)")
    }

    @Test func aHostNameTheCertificateDoesNotNameIsRefused() async throws {
        // The certificate names localhost only.
        let error = try await TLSBroker.refusal(host: "127.0.0.1")
        #expect(error.contains("not valid for the host name 127.0.0.1"), "\(error)")
    }

    @Test func withoutAClientCertificateTheBrokerRefuses() async throws {
        let error = try await TLSBroker.refusal(host: "localhost", clientCertificate: false)
        #expect(error.contains("TLS") && error.contains("client certificate"), "\(error)")
    }

    @Test func anExpiredServerCertificateIsRefused() async throws {
        // The broker has one certificate; openssl s_server plays a server whose certificate expired.
        let directory = try #require(TLSBroker.directory)
        let port = Int.random(in: 20_000...29_999)
        let server = Task {
            try await Subprocess.run(["timeout", "30", "openssl", "s_server", "-quiet", "-naccept", "1", "-accept", "127.0.0.1:\(port)",
                                      "-cert", "\(directory)/expired.pem", "-key", "\(directory)/expired-key.pem"], errors: .discarded)
        }
        defer { server.cancel() }
        var configuration = try TLSBroker.configuration(host: "localhost")
        configuration.port = port
        var refusal = ""
        // Until s_server listens, connecting fails at the socket; then the handshake answers.
        await eventually(5, poll: .milliseconds(100)) {
            do {
                _ = try await AMQPConnection.connect(configuration, logger: Logger(label: "tls-tests"))
                refusal = "connected to a server with an expired certificate"
            } catch {
                if case .connectFailed(_, _, let reason)? = error as? AMQPError, reason.contains("socket error") { return false }
                refusal = "\(error)"
            }
            return true
        }
        #expect(refusal.contains("certificate has expired"), "\(refusal)")
    }
}
