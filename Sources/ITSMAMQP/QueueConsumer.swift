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
    /// See ``IntakeSlot/overflows``.
    let overflows: Bool
    /// Stop once no delivery came for this long and none is in progress, if the closure agrees.
    let stopWhenIdle: (after: Duration, agree: @Sendable () -> Bool)?
    let logger: Logger

    public init(queue: String, amqp: AMQPConnection, prefetch: Int, preparing: Int, maximumPrefetch: Int? = nil,
                wantedIntake: @escaping @Sendable () -> Int = { 0 }, overflows: Bool = true,
                stopWhenIdle: (after: Duration, agree: @Sendable () -> Bool)? = nil, logger: Logger,
                handle: @escaping @Sendable (AMQPDelivery, String) async -> Void) {
        self.queue = queue
        self.amqp = amqp
        self.handle = handle
        self.prefetch = prefetch
        self.preparing = preparing
        self.maximumPrefetch = max(prefetch, maximumPrefetch ?? prefetch)
        self.wantedIntake = wantedIntake
        self.overflows = overflows
        self.stopWhenIdle = stopWhenIdle
        self.logger = logger
    }

    public func run() async throws {
        let (deliveries, sink) = AsyncThrowingStream<AMQPDelivery, any Error>.makeStream()
        let first = try await amqp.consume(queue: queue, prefetch: UInt16(clamping: prefetch))
        let book = Book(first)
        let watchdog = stopWhenIdle.map { idle in
            Task {
                while (try? await Task.sleep(for: idle.after / 4)) != nil {
                    guard book.unfinished == 0, ContinuousClock.now - book.lastDelivery.withLock({ $0 }) >= idle.after, idle.agree() else { continue }
                    for consumer in book.consumers.withLock({ $0 }) { try? await consumer.cancel() }
                    return
                }
            }
        }
        defer { watchdog?.cancel() }
        logger.info("consuming", metadata: ["amqp.queue": "\(queue)", "prefetch": "\(prefetch)", "preparing": "\(preparing)"])
        let limiter = IntakeLimiter(limit: preparing)
        var failure: (any Error)?
        await withDiscardingTaskGroup { group in
            group.addTask { await Self.forward(first, to: sink) }
            var intake = prefetch
            var nextLook = ContinuousClock.now
            do {
                for try await delivery in deliveries.cancelOnGracefulShutdown() {
                    guard await limiter.acquire() else { break }
                    let slot = limiter.slot(overflows: overflows)
                    book.add(1)
                    book.lastDelivery.withLock { $0 = .now }
                    group.addTask { [handle, queue] in
                        await IntakeSlot.$current.withValue(slot) { await handle(delivery, queue) }
                        slot.giveBack()
                        book.add(-1)
                    }
                    // What the instances in use can take, looked at a few times a second.
                    guard intake < maximumPrefetch, ContinuousClock.now >= nextLook else { continue }
                    nextLook = .now + .milliseconds(250)
                    let wanted = min(wantedIntake(), maximumPrefetch)
                    guard wanted >= intake + max(16, intake / 4) else { continue }
                    let extra: AMQPConsumer
                    do {
                        extra = try await amqp.consume(queue: queue, prefetch: UInt16(clamping: wanted - intake))
                    } catch {
                        // Growing is optional: the queue keeps flowing at the current intake.
                        logger.warning("could not grow the intake; will try again", metadata: ["amqp.queue": "\(queue)", "error": "\(error)"])
                        nextLook = .now + .seconds(5)
                        continue
                    }
                    book.consumers.withLock { $0.append(extra) }
                    group.addTask { await Self.forward(extra, to: sink) }
                    logger.info("intake grown with the instances in use", metadata: ["amqp.queue": "\(queue)", "prefetch": "\(wanted)", "was": "\(intake)"])
                    intake = wanted
                }
            } catch {
                failure = error
            }
            for consumer in book.consumers.withLock({ $0 }) { try? await consumer.cancel() }
            sink.finish()
            logger.info("stopped taking deliveries; finishing those in flight", metadata: ["amqp.queue": "\(queue)", "in_flight": "\(book.unfinished)"])
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

/// The consumers of one queue, the deliveries still being handled, and when the last came.
private final class Book: Sendable {
    let consumers: Mutex<[AMQPConsumer]>
    let lastDelivery = Mutex(ContinuousClock.now)
    private let handling = Atomic<Int>(0)

    init(_ first: AMQPConsumer) { consumers = Mutex([first]) }

    func add(_ delta: Int) { handling.add(delta, ordering: .relaxed) }
    var unfinished: Int { handling.load(ordering: .relaxed) }
}
