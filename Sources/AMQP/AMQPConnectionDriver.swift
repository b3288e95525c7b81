import CRabbitMQ
import CRabbitMQShims
import Coordination
import Glibc
import Logging

/// Owns one librabbitmq-c connection and the thread that pumps it.
///
/// librabbitmq-c connections are not thread-safe, service heartbeats only while a read or
/// write is in progress, and have no recovery of their own. So every C call happens on this
/// driver's thread: it polls the socket and the mailbox, runs posted commands, reads frames
/// (deliveries, confirms, returns, closes) and, when the connection drops, fails what was in
/// flight, reconnects with backoff and replays the declared topology and consumers.
final class AMQPConnectionDriver {
    private let configuration: AMQPConfiguration
    private let logger: Logger
    private let mailbox: AMQPMailbox
    private unowned let connection: AMQPConnection
    private let channel: amqp_channel_t = 1

    private var state: amqp_connection_state_t?
    /// Bumped each time a channel is (re)opened; deliveries from older channels are stale.
    private(set) var generation: UInt64 = 0
    private var closing = false
    private var lastHousekeeping = ContinuousClock.now

    private enum TopologyItem: Equatable {
        case exchange(AMQPExchange)
        case queue(AMQPQueue)
        case binding(AMQPBinding)
    }
    private var topology: [TopologyItem] = []

    private struct ConsumerRecord {
        let queue: String
        let prefetch: UInt16
        let continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation
    }
    private var consumers: [String: ConsumerRecord] = [:]
    private var consumerSequence = 0

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
    private var confirms: ConfirmWindow<PublishRequest>

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

    private func runCommands() {
        for command in mailbox.take() { command(self) }
    }

    private func waitForWake(timeout: Duration) {
        var descriptor = pollfd(fd: mailbox.wakeDescriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&descriptor, 1, Int32((timeout / .milliseconds(1)).rounded(.up)))
        mailbox.clearWake()
    }

    /// Fails the publishes whose confirm (or room in the window) did not come in time.
    private func expirePublishes() {
        let expired = confirms.expire(now: .now)
        guard !expired.isEmpty else { return }
        let why = connection.blocked.map { " (the broker blocked the connection: \($0))" } ?? ""
        logger.warning("publishes were not confirmed in time", metadata: ["count": "\(expired.count)", "timeout": "\(configuration.confirmTimeout)\(why)"])
        for request in expired { request.completion(.failure(.timeout(operation: "publish confirm\(why)"))) }
    }

