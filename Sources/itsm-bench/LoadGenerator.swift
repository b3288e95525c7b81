import AMQP
import AsyncHTTPClient
import Foundation
import ITSMCore
import ITSMWorker
import Postgres
import ServiceNowSimulator
import Synchronization

/// Publishes alerts and waits for their `ticket.created` (or `ticket.linked`: the alert joined
/// another's incident), timing each.
final class LoadGenerator: Sendable {
    let connection: AMQPConnection
    let exchange: String
    private let published = Mutex<[String: (ContinuousClock.Instant, String)]>([:])
    /// (published, latency, customer) per alert: the percentiles and --timeline.
    let timeline = Mutex<[(ContinuousClock.Instant, Duration, String)]>([])
    private let created = Atomic<Int>(0)
    private let linked = Atomic<Int>(0)
    private let consumer: AMQPConsumer
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    private init(connection: AMQPConnection, exchange: String, consumer: AMQPConsumer) {
        self.connection = connection
        self.exchange = exchange
        self.consumer = consumer
    }

    static func start(connection: AMQPConnection, alertsExchange: String, eventsExchange: String, queue: String) async throws -> LoadGenerator {
        try await connection.declare(AMQPExchange(name: alertsExchange, kind: .topic))
        try await connection.declare(AMQPExchange(name: eventsExchange, kind: .topic))
        try await connection.declare(AMQPQueue(name: queue, kind: .classic, durable: false, exclusive: true))
        try await connection.bind(AMQPBinding(queue: queue, exchange: eventsExchange, routingKey: "ticket.created"))
        try await connection.bind(AMQPBinding(queue: queue, exchange: eventsExchange, routingKey: "ticket.linked"))
        let consumer = try await connection.consume(queue: queue, prefetch: 2000)
        let generator = LoadGenerator(connection: connection, exchange: alertsExchange, consumer: consumer)
        let task = Task {
            do {
                for try await delivery in consumer {
                    try? await delivery.ack()
                    guard let event = try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any],
                          let cause = event["cause_event_id"] as? String else { continue }
                    let now = ContinuousClock.now
                    if let (sent, customer) = generator.published.withLock({ $0[cause] }) {
                        generator.timeline.withLock { $0.append((sent, now - sent, customer)) }
                    }
                    generator.created.add(1, ordering: .relaxed)
                    if event["type"] as? String == "ticket.linked" { generator.linked.add(1, ordering: .relaxed) }
                }
            } catch {}
        }
        generator.task.withLock { $0 = task }
        return generator
    }

    func publish(customer: String, network: String = "net-1", alertID: String) async throws {
        let eventID = UUID().uuidString.lowercased()
        let body = #"{"schema":"ceburu.alert.v1","event_id":"\#(eventID)","type":"alert.raised","occurred_at":"\#(AlertEvent.formatTimestamp(Date()))","customer_id":"\#(customer)","network_id":"\#(network)","alert":{"id":"\#(alertID)","type":"cpu_usage","severity":"critical","title":"CPU usage above 95%","description":"bench","device":{"id":"d","name":"core-sw-01","ip":"10.0.0.1"}}}"#
        published.withLock { $0[eventID] = (.now, customer) }
        try await connection.publish(Array(body.utf8), exchange: exchange, routingKey: "alert.raised", properties: AMQPProperties(contentType: "application/json"))
    }

    /// Alerts settled: with a ticket of their own or joined to another's.
    var createdCount: Int { created.load(ordering: .relaxed) }
    var linkedCount: Int { linked.load(ordering: .relaxed) }

    /// Forgets the latencies so far (the warm-up's), so that percentiles cover the run only.
    func resetLatencies() {
        timeline.withLock { $0 = [] }
    }

    func waitFor(_ count: Int, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while createdCount < count && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return createdCount >= count
    }

    /// (p50, p99) of publish → ticket.created, of one customer's alerts or all.
    func percentiles(customer: String? = nil) -> (Duration, Duration) {
        let sorted = timeline.withLock { $0 }.filter { customer == nil || $0.2 == customer }.map(\.1).sorted()
        guard !sorted.isEmpty else { return (.zero, .zero) }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))])
    }

    /// When the last of a customer's tickets was reported.
    func lastCreated(customer: String) -> ContinuousClock.Instant {
        timeline.withLock { $0 }.filter { $0.2 == customer }.map { $0.0 + $0.1 }.max() ?? .now
    }

    func stop() async {
        try? await consumer.cancel()
        task.withLock { $0 }?.cancel()
    }
}
