import AMQP
import Logging
import ServiceLifecycle
import Synchronization

/// Consumes one work queue and processes up to `maxInFlight` deliveries at once, so one slow
/// ServiceNow call does not hold up the queue. On graceful shutdown it stops taking deliveries
/// and lets those in flight finish; deliveries it had not started go back to the queue.
public struct QueueConsumer: Service {
    let queue: String
    let amqp: AMQPConnection
    let handle: @Sendable (AMQPDelivery, String) async -> Void
    let prefetch: Int
    let maxInFlight: Int
    let logger: Logger

    public init(queue: String, amqp: AMQPConnection, prefetch: Int, maxInFlight: Int, logger: Logger,
                handle: @escaping @Sendable (AMQPDelivery, String) async -> Void) {
        self.queue = queue
        self.amqp = amqp
        self.handle = handle
        self.prefetch = prefetch
        self.maxInFlight = maxInFlight
        self.logger = logger
    }

    public func run() async throws {
        let consumer = try await amqp.consume(queue: queue, prefetch: UInt16(clamping: prefetch))
        logger.info("consuming", metadata: ["amqp.queue": "\(queue)", "prefetch": "\(prefetch)", "max_in_flight": "\(maxInFlight)"])
        // `started` counts child tasks not yet collected from the group, finished or not (it
        // enforces the cap); `unfinished` those still handling their delivery, for the log.
        let unfinished = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var started = 0
            for try await delivery in consumer.cancelOnGracefulShutdown() {
                if started >= maxInFlight {
                    try await group.next()
                    started -= 1
                }
                unfinished.add(1)
                group.addTask { [handle, queue] in
                    await handle(delivery, queue)
                    unfinished.add(-1)
                }
                started += 1
            }
            try? await consumer.cancel()
            logger.info("stopped taking deliveries; finishing those in flight", metadata: ["amqp.queue": "\(queue)", "in_flight": "\(unfinished.value)"])
            try await group.waitForAll()
        }
    }
}

private final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ delta: Int) { count.add(delta, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
