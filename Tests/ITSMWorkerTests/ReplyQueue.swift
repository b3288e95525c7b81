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

/// Replies to commands, collected; ``stop()`` ends the collecting.
final class ReplyQueue: Sendable {
    let name: String
    private let received = Mutex<[AMQPDelivery]>([])
    private let task: Mutex<Task<Void, any Error>?> = Mutex(nil)

    init(name: String, consumer: AMQPConsumer) {
        self.name = name
        let started = Task { [weak self] in
            for try await delivery in consumer {
                try? await delivery.ack()
                self?.received.withLock { $0.append(delivery) }
            }
        }
        task.withLock { $0 = started }
    }

    var deliveries: [AMQPDelivery] { received.withLock { $0 } }

    func stop() { task.withLock { $0?.cancel() } }
}
