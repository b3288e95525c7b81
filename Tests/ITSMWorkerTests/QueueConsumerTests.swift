import AMQP
import Foundation
import ITSMAMQP
import Logging
import Synchronization
import TestSupport
import Testing

/// The consumer's intake against the real broker: a second consumer on the same queue adds its
/// prefetch to the first's, and an idle consumer stops when asked.
@Suite(.timeLimit(.minutes(1)))
struct QueueConsumerTests {
    let url = ProcessInfo.processInfo.environment["ITSM_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"

    @Test func theIntakeGrowsToWhatTheInstancesCanTake() async throws {
        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: url), logger: Logger(label: "t"))
        let queue = "consumer-test.\(UUID().uuidString.prefix(8).lowercased())"
        try await connection.declare(AMQPQueue(name: queue, kind: .classic, durable: false))
        for n in 0..<60 { _ = try await connection.publish(Array("m\(n)".utf8), exchange: "", routingKey: queue) }
        let handling = Atomic<Int>(0)
        let released = Atomic<Bool>(false)
        let consumer = QueueConsumer(queue: queue, amqp: connection, prefetch: 4, preparing: 100, maximumPrefetch: 200,
                                     wantedIntake: { 40 }, logger: Logger(label: "t")) { delivery, _ in
            handling.add(1, ordering: .relaxed)
            // Held unacknowledged: only the prefetch lets more deliveries come.
            while !released.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(10)) }
            try? await delivery.ack()
        }
        let running = Task { try await consumer.run() }
        // 4 at first, then 40 in all once the second consumer takes the difference; not 60.
        #expect(await eventually(10) { handling.load(ordering: .relaxed) == 40 })
        try await Task.sleep(for: .milliseconds(300))
        #expect(handling.load(ordering: .relaxed) == 40, "the intake went past what was wanted")
        released.store(true, ordering: .releasing)
        #expect(await eventually(10) { handling.load(ordering: .relaxed) == 60 })
        running.cancel()
        _ = try? await running.value
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test func anIdleConsumerStopsOnlyWhenItsOwnerAgrees() async throws {
        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: url), logger: Logger(label: "t"))
        let queue = "consumer-test.\(UUID().uuidString.prefix(8).lowercased())"
        try await connection.declare(AMQPQueue(name: queue, kind: .classic, durable: false))
        let agree = Atomic<Bool>(false)
        let asked = Atomic<Int>(0)
        let consumer = QueueConsumer(queue: queue, amqp: connection, prefetch: 4, preparing: 4,
                                     stopWhenIdle: (after: .milliseconds(200), agree: {
                                         asked.add(1, ordering: .relaxed)
                                         return agree.load(ordering: .relaxed)
                                     }), logger: Logger(label: "t")) { delivery, _ in try? await delivery.ack() }
        let running = Task { try await consumer.run() }
        #expect(await eventually(10) { asked.load(ordering: .relaxed) >= 2 })
        #expect(try await connection.inspectQueue(queue).consumerCount == 1, "it stopped without its owner's agreement")
        agree.store(true, ordering: .relaxed)
        try await running.value
        #expect(try await connection.inspectQueue(queue).consumerCount == 0)
        try await connection.deleteQueue(queue)
        await connection.close()
    }
}
