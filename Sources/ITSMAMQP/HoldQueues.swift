import AMQP
import Logging
import ServiceLifecycle
import Synchronization

/// The hold queues of busy instances, and this worker's consumers on them.
///
/// A message for a healthy instance that has more work than it can take (its bulkhead and
/// waiting room full) moves, once, to that instance's hold queue, so the work queue keeps
/// flowing for every other customer; an alert storm for one instance waits there in order.
/// The worker that moved a message consumes that hold queue, with a prefetch of the instance's
/// share, and its messages wait in the worker for their turn instead of moving again. A hold
/// consumer stops when its queue has been idle for `idleAfter`; whatever is left in a hold queue
/// nobody consumes goes back to its work queue when its TTL ends (``WorkerTopology/holdMessageTTL``).
public final class HoldQueues: Service, Sendable {
    let topology: WorkerTopology
    let amqp: AMQPConnection
    let prefetch: Int
    let idleAfter: Duration
    let logger: Logger
    private let handle: Mutex<(@Sendable (AMQPDelivery, String) async -> Void)?> = Mutex(nil)
    /// The hold queues this process consumes now.
    private let state = Mutex<Set<String>>([])
    /// Hold queues the broker refused to declare (one left by another version with other
    /// arguments: 406), and when: for a while their messages use the retry queues instead of
    /// closing the channel on every attempt.
    private let refused = Mutex<[String: ContinuousClock.Instant]>([:])
    /// Declarations under way: concurrent overflows for one instance wait for the same one, so
    /// a refusal is met (and logged) once.
    private let declaring = Mutex<[String: Task<Void, any Error>]>([:])
    private let starts: AsyncStream<String>
    private let startsSink: AsyncStream<String>.Continuation

    public init(topology: WorkerTopology, amqp: AMQPConnection, prefetch: Int, idleAfter: Duration = .seconds(60), logger: Logger) {
        self.topology = topology
        self.amqp = amqp
        self.prefetch = prefetch
        self.idleAfter = idleAfter
        self.logger = logger
        (starts, startsSink) = AsyncStream.makeStream()
    }

    /// What processes a held message: the message processor, given its work queue's name.
    public func handleWith(_ handle: @escaping @Sendable (AMQPDelivery, String) async -> Void) {
        self.handle.withLock { $0 = handle }
    }

    /// The instance's hold queue, consumed by this process from now on. It is declared whenever
    /// this process starts consuming it: one nobody consumed may have expired meanwhile (a
    /// consumed queue does not expire).
    func queue(for instance: String) async throws -> String {
        let queue = topology.holdQueue(instance: instance)
        guard !state.withLock({ $0.contains(queue.name) }) else { return queue.name }
        if let since = refused.withLock({ $0[queue.name] }), ContinuousClock.now - since < .seconds(300) {
            throw HoldQueueRefused(queue: queue.name)
        }
        let amqp = self.amqp
        let (declaration, first) = declaring.withLock { tasks in
            if let running = tasks[queue.name] { return (running, false) }
            let task = Task { _ = try await amqp.declare(queue) }
            tasks[queue.name] = task
            return (task, true)
        }
        do {
            try await declaration.value
            if first { declaring.withLock { $0[queue.name] = nil } }
        } catch {
            if first {
                refused.withLock { $0[queue.name] = .now }
                declaring.withLock { $0[queue.name] = nil }
                logger.warning("could not declare a busy instance's hold queue; its overflow uses the retry queues for 5 minutes",
                               metadata: ["amqp.queue": "\(queue.name)", "error": "\(error)"])
            }
            throw error
        }
        if state.withLock({ $0.insert(queue.name).inserted }) { startsSink.yield(queue.name) }
        return queue.name
    }

    /// Hold queues this process consumes now (tests, logs).
    public var consuming: Set<String> { state.withLock { $0 } }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await queue in starts.cancelOnGracefulShutdown() {
                group.addTask { await self.consume(queue) }
            }
            startsSink.finish()
        }
    }

    private func consume(_ queue: String) async {
        guard let handle = handle.withLock({ $0 }) else {
            state.withLock { _ = $0.remove(queue) }
            return
        }
        let topology = self.topology
        let consumer = QueueConsumer(queue: queue, amqp: amqp, prefetch: prefetch, preparing: prefetch, overflows: false,
                                     stopWhenIdle: (idleAfter, { [self] in
                                         // Decided under the lock that a new hold takes: one arriving later starts a new consumer.
                                         state.withLock { $0.remove(queue) != nil }
                                     }), logger: logger) { delivery, _ in
            // Back to the work queue it came from: its retries, dead letters and holds are that queue's.
            let origin = topology.workQueue(named: delivery.properties.headers["itsm-origin-queue"]?.stringValue) ?? topology.alertsQueue
            await handle(delivery, origin)
        }
        logger.info("consuming a busy instance's hold queue", metadata: ["amqp.queue": "\(queue)"])
        do {
            try await consumer.run()
        } catch {
            logger.warning("a hold queue's consumer ended; the next held message starts another", metadata: ["amqp.queue": "\(queue)", "error": "\(error)"])
            state.withLock { _ = $0.remove(queue) }
        }
    }
}

/// A hold queue the broker refused to declare a moment ago.
struct HoldQueueRefused: Error, CustomStringConvertible {
    let queue: String
    var description: String { "the broker refused to declare \(queue) a moment ago" }
}
