import CRabbitMQ
import CRabbitMQShims
import Glibc
import Synchronization

extension AMQPConnectionDriver {
    // MARK: - Commands (run on the thread through the mailbox)

    func close() {
        phase = .closing(state)
    }

    func declare(_ item: DeclaredTopology.Item) throws(AMQPError) {
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

    func declareExchange(_ exchange: AMQPExchange) throws(AMQPError) {
        try declare(.exchange(exchange))
        topology.remember(.exchange(exchange))
    }

    func declareQueue(_ queue: AMQPQueue) throws(AMQPError) -> AMQPQueueState {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        let ok = amqp_queue_declare(state, channel, arena.bytes(queue.name), 0, queue.durable ? 1 : 0, queue.exclusive ? 1 : 0,
                                    queue.autoDelete ? 1 : 0, arena.table(queue.declaredArguments))
        try check("queue.declare \(queue.name)")
        topology.remember(.queue(queue))
        return AMQPQueueState(messageCount: Int(ok?.pointee.message_count ?? 0), consumerCount: Int(ok?.pointee.consumer_count ?? 0))
    }

    func bind(_ binding: AMQPBinding) throws(AMQPError) {
        try declare(.binding(binding))
        topology.remember(.binding(binding))
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
        let ok = amqp_queue_delete(state, channel, arena.bytes(name), 0, 0)
        try check("queue.delete \(name)")
        topology.forgetQueue(name)
        return Int(ok?.pointee.message_count ?? 0)
    }

    func deleteExchange(_ name: String) throws(AMQPError) {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        amqp_exchange_delete(state, channel, arena.bytes(name), 0)
        try check("exchange.delete \(name)")
        topology.forgetExchange(name)
    }

    func purgeQueue(_ name: String) throws(AMQPError) -> Int {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let arena = CArena()
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

    func send(_ request: PublishRequest) {
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

    func settleConfirms(upTo tag: UInt64, multiple: Bool, nacked: Bool) {
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

    func subscribe(tag: String, queue: String, prefetch: UInt16) throws(AMQPError) {
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
        amqp_basic_cancel(state, channel, arena.bytes(consumerTag))
        try check("basic.cancel")
    }

    /// Sends a nack or a reject at once, on its own (acks are noted in the ledger instead, by
    /// `AMQPConnection.settle`, and leave with `flushAcks`).
    func refuse(_ delivery: AMQPDelivery, nack: Bool, requeue: Bool) throws(AMQPError) {
        let generation = connection.ledger.withLock { $0.generation }
        guard let state, delivery.channelGeneration == generation else { throw .staleDelivery }
        let status = nack ? amqp_basic_nack(state, channel, delivery.deliveryTag, 0, requeue ? 1 : 0)
                          : amqp_basic_reject(state, channel, delivery.deliveryTag, requeue ? 1 : 0)
        connection.ledger.withLock { $0.pending.settledAlone(delivery.deliveryTag) }
        guard status == AMQP_STATUS_OK.rawValue else {
            let reason = String(cString: amqp_error_string2(status))
            connectionLost(reason: "settling a delivery: \(reason)")
            throw .connectionLost(reason: reason)
        }
    }

    /// Sends the acks that are due (see ``PendingAcks``); `force` sends every one held.
    func flushAcks(force: Bool = false) {
        guard let state else { return }
        let due = connection.ledger.withLock { ledger in
            ledger.pending.isEmpty ? [] : ledger.pending.flush(now: .now, force: force)
        }
        for ack in due {
            let status = amqp_basic_ack(state, channel, ack.tag, ack.multiple ? 1 : 0)
            guard status == AMQP_STATUS_OK.rawValue else {
                // The deliveries come back to another consumer: processing is idempotent.
                connectionLost(reason: "acknowledging deliveries: \(String(cString: amqp_error_string2(status)))")
                return
            }
            acksSent += 1
        }
    }

    /// Drops the connection as if the network had failed; for tests of recovery.
    func simulateConnectionLoss() {
        connectionLost(reason: "simulated")
    }
}
