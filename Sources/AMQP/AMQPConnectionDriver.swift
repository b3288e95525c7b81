import CRabbitMQ
import CRabbitMQShims
import Coordination
import Glibc
import Logging
import Synchronization

/// Owns one librabbitmq-c connection and the thread that pumps it.
///
/// librabbitmq-c connections are not thread-safe, service heartbeats only while a read or
/// write is in progress, and have no recovery of their own. So every C call happens on this
/// driver's thread: it polls the socket and the mailbox, runs posted commands, sends the acks
/// noted in the connection's ``AckLedger``, reads frames (deliveries, confirms, returns,
/// closes) and, when the connection drops, fails what was in flight, reconnects with backoff
/// and replays the declared topology and consumers.
final class AMQPConnectionDriver {
    let configuration: AMQPConfiguration
    let logger: Logger
    let mailbox: AMQPMailbox
    unowned let connection: AMQPConnection
    let channel: amqp_channel_t = 1

    /// Where the connection stands. Every C call needs `.connected`; `close()` moves to
    /// `.closing`, which the loop ends on (closing the connection if it still has one).
    enum Phase {
        case connected(amqp_connection_state_t)
        /// Lost, or never made since; the loop reconnects with backoff.
        case disconnected
        case closing(amqp_connection_state_t?)
    }
    var phase: Phase = .disconnected

    /// The C connection, while there is one.
    var state: amqp_connection_state_t? {
        switch phase {
        case .connected(let state): return state
        case .closing(let state): return state
        case .disconnected: return nil
        }
    }

    var closing: Bool {
        if case .closing = phase { return true }
        return false
    }

    /// The endpoint the connection is on, or was on last.
    var endpointIndex: Int
    var lastHousekeeping = ContinuousClock.now

    var topology = DeclaredTopology()

    struct ConsumerRecord {
        let queue: String
        let prefetch: UInt16
        let continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation
    }
    var consumers: [String: ConsumerRecord] = [:]
    var consumerSequence = 0

    struct PublishRequest: ConfirmablePublish {
        let body: [UInt8]
        let exchange: String
        let routingKey: String
        let properties: AMQPProperties
        let mandatory: Bool
        let completion: @Sendable (Result<AMQPPublishOutcome, AMQPError>) -> Void
        /// Set when the request reaches the driver: confirm (or window room) by then.
        var deadline: ContinuousClock.Instant = .now
    }
    var confirms: ConfirmWindow<PublishRequest>
    /// `basic.ack` frames sent (one may settle many deliveries).
    var acksSent = 0

    init(configuration: AMQPConfiguration, logger: Logger, mailbox: AMQPMailbox, connection: AMQPConnection) {
        self.endpointIndex = configuration.firstEndpoint.map { min(max($0, 0), configuration.endpoints.count - 1) }
            ?? Int.random(in: 0..<configuration.endpoints.count)
        self.configuration = configuration
        self.confirms = ConfirmWindow(limit: configuration.maxUnconfirmedPublishes)
        self.logger = logger
        self.mailbox = mailbox
        self.connection = connection
    }

    var isConnected: Bool { state != nil }

    // MARK: - The thread's loop

