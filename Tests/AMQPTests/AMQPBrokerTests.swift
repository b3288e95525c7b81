import AMQP
import Foundation
import Logging
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3)))
struct AMQPBrokerTests {
    @Test func publishConsumeAck() async throws {
        let connection = try await Broker.connect()
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("roundtrip")
        try await connection.declareTestQueue(queue)
        let properties = AMQPProperties(
            contentType: "application/json",
            headers: ["x-attempt": 3, "x-reason": "because", "x-flag": true],
            correlationID: "corr-1", replyTo: "reply.queue", messageID: "msg-1")
        let outcome = try await connection.publish(Array(#"{"hello":"world"}"#.utf8), exchange: "", routingKey: queue, properties: properties)
        #expect(outcome == .confirmed)

        let collector = DeliveryCollector(try await connection.consume(queue: queue, prefetch: 10))
        let deliveries = await collector.wait { $0.count == 1 }
        let delivery = try #require(deliveries.first)
        #expect(String(decoding: delivery.body, as: UTF8.self) == #"{"hello":"world"}"#)
        #expect(delivery.routingKey == queue)
        #expect(!delivery.redelivered)
        #expect(delivery.properties.persistent)
        #expect(delivery.properties.contentType == "application/json")
        #expect(delivery.properties.correlationID == "corr-1")
        #expect(delivery.properties.replyTo == "reply.queue")
        #expect(delivery.properties.messageID == "msg-1")
        #expect(delivery.properties.headers["x-attempt"]?.intValue == 3)
        #expect(delivery.properties.headers["x-reason"]?.stringValue == "because")
        #expect(delivery.properties.headers["x-flag"] == .bool(true))
        try await delivery.ack()
        collector.stop()
        #expect(await eventually(5) { (try? await connection.inspectQueue(queue).messageCount) == 0 })
        try await connection.deleteQueue(queue)
    }

    @Test func nackWithRequeueIsRedeliveredWithTheFlag() async throws {
        let connection = try await Broker.connect()
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("requeue")
        try await connection.declareTestQueue(queue)
        try await connection.publish(Array("once more".utf8), exchange: "", routingKey: queue)
        let collector = DeliveryCollector(try await connection.consume(queue: queue, prefetch: 1))
        let first = try #require(await collector.wait { $0.count == 1 }.first)
        #expect(!first.redelivered)
        try await first.nack(requeue: true)
        let deliveries = await collector.wait { $0.count == 2 }
        #expect(deliveries.count == 2)
        let second = try #require(deliveries.last)
        #expect(second.redelivered)
        #expect(second.body == first.body)
        try await second.ack()
        collector.stop()
        try await connection.deleteQueue(queue)
    }

    @Test func rejectLandsInTheDeadLetterQueue() async throws {
        let connection = try await Broker.connect()
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("work")
        let dlx = Broker.uniqueName("dlx")
        let dlq = Broker.uniqueName("dlq")
        try await connection.declare(AMQPExchange(name: dlx, kind: .fanout))
        try await connection.declareTestQueue(dlq)
        try await connection.bind(AMQPBinding(queue: dlq, exchange: dlx, routingKey: ""))
        try await connection.declareTestQueue(queue, arguments: ["x-dead-letter-exchange": .string(dlx)])
        try await connection.publish(Array("poison".utf8), exchange: "", routingKey: queue)

        let work = DeliveryCollector(try await connection.consume(queue: queue, prefetch: 1))
        let delivery = try #require(await work.wait { $0.count == 1 }.first)
        try await delivery.reject()
        let dead = DeliveryCollector(try await connection.consume(queue: dlq, prefetch: 1), ackEach: true)
        let deadLettered = try #require(await dead.wait { $0.count == 1 }.first)
        #expect(String(decoding: deadLettered.body, as: UTF8.self) == "poison")
        guard case .array(let deaths)? = deadLettered.properties.headers["x-death"], case .table(let death)? = deaths.first else {
            Issue.record("no x-death header: \(deadLettered.properties.headers)")
            return
        }
        #expect(death["reason"]?.stringValue == "rejected")
        #expect(death["queue"]?.stringValue == queue)
        work.stop(); dead.stop()
        try await connection.deleteQueue(queue)
        try await connection.deleteQueue(dlq)
        try await connection.deleteExchange(dlx)
    }

    @Test func confirmsArriveForTenThousandPersistentMessages() async throws {
        let connection = try await Broker.connect()
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("confirms")
        try await connection.declareTestQueue(queue)
        let total = 10_000
        let started = ContinuousClock.now
        let confirmed = try await withThrowingTaskGroup(of: AMQPPublishOutcome.self) { group in
            // Many publishes in flight at once share the confirm window.
            var sent = 0
            var confirmed = 0
            while sent < min(500, total) {
                let n = sent
                group.addTask { try await connection.publish(Array("message \(n)".utf8), exchange: "", routingKey: queue) }
                sent += 1
            }
            while let outcome = try await group.next() {
                if outcome == .confirmed { confirmed += 1 }
                if sent < total {
                    let n = sent
                    group.addTask { try await connection.publish(Array("message \(n)".utf8), exchange: "", routingKey: queue) }
                    sent += 1
                }
            }
            return confirmed
        }
        let elapsed = ContinuousClock.now - started
        print("confirmed \(confirmed) persistent publishes in \(elapsed)")
        #expect(confirmed == total)
        #expect(try await connection.inspectQueue(queue).messageCount == total)
        try await connection.deleteQueue(queue)
    }

    @Test func prefetchBoundsUnackedDeliveries() async throws {
        let connection = try await Broker.connect()
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("prefetch")
        try await connection.declareTestQueue(queue)
        for n in 0..<20 { try await connection.publish(Array("m\(n)".utf8), exchange: "", routingKey: queue) }
        let collector = DeliveryCollector(try await connection.consume(queue: queue, prefetch: 5))
        _ = await collector.wait { $0.count >= 5 }
        // The broker's own count: what it did not deliver is still ready. An overshoot would
        // show there, whether or not it has reached the collector yet.
        #expect(try await connection.inspectQueue(queue).messageCount == 15)
        #expect(collector.deliveries.count == 5)
        try await collector.deliveries[0].ack()
        let after = await collector.wait { $0.count >= 6 }
        #expect(try await connection.inspectQueue(queue).messageCount == 14)
        #expect(after.count == 6)
        #expect(collector.deliveries.count == 6)
        collector.stop()
        try await connection.deleteQueue(queue)
    }

    @Test func mandatoryUnroutablePublishIsReturned() async throws {
        let connection = try await Broker.connect()
        defer { Task { await connection.close() } }
        let exchange = Broker.uniqueName("nowhere")
        try await connection.declare(AMQPExchange(name: exchange, kind: .topic, durable: false, autoDelete: false))
        let outcome = try await connection.publish(Array("lost?".utf8), exchange: exchange, routingKey: "no.binding", mandatory: true)
        #expect(outcome == .returned(replyCode: 312, replyText: "NO_ROUTE"))
        let silent = try await connection.publish(Array("dropped".utf8), exchange: exchange, routingKey: "no.binding")
        #expect(silent == .confirmed)
        try await connection.deleteExchange(exchange)
    }

    @Test func channelErrorsAreReportedAndTheChannelRecovers() async throws {
        let connection = try await Broker.connect()
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("conflict")
        try await connection.declareTestQueue(queue, arguments: ["x-message-ttl": 60_000])
        await #expect(throws: AMQPError.self) {
            try await connection.declare(AMQPQueue(name: queue, kind: .classic, arguments: ["x-message-ttl": 1_000]))
        }
        do {
            try await connection.publish(Array("x".utf8), exchange: Broker.uniqueName("missing-exchange"), routingKey: "k")
            Issue.record("publishing to a missing exchange succeeded")
        } catch let error {
            guard case .channelClosed(let code, _) = error else {
                Issue.record("expected channelClosed, got \(error)")
                return
            }
            #expect(code == 404)
        }
        // The channel was reopened: normal work goes on.
        #expect(try await connection.publish(Array("ok".utf8), exchange: "", routingKey: queue) == .confirmed)
        #expect(try await connection.inspectQueue(queue).messageCount == 1)
        try await connection.deleteQueue(queue)
    }

    @Test func heartbeatsKeepAnIdleConnectionAlive() async throws {
        let connection = try await Broker.connect(heartbeat: 1)
        defer { Task { await connection.close() } }
        // The application does nothing with the connection for several heartbeat periods.
        try await Task.sleep(for: .seconds(4))
        #expect(connection.isConnected)
        #expect(connection.recoveries == 0)
        let queue = Broker.uniqueName("heartbeat")
        try await connection.declareTestQueue(queue)
        #expect(try await connection.publish(Array("alive".utf8), exchange: "", routingKey: queue) == .confirmed)
        try await connection.deleteQueue(queue)
    }

    @Test func aConnectionClosedByTheBrokerRecoversWithoutLosingMessages() async throws {
        let name = "recovery-\(UUID().uuidString.prefix(8))"
        let consumerConnection = try await Broker.connect(name: name)
        let publisher = try await Broker.connect()
        defer { Task { await consumerConnection.close(); await publisher.close() } }
        let queue = Broker.uniqueName("recovery")
        try await consumerConnection.declareTestQueue(queue)
        let collector = DeliveryCollector(try await consumerConnection.consume(queue: queue, prefetch: 10), ackEach: true)

        let total = 200
        for n in 0..<total / 2 { try await publisher.publish(Array("m\(n)".utf8), exchange: "", routingKey: queue) }
        _ = await collector.wait { Set($0.map(\.body)).count >= 20 }
        #expect(try await Broker.closeConnection(named: name), "rabbitmqctl found no connection named \(name)")
        for n in total / 2..<total { try await publisher.publish(Array("m\(n)".utf8), exchange: "", routingKey: queue) }

        let received = await collector.wait(atMost: 30) { Set($0.map(\.body)).count == total }
        #expect(Set(received.map(\.body)).count == total)
        #expect(consumerConnection.recoveries >= 1)
        #expect(consumerConnection.isConnected)
        // Everything was acked after recovery: nothing is left behind.
        #expect(await eventually(5) { (try? await consumerConnection.inspectQueue(queue).messageCount) == 0 })
        collector.stop()
        try await consumerConnection.deleteQueue(queue)
    }

    @Test func unconfirmedPublishesFailWhenTheConnectionDrops() async throws {
        let connection = try await Broker.connect()
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("inflight")
        try await connection.declareTestQueue(queue)
        let results = await withTaskGroup(of: Result<AMQPPublishOutcome, AMQPError>.self) { group in
            for n in 0..<2000 {
                group.addTask {
                    do throws(AMQPError) { return .success(try await connection.publish(Array("m\(n)".utf8), exchange: "", routingKey: queue)) }
                    catch { return .failure(error) }
                }
            }
            group.addTask {
                await connection.simulateConnectionLoss()
                return .success(.confirmed)
            }
            var results: [Result<AMQPPublishOutcome, AMQPError>] = []
            for await result in group { results.append(result) }
            return results
        }
        // Every publish got an answer: confirmed, or failed as retryable; none vanished.
        #expect(results.count == 2001)
        for case .failure(let error) in results { #expect(error.isRetryable, "\(error)") }
        let failures = results.filter { if case .failure = $0 { return true } else { return false } }.count
        print("publishes failed by the simulated loss: \(failures) of 2000")
        // Reconnecting waits out the first backoff (200 ms) and a handshake, longer on a busy machine.
        #expect(await eventually(10) { connection.recoveries >= 1 })
        try await connection.deleteQueue(queue)
    }

    @Test func wrongPasswordFailsFastWithoutTheSecret() async throws {
        var configuration = try AMQPConfiguration(url: Broker.url)
        configuration.password = "definitely-wrong-pw"
        do {
            let connection = try await AMQPConnection.connect(configuration, logger: .init(label: "test"))
            await connection.close()
            Issue.record("login with a wrong password succeeded")
        } catch {
            guard case .loginFailed = error else { Issue.record("expected loginFailed, got \(error)"); return }
            #expect(!error.description.contains("definitely-wrong-pw"))
        }
    }

    @Test func unreachableBrokerFailsFast() async throws {
        var configuration = try AMQPConfiguration(url: "amqp://guest:guest@127.0.0.1:1/%2f")
        configuration.connectTimeout = .seconds(2)
        await #expect(throws: AMQPError.self) {
            let connection = try await AMQPConnection.connect(configuration, logger: .init(label: "test"))
            await connection.close()
        }
    }
}