    /// Waits for socket data or a command, then reads every frame that is already there.
    private func pump() {
        expirePublishes()
        guard let state else { return }
        if amqp_frames_enqueued(state) == 0 && amqp_data_in_buffer(state) == 0 {
            var descriptors = [
                pollfd(fd: amqp_get_sockfd(state), events: Int16(POLLIN), revents: 0),
                pollfd(fd: mailbox.wakeDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            // Bounded so that heartbeats are sent and checked even when nothing happens.
            _ = poll(&descriptors, 2, 250)
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

    private func handle(_ frame: amqp_frame_t) {
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD), let state else { return }
        let method = frame.payload.method
        switch method.id {
        case CRabbitMQShims_BASIC_DELIVER:
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            var message = amqp_message_t()
            let reply = amqp_read_message(state, frame.channel, &message, 0)
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                connectionLost(reason: "reading a delivery: \(describe(reply))")
                return
            }
            let tag = deliver.consumer_tag.string
            let delivery = AMQPDelivery(
                body: message.body.array,
                exchange: deliver.exchange.string,
                routingKey: deliver.routing_key.string,
                redelivered: deliver.redelivered != 0,
                properties: AMQPProperties(message.properties),
                deliveryTag: deliver.delivery_tag,
                channelGeneration: generation,
                connection: connection
            )
            amqp_destroy_message(&message)
            if let consumer = consumers[tag] {
                consumer.continuation.yield(delivery)
            } else {
                // Cancelled on our side while the broker was already sending: give it back.
                _ = amqp_basic_reject(state, channel, deliver.delivery_tag, 1)
            }
        case CRabbitMQShims_BASIC_ACK:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            settleConfirms(upTo: ack.delivery_tag, multiple: ack.multiple != 0, nacked: false)
        case CRabbitMQShims_BASIC_NACK:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            settleConfirms(upTo: nack.delivery_tag, multiple: nack.multiple != 0, nacked: true)
        case CRabbitMQShims_BASIC_RETURN:
            let returned = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let exchange = returned.exchange.string
            let routingKey = returned.routing_key.string
            let code = returned.reply_code
            let text = returned.reply_text.string
            var message = amqp_message_t()
            let reply = amqp_read_message(state, frame.channel, &message, 0)
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                connectionLost(reason: "reading a returned message: \(describe(reply))")
                return
            }
            amqp_destroy_message(&message)
            confirms.returned(exchange: exchange, routingKey: routingKey, code: code, text: text)
        case CRabbitMQShims_BASIC_CANCEL:
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = cancel.consumer_tag.string
            logger.warning("RabbitMQ cancelled a consumer", metadata: ["amqp.consumer": "\(tag)"])
            if let consumer = consumers.removeValue(forKey: tag) {
                consumer.continuation.finish(throwing: AMQPError.channelClosed(replyCode: 0, replyText: "consumer \(tag) cancelled by the broker (queue deleted?)"))
            }
            if cancel.nowait == 0 {
                var ok = amqp_basic_cancel_ok_t(consumer_tag: cancel.consumer_tag)
                _ = amqp_send_method(state, frame.channel, CRabbitMQShims_BASIC_CANCEL_OK, &ok)
            }
        case CRabbitMQShims_CHANNEL_CLOSE:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            channelClosedByServer(code: close.reply_code, text: close.reply_text.string)
        case CRabbitMQShims_CONNECTION_BLOCKED:
            let blocked = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            let reason = blocked.reason.string
            logger.warning("RabbitMQ blocked the connection; publishes wait", metadata: ["reason": "\(reason)", "amqp.url": "\(configuration.redactedURL)"])
            connection.noteBlocked(reason.isEmpty ? "blocked" : reason)
        case CRabbitMQShims_CONNECTION_UNBLOCKED:
            logger.info("RabbitMQ unblocked the connection", metadata: ["amqp.url": "\(configuration.redactedURL)"])
            connection.noteBlocked(nil)
        case CRabbitMQShims_CONNECTION_CLOSE:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, 0, CRabbitMQShims_CONNECTION_CLOSE_OK, &ok)
            connectionLost(reason: "closed by the broker: \(close.reply_code) \(close.reply_text.string)")
        default:
            logger.trace("ignored AMQP method", metadata: ["amqp.method": "\(method.id)"])
        }
    }

    // MARK: - Connecting

    /// A TCP socket, or a TLS one that verifies the broker's certificate and host name.
    private func makeSocket(_ state: amqp_connection_state_t) throws(AMQPError) -> OpaquePointer {
        guard let tls = configuration.tls else {
            guard let socket = amqp_tcp_socket_new(state) else {
                throw .library(operation: "amqp_tcp_socket_new", reason: "could not create a socket")
            }
            return socket
        }
        guard let socket = amqp_ssl_socket_new(state) else {
            throw .library(operation: "amqp_ssl_socket_new", reason: "could not create a TLS socket")
        }
        amqp_ssl_socket_set_verify_peer(socket, 1)
        amqp_ssl_socket_set_verify_hostname(socket, 1)
        if let context = amqp_ssl_socket_get_context(socket) { CRabbitMQShims_tls_record_verify_errors(context) }
        let caFile = tls.caFile ?? AMQPConfiguration.TLS.systemCAFile
        guard amqp_ssl_socket_set_cacert(socket, caFile) == AMQP_STATUS_OK.rawValue else {
            throw .tls(reason: "cannot read the CA certificates in \(caFile)")
        }
        if let certificate = tls.certificateFile, let key = tls.keyFile {
            guard amqp_ssl_socket_set_key(socket, certificate, key) == AMQP_STATUS_OK.rawValue else {
                throw .tls(reason: "cannot use the client certificate \(certificate) with the key \(key)")
            }
        }
        return socket
    }