    /// Runs until the connection is closed. The first connection attempt's outcome is reported
    /// through `started`; if it fails, the loop ends at once (a wrong URL or password should
    /// fail fast, not retry forever).
    func run(started: (Result<Void, AMQPError>) -> Void) {
        do {
            try connectToAnyNode(startingAt: endpointIndex)
            connection.noteNode(configuration.endpoints[endpointIndex])
            started(.success(()))
        } catch {
            started(.failure(error))
            for command in mailbox.shut() { command(self) }
            return
        }
        var failures = 1
        var delay = configuration.reconnectDelay.delay(afterFailures: failures)
        while !closing {
            guard state != nil else {
                // Commands that arrive while disconnected are answered at once (they fail as
                // connectionLost), but they do not bring the next attempt forward: a busy
                // publisher must not turn the backoff into a reconnect storm.
                let nextAttempt = ContinuousClock.now + delay
                while !closing {
                    runCommands()
                    let remaining = nextAttempt - ContinuousClock.now
                    if closing || remaining <= .zero { break }
                    waitForWake(timeout: remaining)
                }
                if closing { break }
                do {
                    // The node after the one lost first: in a cluster, another node is up.
                    try connectToAnyNode(startingAt: endpointIndex + 1)
                    connection.noteNode(configuration.endpoints[endpointIndex])
                    connection.noteRecovered()
                    logger.info("AMQP connection recovered", metadata: ["amqp.node": "\(configuration.endpoints[endpointIndex])"])
                    failures = 1
                    delay = configuration.reconnectDelay.delay(afterFailures: failures)
                } catch {
                    logger.warning("AMQP reconnection failed", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                    failures += 1
                    delay = configuration.reconnectDelay.delay(afterFailures: failures)
                }
                continue
            }
            runCommands()
            if state != nil && !closing { pump() }
        }
        shutdown()
    }

    func runCommands() {
        for command in mailbox.take() { command(self) }
        flushAcks()
    }

    func waitForWake(timeout: Duration) {
        var descriptor = pollfd(fd: mailbox.wakeDescriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&descriptor, 1, Int32((timeout / .milliseconds(1)).rounded(.up)))
        mailbox.clearWake()
    }

    /// Fails the publishes whose confirm (or room in the window) did not come in time.
    func expirePublishes() {
        let expired = confirms.expire(now: .now)
        guard !expired.isEmpty else { return }
        let why = connection.blocked.map { " (the broker blocked the connection: \($0))" } ?? ""
        logger.warning("publishes were not confirmed in time", metadata: ["count": "\(expired.count)", "timeout": "\(configuration.confirmTimeout)\(why)"])
        for request in expired { request.completion(.failure(.timeout(operation: "publish confirm\(why)"))) }
    }

    /// Waits for socket data or a command, then reads every frame that is already there.
    func pump() {
        expirePublishes()
        guard let state else { return }
        if amqp_frames_enqueued(state) == 0 && amqp_data_in_buffer(state) == 0 {
            var descriptors = [
                pollfd(fd: amqp_get_sockfd(state), events: Int16(POLLIN), revents: 0),
                pollfd(fd: mailbox.wakeDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            // Bounded so that heartbeats are sent and checked even when nothing happens, and so
            // that acks leave on time (the ledger says how long).
            let timeout = connection.ledger.withLock { $0.sleep(now: .now, limit: .milliseconds(250)) }
            _ = poll(&descriptors, 2, Int32((timeout / .milliseconds(1)).rounded(.up)))
            connection.ledger.withLock { $0.awake() }
            if descriptors[1].revents != 0 { mailbox.clearWake() }
        }
        while let state = self.state {
            // librabbitmq sends due heartbeats and notices a silent broker only while waiting
            // with a deadline; a zero timeout skips that, so give it a moment every second.
            let now = ContinuousClock.now
            var timeout = timeval(tv_sec: 0, tv_usec: 0)
            if now - lastHousekeeping > .seconds(1) {
                timeout.tv_usec = 1000
                lastHousekeeping = now
            }
            var frame = amqp_frame_t()
            let status = amqp_simple_wait_frame_noblock(state, &frame, &timeout)
            if status == AMQP_STATUS_TIMEOUT.rawValue { break }
            guard status == AMQP_STATUS_OK.rawValue else {
                connectionLost(reason: String(cString: amqp_error_string2(status)))
                return
            }
            handle(frame)
        }
        if let state = self.state { amqp_maybe_release_buffers(state) }
    }

    // MARK: - Losing the channel or the connection

    func channelClosedByServer(code: UInt16, text: String) {
        guard let state else { return }
        logger.warning("RabbitMQ closed the channel", metadata: ["amqp.reply_code": "\(code)", "amqp.reply_text": "\(text)"])
        var ok = amqp_channel_close_ok_t(dummy: 0)
        _ = amqp_send_method(state, channel, CRabbitMQShims_CHANNEL_CLOSE_OK, &ok)
        failInFlightPublishes(.channelClosed(replyCode: code, replyText: text))
        do {
            try openChannel()
            for (tag, consumer) in consumers { try subscribe(tag: tag, queue: consumer.queue, prefetch: consumer.prefetch) }
        } catch {
            if self.state != nil { connectionLost(reason: "reopening the channel: \(error)") }
        }
    }

    func connectionLost(reason: String) {
        guard state != nil else { return }
        logger.warning("AMQP connection lost", metadata: ["reason": "\(reason)", "amqp.url": "\(configuration.redactedURL)"])
        dropConnection(reason: reason)
    }

    func dropConnection(reason: String) {
        if let state {
            amqp_destroy_connection(state)
        }
        phase = closing ? .closing(nil) : .disconnected
        connection.ledger.withLock { $0.newChannel() }
        connection.noteLost()
        failInFlightPublishes(.connectionLost(reason: reason))
    }

    func failInFlightPublishes(_ error: AMQPError) {
        for request in confirms.removeAll() { request.completion(.failure(error)) }
    }

    func shutdown() {
        for command in mailbox.shut() { command(self) }
        // Refused from here on, like commands: an ack noted after the last flush would be lost.
        connection.ledger.withLock { $0.close() }
        flushAcks(force: true)
        if let state {
            amqp_channel_close(state, channel, AMQP_REPLY_SUCCESS)
            amqp_connection_close(state, AMQP_REPLY_SUCCESS)
            amqp_destroy_connection(state)
        }
        phase = .closing(nil)
        failInFlightPublishes(.closed)
        for consumer in consumers.values { consumer.continuation.finish() }
        consumers = [:]
    }
}
