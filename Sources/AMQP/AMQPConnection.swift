import Coordination
import Foundation
import Logging
import Synchronization

/// A connection to RabbitMQ with one channel in publisher-confirm mode.
///
/// Safe to share between tasks: every operation is handed to the connection's own thread,
/// which is the only one that calls librabbitmq-c, so no C call runs on Swift's cooperative
/// thread pool and the C connection is never used by two threads at once. Acks are the
/// exception that needs no hand-over: they are noted (see ``AckLedger``) and the thread sends
/// them.
///
/// The connection recovers by itself. When the broker restarts, closes the connection or stops
/// answering heartbeats, operations in flight fail with ``AMQPError/connectionLost(reason:)``
/// (an unconfirmed publish is reported, never silently dropped), and the connection reconnects
/// with backoff, declares again every exchange, queue and binding declared through it, and
/// resubscribes its consumers, whose ``AMQPConsumer`` sequences simply go on.
///
/// ```swift
/// let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: "amqp://guest:guest@127.0.0.1/%2f"), logger: logger)
/// try await connection.declare(AMQPQueue(name: "work"))
/// _ = try await connection.publish(Array("hello".utf8), exchange: "", routingKey: "work")
/// for try await delivery in try await connection.consume(queue: "work", prefetch: 10) {
///     try await delivery.ack()
/// }
/// ```
public final class AMQPConnection: Sendable {
    public let configuration: AMQPConfiguration
    private let mailbox: AMQPMailbox
    private let connected = Atomic<Bool>(false)
    private let recoveryCount = Atomic<Int>(0)
    private let blockedReason = Mutex<String?>(nil)
    private let node = Mutex<AMQPConfiguration.Endpoint?>(nil)
    private let finished = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    /// Acks are recorded here by the acking task and sent by the thread (see ``AckLedger``).
    let ledger: Mutex<AckLedger>

    private init(configuration: AMQPConfiguration) {
        self.configuration = configuration
        self.mailbox = AMQPMailbox()
        self.ledger = Mutex(AckLedger(hold: configuration.ackHold))
    }

    /// Connects and logs in; fails at once (without retrying) if the broker cannot be reached or
    /// refuses the login. Later losses are recovered automatically.
    public static func connect(_ configuration: AMQPConfiguration, logger: Logger) async throws(AMQPError) -> AMQPConnection {
        let connection = AMQPConnection(configuration: configuration)
        let result: Result<Void, AMQPError> = await withCheckedContinuation { continuation in
            let thread = Thread { [connection] in
                nameCurrentThread("amqp-driver")
                let driver = AMQPConnectionDriver(configuration: configuration, logger: logger, mailbox: connection.mailbox, connection: connection)
                driver.run { result in
                    if case .success = result { connection.connected.store(true, ordering: .relaxed) }
                    continuation.resume(returning: result)
                }
                connection.connected.store(false, ordering: .relaxed)
                connection.markFinished()
            }
            thread.name = "amqp-\(configuration.endpoints[0])"
            thread.start()
        }
        try result.get()
        return connection
    }

    /// Whether the connection is up right now (for readiness checks). While it is down,
    /// operations fail with ``AMQPError/connectionLost(reason:)`` and recovery is under way.
    public var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// Why the broker blocked this connection (`connection.blocked`: a memory or disk alarm), or
    /// nil. While blocked the broker reads nothing from it, so publishes wait and then time out.
    public var blocked: String? { blockedReason.withLock { $0 } }

    /// The node the connection is on (or was on last), of ``AMQPConfiguration/endpoints``.
    public var currentNode: AMQPConfiguration.Endpoint? { node.withLock { $0 } }

    func noteNode(_ endpoint: AMQPConfiguration.Endpoint) {
        node.withLock { $0 = endpoint }
    }

    func noteBlocked(_ reason: String?) {
        blockedReason.withLock { $0 = reason }
    }

    /// How many times the connection was re-established after a loss.
    public var recoveries: Int { recoveryCount.load(ordering: .relaxed) }

    func noteRecovered() {
        recoveryCount.add(1, ordering: .relaxed)
        connected.store(true, ordering: .relaxed)
    }

    func noteLost() {
        connected.store(false, ordering: .relaxed)
    }

    /// Runs `body` on the connection's thread and returns its result.
    private func perform<T: Sendable>(_ body: @escaping @Sendable (AMQPConnectionDriver) throws(AMQPError) -> T) async throws(AMQPError) -> T {
        let result: Result<T, AMQPError> = await withCheckedContinuation { continuation in
            let posted = mailbox.post { [self] driver in
                let result = Result { () throws(AMQPError) -> T in try body(driver) }
                connected.store(driver.isConnected, ordering: .relaxed)
                continuation.resume(returning: result)
            }
            if !posted { continuation.resume(returning: .failure(.closed)) }
        }
        return try result.get()
    }

    // MARK: Topology

    /// Declares an exchange; it is declared again after each reconnection.
    public func declare(_ exchange: AMQPExchange) async throws(AMQPError) {
        try await perform { driver throws(AMQPError) in try driver.declareExchange(exchange) }
    }

    /// Declares a queue; it is declared again after each reconnection. A queue that exists with
    /// other arguments fails with `channelClosed(406 PRECONDITION_FAILED)`.
    @discardableResult
    public func declare(_ queue: AMQPQueue) async throws(AMQPError) -> AMQPQueueState {
        try await perform { driver throws(AMQPError) in try driver.declareQueue(queue) }
    }

