import AMQP
import Foundation
import TestSupport
import Testing

/// Acks leave in batches (`basic.ack` with `multiple`); these check against RabbitMQ that a
/// batch never settles a delivery nobody acked, and that a held ack is not lost.
@Suite(.timeLimit(.minutes(2)))
struct AckBatchingTests {
    @Test func acksOfTwoConsumersOnOneChannelSettleOnlyWhatWasAcked() async throws {
        // A long hold: nothing leaves on a timer during the test, only as a run from the front.
        let connection = try await Broker.connect(ackHold: .seconds(30))
        let acked = Broker.uniqueName("acked"), kept = Broker.uniqueName("kept")
        try await connection.declareTestQueue(acked)
        try await connection.declareTestQueue(kept)
        // Interleaved, so that the kept queue's deliveries sit between the acked ones' tags.
        for n in 0..<10 {
            try await connection.publish(Array("a\(n)".utf8), exchange: "", routingKey: acked)
            try await connection.publish(Array("k\(n)".utf8), exchange: "", routingKey: kept)
        }
        let ackedCollector = DeliveryCollector(try await connection.consume(queue: acked, prefetch: 20))
        let keptCollector = DeliveryCollector(try await connection.consume(queue: kept, prefetch: 20))
        let toAck = await ackedCollector.wait { $0.count == 10 }
        #expect(await keptCollector.wait { $0.count == 10 }.count == 10)
        // Last first: each waits for the ones before it.
        for delivery in toAck.reversed() { try await delivery.ack() }
        ackedCollector.stop()
        keptCollector.stop()
        // Closing sends what is held and gives the unacked deliveries back.
        await connection.close()
        let observer = try await Broker.connect()
        #expect(try await observer.inspectQueue(acked).messageCount == 0)
        #expect(await eventually(5) { (try? await observer.inspectQueue(kept).messageCount) == 10 })
        try await observer.deleteQueue(acked)
        try await observer.deleteQueue(kept)
        await observer.close()
    }

    @Test func aRunOfAcksLeavesAsOneFrame() async throws {
        let connection = try await Broker.connect(ackHold: .seconds(30))
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("run")
        try await connection.declareTestQueue(queue)
        for n in 0..<10 { try await connection.publish(Array("m\(n)".utf8), exchange: "", routingKey: queue) }
        let collector = DeliveryCollector(try await connection.consume(queue: queue, prefetch: 10))
        let deliveries = await collector.wait { $0.count == 10 }
        for delivery in deliveries.reversed() { try await delivery.ack() }
        #expect(await eventually(5) { (try? await connection.inspectQueue(queue).messageCount) == 0 })
        #expect(await connection.ackFramesSent() == 1)
        collector.stop()
        try await connection.deleteQueue(queue)
    }

    @Test func anAckBehindAnUnackedDeliveryLeavesAfterTheHold() async throws {
        let connection = try await Broker.connect(ackHold: .milliseconds(50))
        let queue = Broker.uniqueName("held")
        try await connection.declareTestQueue(queue)
        for n in 0..<3 { try await connection.publish(Array("m\(n)".utf8), exchange: "", routingKey: queue) }
        let collector = DeliveryCollector(try await connection.consume(queue: queue, prefetch: 3))
        let deliveries = await collector.wait { $0.count == 3 }
        // The first stays in progress; the others' acks go out on their own once held 50 ms.
        try await deliveries[1].ack()
        try await deliveries[2].ack()
        #expect(await eventually(5) { await connection.ackFramesSent() == 2 })
        collector.stop()
        // Lost without a close: only what reached the broker counts.
        await connection.simulateConnectionLoss()
        let observer = try await Broker.connect()
        #expect(await eventually(5) { (try? await observer.inspectQueue(queue).messageCount) == 1 })
        try await observer.deleteQueue(queue)
        await observer.close()
        await connection.close()
    }
}
