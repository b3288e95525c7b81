import AMQP
import Foundation
import Logging
import TestSupport
import Testing

enum TLSBroker {
    /// Where scripts/services.sh put the test certificates.
    static var directory: String? { ProcessInfo.processInfo.environment["ITSM_TEST_TLS_DIR"] }
    static var port: Int { Int(ProcessInfo.processInfo.environment["ITSM_TEST_AMQPS_PORT"] ?? "") ?? 5671 }

    static func configuration(host: String, caFile: String = "ca.pem", clientCertificate: Bool = true) throws -> AMQPConfiguration {
        let directory = try #require(directory)
        var configuration = try AMQPConfiguration(url: "amqps://guest:guest@\(host):\(port)/%2f?cacertfile=\(directory)/\(caFile)")
        if clientCertificate {
            configuration.tls?.certificateFile = "\(directory)/client.pem"
            configuration.tls?.keyFile = "\(directory)/client-key.pem"
        }
        configuration.connectTimeout = .seconds(5)
        return configuration
    }

    static func connect(host: String) async throws -> AMQPConnection {
        try await AMQPConnection.connect(try configuration(host: host), logger: Logger(label: "tls-tests"))
    }

    /// The one-line reason a connection is refused with.
    static func refusal(host: String, caFile: String = "ca.pem", clientCertificate: Bool = true) async throws -> String {
        do {
            let connection = try await AMQPConnection.connect(try configuration(host: host, caFile: caFile, clientCertificate: clientCertificate),
                                                              logger: Logger(label: "tls-tests"))
            await connection.close()
            Issue.record("the connection was not refused")
            return ""
        } catch {
            #expect(!"\(error)".contains("\n"))
            return "\(error)"
        }
    }
}
