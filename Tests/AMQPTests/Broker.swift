import AMQP
import Coordination
import Foundation
import Logging
import TestSupport

/// The RabbitMQ the integration tests talk to: `ITSM_TEST_AMQP_URL`, or the local one that
/// scripts/test starts.
enum Broker {
    static var url: String {
        ProcessInfo.processInfo.environment["ITSM_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
    }

    static func connect(name: String = "amqp-tests-\(UUID().uuidString.prefix(8))", heartbeat: Int = 30,
                        ackHold: Duration? = nil) async throws -> AMQPConnection {
        var configuration = try AMQPConfiguration(url: url)
        if let ackHold { configuration.ackHold = ackHold }
        configuration.connectionName = name
        configuration.heartbeatSeconds = heartbeat
        configuration.reconnectDelay = Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        var logger = Logger(label: "amqp-tests")
        logger.logLevel = .info
        return try await AMQPConnection.connect(configuration, logger: logger)
    }

    static func uniqueName(_ prefix: String) -> String {
        "test.\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `rabbitmqctl` as the broker's user (it needs the broker's Erlang cookie).
    @discardableResult
    static func rabbitmqctl(_ arguments: [String]) async throws -> String {
        try await Subprocess.run(["runuser", "-u", "rabbitmq", "--", "env", "HOME=/var/lib/rabbitmq", "ERL_EPMD_ADDRESS=127.0.0.1", "rabbitmqctl"] + arguments,
                                 errors: .discarded).output
    }

    /// Has the broker close the connection that calls itself `name`, as an operator would with
    /// `rabbitmqctl close_connection`.
    static func closeConnection(named name: String) async throws -> Bool {
        let listing = try await rabbitmqctl(["list_connections", "pid", "client_properties", "-q", "--no-table-headers"])
        for line in listing.split(separator: "\n") where line.contains("\"\(name)\"") || line.contains(name) {
            guard let pid = line.split(separator: "\t").first else { continue }
            try await rabbitmqctl(["close_connection", String(pid), "closed by the recovery test"])
            return true
        }
        return false
    }
}

extension AMQPConnection {
    /// Declares a throwaway queue (classic, auto-delete is not used so that a reconnect keeps it).
    func declareTestQueue(_ name: String, arguments: [String: AMQPFieldValue] = [:], kind: AMQPQueue.Kind = .classic) async throws {
        try await declare(AMQPQueue(name: name, kind: kind, durable: true, arguments: arguments))
    }
}
