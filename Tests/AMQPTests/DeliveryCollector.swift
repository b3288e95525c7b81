import AMQP
import Foundation
import Synchronization
import TestSupport
import Testing

/// Collects a consumer's deliveries in the background so a test can look at them while the
/// broker keeps sending.
final class DeliveryCollector: Sendable {
    private final class Box: Sendable {
        let deliveries = Mutex<[AMQPDelivery]>([])
    }
    private let box = Box()
    private let task: Task<Void, Never>

    init(_ consumer: AMQPConsumer, ackEach: Bool = false) {
        let box = self.box
        task = Task {
            do {
                for try await delivery in consumer {
                    if ackEach { try? await delivery.ack() }
                    box.deliveries.withLock { $0.append(delivery) }
                }
            } catch {}
        }
    }

    var deliveries: [AMQPDelivery] { box.deliveries.withLock { $0 } }

    /// Waits until `condition` holds for what was received, or the deadline passes.
    func wait(atMost seconds: Double = 10, until condition: ([AMQPDelivery]) -> Bool) async -> [AMQPDelivery] {
        await eventually(seconds) { condition(deliveries) }
        return deliveries
    }

    func stop() { task.cancel() }
}
