import AMQP
import Coordination
import Logging
import ServiceLifecycle
import Synchronization

/// Consumes one work queue and processes its deliveries concurrently, so one slow ServiceNow call
/// does not hold up the queue. On graceful shutdown it stops taking deliveries and lets those in
/// flight finish; deliveries it had not started go back to the queue.
///
/// Two bounds size the intake. `preparing` caps the messages being prepared at once; a message
/// that reaches its instance's bulkhead gives its place back (``IntakeSlot``), since the bulkhead
/// bounds it from then on. And the broker sends `prefetch` deliveries ahead; when `wantedIntake`
/// (what the instances in use can take) grows past that, another consumer on the same queue
/// takes the difference, up to `maximumPrefetch`. So one global number never has to fit every
/// deployment, and a saturated or sick instance holds only its own share.
public struct QueueConsumer: Service {
    let queue: String
    let amqp: AMQPConnection
    let handle: @Sendable (AMQPDelivery, String) async -> Void
    let prefetch: Int
    let preparing: Int
    let maximumPrefetch: Int
    let wantedIntake: @Sendable () -> Int
    let logger: Logger

    public init(queue: String, amqp: AMQPConnection, prefetch: Int, preparing: Int, maximumPrefetch: Int? = nil,
                wantedIntake: @escaping @Sendable () -> Int = { 0 }, logger: Logger,
                handle: @escaping @Sendable (AMQPDelivery, String) async -> Void) {
        self.queue = queue
        self.amqp = amqp
        self.handle = handle
        self.prefetch = prefetch
        self.preparing = preparing
        self.maximumPrefetch = max(prefetch, maximumPrefetch ?? prefetch)
        self.wantedIntake = wantedIntake
        self.logger = logger
    }

    public func run() async throws {
        let (deliveries, sink) = AsyncThrowingStream<AMQPDelivery, any Error>.makeStream()
        let first = try await amqp.consume(queue: queue, prefetch: UInt16(clamping: prefetch))
        var consumers = [first]
        logger.info("consuming", metadata: ["amqp.queue": "\(queue)", "prefetch": "\(prefetch)", "preparing": "\(preparing)"])
        let limiter = IntakeLimiter(limit: preparing)
        let unfinished = Counter()
        var failure: (any Error)?
        await withDiscardingTaskGroup { group in
            group.addTask { await Self.forward(first, to: sink) }
            var intake = prefetch
            var nextLook = ContinuousClock.now
            do {
                for try await delivery in deliveries.cancelOnGracefulShutdown() {
                    guard await limiter.acquire() else { break }
                    let slot = limiter.slot()
                    unfinished.add(1)
                    group.addTask { [handle, queue] in
                        await IntakeSlot.$current.withValue(slot) { await handle(delivery, queue) }
                        slot.giveBack()
                        unfinished.add(-1)
                    }
                    // What the instances in use can take, looked at a few times a second.
                    guard intake < maximumPrefetch, ContinuousClock.now >= nextLook else { continue }
                    nextLook = .now + .milliseconds(250)
                    let wanted = min(wantedIntake(), maximumPrefetch)
                    guard wanted >= intake + max(16, intake / 4) else { continue }
                    let extra = try await amqp.consume(queue: queue, prefetch: UInt16(clamping: wanted - intake))
                    consumers.append(extra)
                    group.addTask { await Self.forward(extra, to: sink) }
                    logger.info("intake grown with the instances in use", metadata: ["amqp.queue": "\(queue)", "prefetch": "\(wanted)", "was": "\(intake)"])
                    intake = wanted
                }
            } catch {
                failure = error
            }
            for consumer in consumers { try? await consumer.cancel() }
            sink.finish()
            logger.info("stopped taking deliveries; finishing those in flight", metadata: ["amqp.queue": "\(queue)", "in_flight": "\(unfinished.value)"])
        }
        if let failure { throw failure }
    }

    /// One consumer's deliveries into the merged stream; its end (a lost connection, a cancel)
    /// ends the intake, as it did with one consumer.
    private static func forward(_ consumer: AMQPConsumer, to sink: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation) async {
        do {
            for try await delivery in consumer { sink.yield(delivery) }
            sink.finish()
        } catch {
            sink.finish(throwing: error)
        }
    }
}

private final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ delta: Int) { count.add(delta, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
