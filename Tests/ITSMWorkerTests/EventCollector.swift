import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Postgres
import ServiceNow
import ServiceNowSimulator
import Synchronization
import TestSupport
import Testing

/// Every event published on the test's events exchange, decoded.
final class EventCollector: Sendable {
    // Raw bodies: `[String: Any]` is not Sendable; decoded on read.
    private let received = Mutex<[[UInt8]]>([])
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let consumer: AMQPConsumer

    private init(consumer: AMQPConsumer) {
        self.consumer = consumer
    }

    static func start(on connection: AMQPConnection, exchange: String, queue: String, durable: Bool = false,
                      kind: AMQPQueue.Kind = .classic) async throws -> EventCollector {
        try await connection.declare(AMQPQueue(name: queue, kind: kind, durable: durable || kind == .quorum, exclusive: false, autoDelete: false))
        try await connection.bind(AMQPBinding(queue: queue, exchange: exchange, routingKey: "#"))
        let consumer = try await connection.consume(queue: queue, prefetch: 1000)
        let collector = EventCollector(consumer: consumer)
        let task = Task {
            do {
                for try await delivery in consumer {
                    try? await delivery.ack()
                    collector.received.withLock { $0.append(delivery.body) }
                }
            } catch {}
        }
        collector.task.withLock { $0 = task }
        return collector
    }

    /// The type of the markers ``TestStack/eventsCaughtUp(within:)`` sends; never in ``all``.
    static let markerType = "test.marker"

    private var decoded: [[String: Any]] {
        received.withLock { $0 }.compactMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
    }

    var all: [[String: Any]] { decoded.filter { $0["type"] as? String != Self.markerType } }

    func sawMarker(_ marker: String) -> Bool { decoded.contains { $0["marker"] as? String == marker } }

    func ofType(_ type: String) -> [[String: Any]] { all.filter { $0["type"] as? String == type } }

    func forAlert(_ alertID: String, type: String? = nil) -> [[String: Any]] {
        all.filter { $0["alert_id"] as? String == alertID && (type == nil || $0["type"] as? String == type) }
    }

    func stop() async {
        try? await consumer.cancel()
        task.withLock { $0 }?.cancel()
    }
}