    /// Why opening the socket failed, in one line; for TLS, with OpenSSL's reason.
    private static func openFailure(_ status: Int32, host: String) -> String {
        let verifyError = String(cString: CRabbitMQShims_tls_verify_error())
        switch status {
        case AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue:
            return "TLS: the broker's certificate was refused: \(verifyError.isEmpty ? "not signed by the configured CA" : verifyError)"
        case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue:
            return "TLS: the broker's certificate is not valid for the host name \(host)"
        case AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue, AMQP_STATUS_SSL_ERROR.rawValue:
            return "TLS handshake failed (\(verifyError.isEmpty ? "is the port a TLS listener, and does the broker accept this client?" : verifyError))"
        default:
            return String(cString: amqp_error_string2(status))
        }
    }

    /// The endpoint the connection is on, or was on last.
    private(set) var endpointIndex: Int

    /// Tries every node once, starting with `start`; throws the last node's failure.
    private func connectToAnyNode(startingAt start: Int) throws(AMQPError) {
        let count = configuration.endpoints.count
        var failure = AMQPError.connectFailed(host: configuration.host, port: configuration.port, reason: "no node to connect to")
        for offset in 0..<count {
            let index = (start + offset) % count
            do {
                try connect(to: index)
                endpointIndex = index
                return
            } catch {
                if count > 1 {
                    logger.warning("AMQP node unavailable; trying the next", metadata: ["amqp.node": "\(configuration.endpoints[index])", "error": "\(error)"])
                }
                failure = error
            }
        }
        throw failure
    }

