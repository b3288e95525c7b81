import AMQP
import Foundation
import ITSMAMQP
import ITSMWorker
import Logging
import TestSupport
import Testing

@Suite struct TopologyTests {
    @Test func retryTiersPickTheAttemptsTierOrOneLongEnoughForRetryAfter() throws {
        var configuration = try WorkerConfiguration(environment: [:])
        configuration.retryDelays = [.seconds(2), .seconds(10), .seconds(30)]
        let topology = WorkerTopology(configuration)
        #expect(topology.retryTTLs == [2000, 3000, 10000, 15000, 30000, 45000])
        for _ in 0..<20 {
            #expect(["itsm.retry.2000", "itsm.retry.3000"].contains(topology.retryQueue(attempt: 1).queue))
            #expect(["itsm.retry.10000", "itsm.retry.15000"].contains(topology.retryQueue(attempt: 2).queue))
            #expect(["itsm.retry.30000", "itsm.retry.45000"].contains(topology.retryQueue(attempt: 9).queue))
            #expect(["itsm.retry.10000", "itsm.retry.15000"].contains(topology.retryQueue(attempt: 1, minimum: .seconds(5)).queue))
        }
    }

    /// The production topology on the real broker: quorum queues with an explicit delivery limit
    /// and at-least-once dead-lettering; declaring it twice is harmless.
    @Test func theQuorumTopologyDeclaresOnTheBroker() async throws {
        var configuration = try WorkerConfiguration(environment: [:])
        configuration.amqpURL = ProcessInfo.processInfo.environment["ITSM_TEST_AMQP_URL"] ?? configuration.amqpURL
        let id = UUID().uuidString.prefix(8).lowercased()
        configuration.queuePrefix = "topology.\(id)"
        configuration.alertsExchange = "topology.\(id).alerts"
        configuration.eventsExchange = "topology.\(id).events"
        configuration.queueType = .quorum
        configuration.deliveryLimit = 7
        let topology = WorkerTopology(configuration)
        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: configuration.amqpURL), logger: Logger(label: "t"))
        try await topology.declare(on: connection)
        try await topology.declare(on: connection)
        // The same queue with different arguments would be refused with 406; these are accepted.
        try await connection.declare(AMQPQueue(name: topology.alertsQueue, kind: .quorum, arguments: [
            "x-dead-letter-exchange": .string(topology.deadExchange), "x-delivery-limit": 7,
            "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish",
        ]))
        await #expect(throws: AMQPError.self) {
            try await connection.declare(AMQPQueue(name: topology.alertsQueue, kind: .quorum, arguments: ["x-delivery-limit": 8]))
        }
        // A retried message comes back to its own queue through the return exchange.
        let probe = AMQPProperties(headers: ["itsm-origin-queue": .string(topology.statusQueue)])
        _ = try await connection.publish(Array("{}".utf8), exchange: "", routingKey: topology.retryQueue(attempt: 1).queue, properties: probe)
        #expect(await eventually(10) { (try? await connection.inspectQueue(topology.statusQueue).messageCount) == 1 })
        // Only there: not copied into the other work queues.
        #expect(try await connection.inspectQueue(topology.alertsQueue).messageCount == 0)
        #expect(try await connection.inspectQueue(topology.commandsQueue).messageCount == 0)
        // A message left in a hold queue nobody drains (its worker crashed) goes back to its work
        // queue when its TTL ends, by the same return exchange.
        var shortHold = topology
        shortHold.holdMessageTTL = .milliseconds(300)
        let hold = shortHold.holdQueue(instance: "https://acme.service-now.com")
        try await connection.declare(hold)
        let held = AMQPProperties(headers: ["itsm-origin-queue": .string(topology.alertsQueue)])
        _ = try await connection.publish(Array("{}".utf8), exchange: "", routingKey: hold.name, properties: held)
        #expect(await eventually(10) { (try? await connection.inspectQueue(topology.alertsQueue).messageCount) == 1 })
        #expect(try await connection.inspectQueue(hold.name).messageCount == 0)
        var queues = [topology.alertsQueue, topology.statusQueue, topology.commandsQueue, topology.deadQueue, hold.name]
        queues += topology.retryTTLs.map(topology.retryQueue(ttl:))
        for queue in queues { try await connection.deleteQueue(queue) }
        for exchange in [topology.alertsExchange, topology.eventsExchange, topology.deadExchange, topology.returnExchange] {
            try await connection.deleteExchange(exchange)
        }
        await connection.close()
    }
}