    /// Binds a queue to an exchange; the binding is made again after each reconnection.
    public func bind(_ binding: AMQPBinding) async throws(AMQPError) {
        try await perform { driver throws(AMQPError) in try driver.bind(binding) }
    }

    /// The message and consumer counts of an existing queue.
    public func inspectQueue(_ name: String) async throws(AMQPError) -> AMQPQueueState {
        try await perform { driver throws(AMQPError) in try driver.inspectQueue(name) }
    }

    /// Deletes a queue and forgets its declaration; returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ name: String) async throws(AMQPError) -> Int {
        try await perform { driver throws(AMQPError) in try driver.deleteQueue(name) }
    }

    /// Deletes an exchange and forgets its declaration.
    public func deleteExchange(_ name: String) async throws(AMQPError) {
        try await perform { driver throws(AMQPError) in try driver.deleteExchange(name) }
    }

    /// Removes every ready message from a queue; returns how many.
    @discardableResult
    public func purgeQueue(_ name: String) async throws(AMQPError) -> Int {
        try await perform { driver throws(AMQPError) in try driver.purgeQueue(name) }
    }

    // MARK: Publishing

    /// Publishes a message and returns once the broker has confirmed it.
    ///
    /// Many publishes may be awaited at once: they share a window of up to
    /// ``AMQPConfiguration/maxUnconfirmedPublishes`` outstanding confirms instead of one round
    /// trip each. With `mandatory`, a message that no queue takes comes back as
    /// ``AMQPPublishOutcome/returned(replyCode:replyText:)``.
    @discardableResult
    public func publish(
        _ body: [UInt8],
        exchange: String,
        routingKey: String,
        properties: AMQPProperties = AMQPProperties(),
        mandatory: Bool = false
    ) async throws(AMQPError) -> AMQPPublishOutcome {
        let result: Result<AMQPPublishOutcome, AMQPError> = await withCheckedContinuation { continuation in
            let request = AMQPConnectionDriver.PublishRequest(
                body: body, exchange: exchange, routingKey: routingKey, properties: properties, mandatory: mandatory,
                completion: { continuation.resume(returning: $0) })
            let posted = mailbox.post { [self] driver in
                driver.publish(request)
                connected.store(driver.isConnected, ordering: .relaxed)
            }
            if !posted { continuation.resume(returning: .failure(.closed)) }
        }
        return try result.get()
    }

    /// Publishes `Data`; see ``publish(_:exchange:routingKey:properties:mandatory:)``.
    @discardableResult
    public func publish(
        _ body: Data,
        exchange: String,
        routingKey: String,
        properties: AMQPProperties = AMQPProperties(),
        mandatory: Bool = false
    ) async throws(AMQPError) -> AMQPPublishOutcome {
        try await publish(Array(body), exchange: exchange, routingKey: routingKey, properties: properties, mandatory: mandatory)
    }

    // MARK: Consuming

    /// Starts a consumer with manual acknowledgement; the broker sends at most `prefetch`
    /// unacknowledged deliveries to it at a time.
    public func consume(queue: String, prefetch: UInt16) async throws(AMQPError) -> AMQPConsumer {
        let (stream, continuation) = AsyncThrowingStream<AMQPDelivery, any Error>.makeStream()
        let tag = try await perform { driver throws(AMQPError) in
            try driver.consume(queue: queue, prefetch: prefetch, continuation: continuation)
        }
        let mailbox = self.mailbox
        continuation.onTermination = { reason in
            // A consumer whose loop was cancelled stops taking deliveries.
            if case .cancelled = reason {
                _ = mailbox.post { driver in try? driver.cancel(consumerTag: tag) }
            }
        }
        return AMQPConsumer(consumerTag: tag, stream: stream, connection: self)
    }

    func cancel(consumerTag: String) async throws(AMQPError) {
        try await perform { driver throws(AMQPError) in try driver.cancel(consumerTag: consumerTag) }
    }

    func settle(_ delivery: AMQPDelivery, _ settlement: AMQPSettlement) async throws(AMQPError) {
        switch settlement {
        case .ack:
            let wake = try ledger.withLock { ledger throws(AMQPError) in
                try ledger.ack(delivery.deliveryTag, generation: delivery.channelGeneration, now: .now)
            }
            if wake { mailbox.wake() }
        case .nack(let requeue):
            try await perform { driver throws(AMQPError) in try driver.refuse(delivery, nack: true, requeue: requeue) }
        case .reject(let requeue):
            try await perform { driver throws(AMQPError) in try driver.refuse(delivery, nack: false, requeue: requeue) }
        }
    }

    // MARK: Lifecycle

    /// Closes the channel and the connection. Publishes still unconfirmed fail with
    /// ``AMQPError/closed``; consumers' sequences end. Returns when the thread has stopped.
    public func close() async {
        _ = mailbox.post { driver in driver.close() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyDone = finished.withLock { state in
                if state.done { return true }
                state.waiters.append(continuation)
                return false
            }
            if alreadyDone { continuation.resume() }
        }
    }

    private func markFinished() {
        let waiters = finished.withLock { state in
            state.done = true
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Drops the TCP connection as a network failure would, to exercise recovery in tests
    /// (`package`: this package's tests only, not users of the module).
    package func simulateConnectionLoss() async {
        _ = try? await perform { driver in driver.simulateConnectionLoss() }
    }

    /// `basic.ack` frames sent so far (one may settle several deliveries); for tests.
    package func ackFramesSent() async -> Int {
        (try? await perform { driver in driver.acksSent }) ?? 0
    }
}