    private func connect(to index: Int) throws(AMQPError) {
        let endpoint = configuration.endpoints[index]
        guard let newState = amqp_new_connection() else {
            throw .library(operation: "amqp_new_connection", reason: "out of memory")
        }
        var handshake = timeval(configuration.connectTimeout)
        var rpc = timeval(configuration.rpcTimeout)
        _ = amqp_set_handshake_timeout(newState, &handshake)
        _ = amqp_set_rpc_timeout(newState, &rpc)
        let socket: OpaquePointer
        do {
            socket = try makeSocket(newState)
        } catch {
            amqp_destroy_connection(newState)
            throw error
        }
        var connectTimeout = timeval(configuration.connectTimeout)
        CRabbitMQShims_tls_clear_verify_error()
        let opened = amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &connectTimeout)
        guard opened == AMQP_STATUS_OK.rawValue else {
            amqp_destroy_connection(newState)
            throw .connectFailed(host: endpoint.host, port: endpoint.port, reason: Self.openFailure(opened, host: endpoint.host))
        }
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        // Capabilities replace librabbitmq's default table, so its own one is repeated here;
        // connection.blocked asks the broker to say when an alarm blocks this connection.
        var properties = arena.table([
            "connection_name": .string(configuration.connectionName ?? "swift-amqp"),
            "capabilities": .table(["authentication_failure_close": .bool(true), "connection.blocked": .bool(true)]),
        ])
        let login = CRabbitMQShims_login_plain(
            newState, configuration.virtualHost, 0, 131072, Int32(configuration.heartbeatSeconds),
            &properties, configuration.username, configuration.password)
        guard login.reply_type == AMQP_RESPONSE_NORMAL else {
            let reason = describe(login)
            amqp_destroy_connection(newState)
            if login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && login.library_error == AMQP_STATUS_SOCKET_CLOSED.rawValue {
                throw .loginFailed(reason: "the broker closed the connection during login (wrong user name or password?)")
            }
            if configuration.tls != nil && login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && login.library_error == AMQP_STATUS_SSL_ERROR.rawValue {
                // With TLS 1.3 a server that refuses the client's certificate (or the lack of
                // one) says so after the handshake, at the first read.
                throw .loginFailed(reason: "TLS: the broker ended the session during login (does it require a client certificate, or refuse this one?)")
            }
            throw .loginFailed(reason: reason)
        }
        state = newState
        lastHousekeeping = .now
        connection.noteBlocked(nil)
        do {
            try openChannel()
            for item in topology { try declare(item) }
            for (tag, consumer) in consumers { try subscribe(tag: tag, queue: consumer.queue, prefetch: consumer.prefetch) }
        } catch {
            if state != nil { dropConnection(reason: "\(error)") }
            throw error
        }
        logger.debug("AMQP connected", metadata: ["amqp.url": "\(configuration.redactedURL)"])
    }

    private func openChannel() throws(AMQPError) {
        guard let state else { throw .connectionLost(reason: "not connected") }
        amqp_channel_open(state, channel)
        try check("channel.open")
        amqp_confirm_select(state, channel)
        try check("confirm.select")
        generation += 1
        confirms.restartNumbering()
    }

    /// Interprets the reply of the synchronous call just made. A channel or connection closed by
    /// the broker is answered and recovered here, then reported to the caller.
    private func check(_ operation: String) throws(AMQPError) {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let reply = amqp_get_rpc_reply(state)
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == CRabbitMQShims_CHANNEL_CLOSE:
            let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let code = close.reply_code
            let text = close.reply_text.string
            channelClosedByServer(code: code, text: text)
            throw .channelClosed(replyCode: code, replyText: text)
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == CRabbitMQShims_CONNECTION_CLOSE:
            let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let code = close.reply_code
            let text = close.reply_text.string
            var ok = amqp_connection_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, 0, CRabbitMQShims_CONNECTION_CLOSE_OK, &ok)
            connectionLost(reason: "closed by the broker: \(code) \(text)")
            throw .connectionClosed(replyCode: code, replyText: text)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
            // A synchronous call that timed out leaves the connection mid-conversation.
            connectionLost(reason: "\(operation) timed out")
            throw .timeout(operation: operation)
        default:
            let reason = describe(reply)
            connectionLost(reason: "\(operation): \(reason)")
            throw .connectionLost(reason: reason)
        }
    }

    private func describe(_ reply: amqp_rpc_reply_t) -> String {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL: return "ok"
        case AMQP_RESPONSE_NONE: return "no reply"
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: return String(cString: amqp_error_string2(reply.library_error))
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == CRabbitMQShims_CONNECTION_CLOSE {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return "\(close.reply_code) \(close.reply_text.string)"
            }
            if reply.reply.id == CRabbitMQShims_CHANNEL_CLOSE {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return "\(close.reply_code) \(close.reply_text.string)"
            }
            return "server exception \(reply.reply.id)"
        default: return "unknown reply"
        }
    }

    // MARK: - Losing the channel or the connection

    private func channelClosedByServer(code: UInt16, text: String) {
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

    private func connectionLost(reason: String) {
        guard state != nil else { return }
        logger.warning("AMQP connection lost", metadata: ["reason": "\(reason)", "amqp.url": "\(configuration.redactedURL)"])
        dropConnection(reason: reason)
    }

    private func dropConnection(reason: String) {
        if let state {
            amqp_destroy_connection(state)
        }
        state = nil
        generation += 1
        connection.noteLost()
        failInFlightPublishes(.connectionLost(reason: reason))
    }

    private func failInFlightPublishes(_ error: AMQPError) {
        for request in confirms.removeAll() { request.completion(.failure(error)) }
    }

    private func shutdown() {
        for command in mailbox.shut() { command(self) }
        if let state {
            amqp_channel_close(state, channel, AMQP_REPLY_SUCCESS)
            amqp_connection_close(state, AMQP_REPLY_SUCCESS)
            amqp_destroy_connection(state)
            self.state = nil
        }
        failInFlightPublishes(.closed)
        for consumer in consumers.values { consumer.continuation.finish() }
        consumers = [:]
    }

    // MARK: - Commands (run on the thread through the mailbox)

    func close() {
        closing = true
    }

    private func declare(_ item: TopologyItem) throws(AMQPError) {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        switch item {
        case .exchange(let e):
            amqp_exchange_declare(state, channel, arena.bytes(e.name), arena.bytes(e.kind.rawValue), 0,
                                  e.durable ? 1 : 0, e.autoDelete ? 1 : 0, 0, arena.table(e.arguments))
            try check("exchange.declare \(e.name)")
        case .queue(let q):
            amqp_queue_declare(state, channel, arena.bytes(q.name), 0, q.durable ? 1 : 0, q.exclusive ? 1 : 0,
                               q.autoDelete ? 1 : 0, arena.table(q.declaredArguments))
            try check("queue.declare \(q.name)")
        case .binding(let b):
            amqp_queue_bind(state, channel, arena.bytes(b.queue), arena.bytes(b.exchange), arena.bytes(b.routingKey), arena.table(b.arguments))
            try check("queue.bind \(b.queue)")
        }
    }

    private func remember(_ item: TopologyItem) {
        if !topology.contains(item) { topology.append(item) }
    }

    func declareExchange(_ exchange: AMQPExchange) throws(AMQPError) {
        try declare(.exchange(exchange))
        remember(.exchange(exchange))
    }

    func declareQueue(_ queue: AMQPQueue) throws(AMQPError) -> AMQPQueueState {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        let ok = amqp_queue_declare(state, channel, arena.bytes(queue.name), 0, queue.durable ? 1 : 0, queue.exclusive ? 1 : 0,
                                    queue.autoDelete ? 1 : 0, arena.table(queue.declaredArguments))
        try check("queue.declare \(queue.name)")
        remember(.queue(queue))
        return AMQPQueueState(messageCount: Int(ok?.pointee.message_count ?? 0), consumerCount: Int(ok?.pointee.consumer_count ?? 0))
    }

    func bind(_ binding: AMQPBinding) throws(AMQPError) {
        try declare(.binding(binding))
        remember(.binding(binding))
    }

    /// Counts of an existing queue, by a passive declare; a missing queue is `channelClosed(404)`.
    func inspectQueue(_ name: String) throws(AMQPError) -> AMQPQueueState {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        let ok = amqp_queue_declare(state, channel, arena.bytes(name), 1, 0, 0, 0, amqp_table_t(num_entries: 0, entries: nil))
        try check("queue.declare passive \(name)")
        return AMQPQueueState(messageCount: Int(ok?.pointee.message_count ?? 0), consumerCount: Int(ok?.pointee.consumer_count ?? 0))
    }

    func deleteQueue(_ name: String) throws(AMQPError) -> Int {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let arena = CArena()
       defer { withExtendedLifetime(arena) {} }
        defer { withExtendedLifetime(arena) {} }
        let ok = amqp_queue_delete(state, channel, arena.bytes(name), 0, 0)
        try check("queue.delete \(name)")
        topology.removeAll { item in
            switch item {
            case .queue(let q): return q.name == name
            case .binding(let b): return b.queue == name
            case .exchange: return false
            }
        }
        return Int(ok?.pointee.message_count ?? 0)
    }

    func deleteExchange(_ name: String) throws(AMQPError) {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let arena = CArena()
       defer { withExtendedLifetime(arena) {} }
        defer { withExtendedLifetime(arena) {} }
        amqp_exchange_delete(state, channel, arena.bytes(name), 0)
        try check("exchange.delete \(name)")
        topology.removeAll { item in
            switch item {
            case .exchange(let e): return e.name == name
            case .binding(let b): return b.exchange == name
            case .queue: return false
            }
        }
    }

    func purgeQueue(_ name: String) throws(AMQPError) -> Int {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let arena = CArena()
       defer { withExtendedLifetime(arena) {} }
        defer { withExtendedLifetime(arena) {} }
        let ok = amqp_queue_purge(state, channel, arena.bytes(name))
        try check("queue.purge \(name)")
        return Int(ok?.pointee.message_count ?? 0)
    }

    func publish(_ request: PublishRequest) {
        var request = request
        request.deadline = .now + configuration.confirmTimeout
        guard state != nil else {
            request.completion(.failure(.connectionLost(reason: "not connected")))
            return
        }
        if confirms.admit(request) { send(request) }
    }

    private func send(_ request: PublishRequest) {
        guard let state else {
            request.completion(.failure(.connectionLost(reason: "not connected")))
            return
        }
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        var properties = arena.properties(request.properties)
        let status = request.body.withUnsafeBytes { body in
            amqp_basic_publish(state, channel, arena.bytes(request.exchange), arena.bytes(request.routingKey),
                               request.mandatory ? 1 : 0, 0, &properties,
                               amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            request.completion(.failure(.connectionLost(reason: String(cString: amqp_error_string2(status)))))
            connectionLost(reason: "publish: \(String(cString: amqp_error_string2(status)))")
            return
        }
        confirms.sent(request)
    }

    private func settleConfirms(upTo tag: UInt64, multiple: Bool, nacked: Bool) {
        for (request, outcome) in confirms.settle(upTo: tag, multiple: multiple, nacked: nacked) { request.completion(outcome) }
        while state != nil, let next = confirms.nextToSend() { send(next) }
    }

    func consume(queue: String, prefetch: UInt16, continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation) throws(AMQPError) -> String {
        consumerSequence += 1
        let tag = "\(configuration.connectionName ?? "amqp")-\(consumerSequence)"
        try subscribe(tag: tag, queue: queue, prefetch: prefetch)
        consumers[tag] = ConsumerRecord(queue: queue, prefetch: prefetch, continuation: continuation)
        return tag
    }

    private func subscribe(tag: String, queue: String, prefetch: UInt16) throws(AMQPError) {
        guard let state else { throw .connectionLost(reason: "not connected") }
        // Not global: RabbitMQ applies the limit to each consumer started after it.
        amqp_basic_qos(state, channel, 0, prefetch, 0)
        try check("basic.qos")
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        amqp_basic_consume(state, channel, arena.bytes(queue), arena.bytes(tag), 0, 0, 0, amqp_table_t(num_entries: 0, entries: nil))
        try check("basic.consume \(queue)")
    }

    func cancel(consumerTag: String) throws(AMQPError) {
        guard let consumer = consumers.removeValue(forKey: consumerTag) else { return }
        consumer.continuation.finish()
        guard let state else { return }
        let arena = CArena()
       defer { withExtendedLifetime(arena) {} }
        defer { withExtendedLifetime(arena) {} }
        amqp_basic_cancel(state, channel, arena.bytes(consumerTag))
        try check("basic.cancel")
    }

    func settle(_ delivery: AMQPDelivery, _ settlement: AMQPSettlement) throws(AMQPError) {
        guard let state, delivery.channelGeneration == generation else { throw .staleDelivery }
        let status: Int32
        switch settlement {
        case .ack: status = amqp_basic_ack(state, channel, delivery.deliveryTag, 0)
        case .nack(let requeue): status = amqp_basic_nack(state, channel, delivery.deliveryTag, 0, requeue ? 1 : 0)
        case .reject(let requeue): status = amqp_basic_reject(state, channel, delivery.deliveryTag, requeue ? 1 : 0)
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            let reason = String(cString: amqp_error_string2(status))
            connectionLost(reason: "settling a delivery: \(reason)")
            throw .connectionLost(reason: reason)
        }
    }

    /// Drops the connection as if the network had failed; for tests of recovery.
    func simulateConnectionLoss() {
        connectionLost(reason: "simulated")
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
