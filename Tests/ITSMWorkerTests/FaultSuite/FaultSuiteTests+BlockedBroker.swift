import AMQP
import Foundation
import ITSMCore
import ITSMPostgres
import ITSMWorker
@testable import ITSMWorker
import Logging
import Logging
import Postgres
import TestSupport
import Testing
import Testing

extension FaultSuiteTests {
    /// A memory alarm makes RabbitMQ block every publishing connection. The worker says so on
    /// /readyz, and a publish waiting for its confirm gives up at its deadline instead of holding
    /// its caller (an outbox relay, a retry) forever. It blocks the whole broker, so it runs in
    /// the fault stage, alone.
    @Test func aBlockedBrokerIsReportedAndPublishesGiveUpAtTheirDeadline() async throws {
        let stack = try await TestStack.make()
        let worker = try await stack.startWorker(roles: [.outbox])
        #expect(await stack.eventually { worker.runtime.health.httpPort != 0 && worker.runtime.health.databaseReachable })
        let readyz = "http://127.0.0.1:\(worker.runtime.health.httpPort)/readyz"
        var configuration = try AMQPConfiguration(url: stack.configuration.amqpURL)
        configuration.confirmTimeout = .seconds(2)
        let publisher = try await AMQPConnection.connect(configuration, logger: Logger(label: "blocked-publisher"))
        defer { Task { await publisher.close() } }
        #expect(try await publisher.publish(Array("before".utf8), exchange: "", routingKey: "nowhere") == .confirmed)

        try await Self.watermark("0")
        do {
            let started = ContinuousClock.now
            await #expect(throws: AMQPError.self) {
                _ = try await publisher.publish(Array("during".utf8), exchange: "", routingKey: "nowhere")
            }
            #expect(ContinuousClock.now - started < .seconds(10), "the publish was held past its deadline")
            #expect(await stack.eventually(10) { publisher.blocked != nil })

            // The worker's relay publishes an event: its connection is blocked too, and /readyz says so.
            try await stack.pool.withTransaction { connection in
                try await TicketStore.enqueue(connection, eventID: UUID().uuidString.lowercased(), routingKey: "integration.tested",
                                              payload: Data(#"{"schema":"itsm.integration.v1"}"#.utf8))
            }
            worker.runtime.outboxSignal.notify()
            var answer = (0, "")
            #expect(await stack.eventually(15) {
                answer = (try? await httpGet(readyz)) ?? (0, "")
                return answer.0 == 503 && answer.1.contains("blocked")
            }, "\(answer)")
        } catch {
            try await Self.watermark("0.4")
            throw error
        }
        try await Self.watermark("0.4")
        #expect(await stack.eventually(15) { publisher.blocked == nil && worker.runtime.amqp.blocked == nil })
        #expect(await stack.eventually(10) { (try? await httpGet(readyz))?.0 == 200 })
        #expect(try await publisher.publish(Array("after".utf8), exchange: "", routingKey: "nowhere") == .confirmed)
    }

    /// `rabbitmqctl set_vm_memory_high_watermark`: 0 raises the memory alarm at once.
    static func watermark(_ fraction: String) async throws {
        try await FaultInjections.run(["runuser", "-u", "rabbitmq", "--", "env", "HOME=/var/lib/rabbitmq", "ERL_EPMD_ADDRESS=127.0.0.1",
                       "rabbitmqctl", "-q", "set_vm_memory_high_watermark", fraction])
    }
}
