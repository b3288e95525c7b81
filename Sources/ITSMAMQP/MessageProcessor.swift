import AMQP
import Foundation
import ITSMCore
import Logging

/// Settles one delivery from a work queue: validates it, hands it to the right handler, and
/// turns the result into an ack, a delayed retry, or a dead-letter with the reason — so that no
/// message is ever dropped silently and none blocks the queue.
public struct MessageProcessor: Sendable {
    let topology: WorkerTopology
    package let amqp: AMQPConnection
    let alerts: AlertHandler
    let status: StatusHandler?
    package let maxAttempts: Int
    package let maxMessageBytes: Int
    let workerID: String
    package let outbox: OutboxSignal
    package let observer: ProcessingObserver
    /// Where messages for a busy instance wait their turn; nil: in the retry queues.
    let holds: HoldQueues?
    let logger: Logger

    public init(topology: WorkerTopology, amqp: AMQPConnection, alerts: AlertHandler, status: StatusHandler?, maxAttempts: Int, maxMessageBytes: Int,
                workerID: String, outbox: OutboxSignal, observer: ProcessingObserver, holds: HoldQueues? = nil, logger: Logger) {
        self.holds = holds
        self.topology = topology
        self.amqp = amqp
        self.alerts = alerts
        self.status = status
        self.maxAttempts = maxAttempts
        self.maxMessageBytes = maxMessageBytes
        self.workerID = workerID
        self.outbox = outbox
        self.observer = observer
        self.logger = logger
    }

    /// Whether the worker itself put this message where it came from: back through its retry
    /// queues (the return exchange) or into a busy instance's hold queue, neither of which
    /// publishers have any business writing to. Only then are the worker's headers believed.
    package func republished(_ delivery: AMQPDelivery) -> Bool {
        delivery.exchange == topology.returnExchange || (delivery.exchange.isEmpty && topology.isHoldQueue(delivery.routingKey))
    }

    /// The worker's own attempt counter, read only from a message the worker republished
    /// (``republished(_:)``). A publisher could set the header on a fresh alert to have it given
    /// up on at its first failure; a held message keeps the count it had.
    package func attempt(of delivery: AMQPDelivery) -> Int {
        guard republished(delivery),
              let value = delivery.properties.headers[Self.attemptHeader]?.intValue ?? delivery.properties.headers["x-attempt"]?.intValue
        else { return 1 }
        return Int(clamping: min(max(value, 1), Int64(maxAttempts)))
    }

    /// The least wait before a message parked by a database outage comes back: long enough that
    /// an outage is not a hot loop of republishes, short enough to resume soon after.
    static let databaseWait: Duration = .seconds(10)

    /// The routing key the message was first published with: a retried or held message comes
    /// with its retry or hold queue's name as its routing key.
    package func routingKey(of delivery: AMQPDelivery) -> String {
        guard republished(delivery), let original = delivery.properties.headers[Self.routingKeyHeader]?.stringValue else {
            return delivery.routingKey
        }
        return original
    }

    static let routingKeyHeader = "itsm-routing-key"

    /// The header that carries the attempt counter on retried messages.
    static let attemptHeader = "itsm-attempt"

    /// What happened to a delivery, for logs, metrics and tests.
    public enum Settlement: Sendable, Equatable {
        case acked(ProcessingOutcome)
        case retryScheduled(attempt: Int, delay: Duration)
        /// Moved to a busy instance's hold queue, to wait its turn there.
        case held(queue: String)
        case deadLettered(code: String)
        /// Could not be settled now (broker trouble); the broker redelivers it.
        case requeued
    }

    @discardableResult
    public func process(_ delivery: AMQPDelivery, queue: String) async -> Settlement {
        let started = ContinuousClock.now
        let attempt = attempt(of: delivery)
        var logger = self.logger
        logger[metadataKey: "amqp.routing_key"] = "\(delivery.routingKey)"
        logger[metadataKey: "attempt"] = "\(attempt)"

        guard delivery.body.count <= maxMessageBytes else {
            return await finish(await deadLetter(delivery, queue: queue, code: "too_large",
                                                 reason: "the body has \(delivery.body.count) bytes, more than ITSM_MAX_MESSAGE_BYTES (\(maxMessageBytes))", logger: logger),
                                type: "unknown", started: started)
        }
        let event: AlertEvent
        do {
            event = try AlertEvent.decode(delivery.body)
        } catch {
            return await finish(await deadLetter(delivery, queue: queue, code: error.code, reason: error.reason, logger: logger),
                                type: "unknown", started: started)
        }
        logger[metadataKey: "event_id"] = "\(event.eventID)"
        logger[metadataKey: "alert_id"] = "\(event.alert.id)"
        logger[metadataKey: "customer_id"] = "\(event.customerID)"
        logger[metadataKey: "network_id"] = "\(event.networkID)"

        let context = AuditContext(customerID: event.customerID, alertID: event.alert.id, eventID: event.eventID)
        return await AuditContext.$current.withValue(context) {
            await process(event, delivery: delivery, queue: queue, attempt: attempt, started: started, logger: logger)
        }
    }

    private func process(_ event: AlertEvent, delivery: AMQPDelivery, queue: String, attempt: Int, started: ContinuousClock.Instant,
                         logger: Logger) async -> Settlement {
        let settlement: Settlement
        do {
            let outcome: ProcessingOutcome
            switch event.kind {
            case .raised:
                outcome = try await alerts.handleRaised(event, logger: logger)
            case .acknowledged, .resolved:
                guard let status else { throw RetryableFailure(reason: "status events are not handled by this worker's roles") }
                outcome = try await status.handle(event, logger: logger)
            }
            if outcome == .busy {
                settlement = await retry(delivery, queue: queue, attempt: attempt, countsAsAttempt: false,
                                         failure: RetryableFailure(reason: "another attempt holds the alert's claim"), logger: logger)
            } else {
                settlement = await acknowledge(delivery, outcome, logger: logger)
            }
        } catch let failure as RetryableFailure where failure.parked {
            if let instance = failure.busyInstance, let holds {
                settlement = await hold(delivery, queue: queue, instance: instance, holds: holds, attempt: attempt, failure: failure, logger: logger)
            } else {
                settlement = await retry(delivery, queue: queue, attempt: attempt, countsAsAttempt: false, failure: failure, logger: logger)
            }
        } catch let failure as RetryableFailure {
            settlement = await retryOrGiveUp(delivery, queue: queue, event: event, attempt: attempt, failure: failure, logger: logger)
        } catch let error as any StorageFailure where error.storeUnavailable {
            // The database is away (restart, failover, outage): no fault of the message. It waits
            // in the retry queues without using up its attempts, however long the outage lasts.
            settlement = await retry(delivery, queue: queue, attempt: attempt, countsAsAttempt: false,
                                     failure: RetryableFailure(reason: "the database is unavailable: \(error)", retryAfter: Self.databaseWait, parked: true),
                                     logger: logger)
        } catch {
            // Database or broker trouble mid-way: nothing was committed, so trying again is safe.
            settlement = await retryOrGiveUp(delivery, queue: queue, event: event, attempt: attempt,
                                             failure: RetryableFailure(reason: "\(error)"), logger: logger)
        }
        return await finish(settlement, type: event.kind.rawValue, started: started)
    }

    private func finish(_ settlement: Settlement, type: String, started: ContinuousClock.Instant) async -> Settlement {
        observer.processed(type: type, settlement: settlement, duration: ContinuousClock.now - started)
        // (The ticket store woke the outbox relay when a commit queued an event.)
        return settlement
    }

    private func acknowledge(_ delivery: AMQPDelivery, _ outcome: ProcessingOutcome, logger: Logger) async -> Settlement {
        switch outcome {
        case .skipped, .duplicate:
            logger.debug("message skipped", metadata: ["outcome": "\(outcome.label)"])
        case .failed(let code):
            logger.warning("gave up on the event; ticket.failed published", metadata: ["error.code": "\(code)"])
        default:
            logger.debug("message processed", metadata: ["outcome": "\(outcome.label)"])
        }
        do {
            try await delivery.ack()
        } catch {
            // The effect is committed; the broker redelivers and the duplicate is recognised.
            logger.debug("ack failed; the broker will redeliver", metadata: ["error": "\(error)"])
        }
        return .acked(outcome)
    }

    private func retryOrGiveUp(_ delivery: AMQPDelivery, queue: String, event: AlertEvent, attempt: Int,
                               failure: RetryableFailure, logger: Logger) async -> Settlement {
        guard attempt >= maxAttempts else {
            return await retry(delivery, queue: queue, attempt: attempt, countsAsAttempt: true, failure: failure, logger: logger)
        }
        let code = failure.gatewayError?.code ?? "retries_exhausted"
        let message = failure.gatewayError?.ownWords ?? failure.reason
        do {
            try await alerts.tickets.markProcessed(event: event, outcome: "ticket_failed",
                                                   outgoing: TicketEvent.failure(event, code: code, message: "gave up after \(attempt) attempts: \(message)"))
        } catch let error as any StorageFailure where error.isConflict {
            // Processed meanwhile by another attempt.
        } catch {
            logger.error("could not record the failure; the message will be redelivered", metadata: ["error": "\(error)"])
            return await requeue(delivery, logger: logger)
        }
        return await deadLetter(delivery, queue: queue, code: "retries_exhausted",
                                reason: "gave up after \(attempt) attempts: \(failure.reason)", logger: logger)
    }

    package func retry(_ delivery: AMQPDelivery, queue: String, attempt: Int, countsAsAttempt: Bool, failure: RetryableFailure, logger: Logger) async -> Settlement {
        let next = countsAsAttempt ? attempt + 1 : attempt
        let (retryQueue, delay) = topology.retryQueue(attempt: countsAsAttempt ? attempt : 1, minimum: failure.retryAfter)
        if failure.parked { observer.parked() }
        var properties = delivery.properties
        properties.headers[Self.attemptHeader] = .int(Int64(next))
        properties.headers["x-attempt"] = nil
        properties.headers[Self.routingKeyHeader] = .string(routingKey(of: delivery))
        properties.headers["itsm-origin-queue"] = .string(queue)
        properties.headers["x-last-error"] = .string(String(failure.reason.prefix(500)))
        properties.persistent = true
        do {
            let outcome = try await amqp.publish(delivery.body, exchange: "", routingKey: retryQueue, properties: properties, mandatory: true)
            guard outcome == .confirmed else { return await requeue(delivery, logger: logger) }
            try await delivery.ack()
        } catch {
            logger.warning("could not schedule the retry; the broker will redeliver", metadata: ["error": "\(error)"])
            return await requeue(delivery, logger: logger)
        }
        logger.info("will retry", metadata: ["reason": "\(failure.reason)", "retry_in": "\(delay)", "next_attempt": "\(next)"])
        return .retryScheduled(attempt: next, delay: delay)
    }

    /// Moves a message for a busy instance to the instance's hold queue (or, failing that, to
    /// the retry queues). Its attempt count stays: waiting one's turn is no failure.
    private func hold(_ delivery: AMQPDelivery, queue: String, instance: String, holds: HoldQueues, attempt: Int, failure: RetryableFailure,
                      logger: Logger) async -> Settlement {
        var properties = delivery.properties
        properties.headers[Self.attemptHeader] = .int(Int64(attempt))
        properties.headers["x-attempt"] = nil
        properties.headers[Self.routingKeyHeader] = .string(routingKey(of: delivery))
        properties.headers["itsm-origin-queue"] = .string(queue)
        properties.persistent = true
        do {
            let holdQueue = try await holds.queue(for: instance)
            let outcome = try await amqp.publish(delivery.body, exchange: "", routingKey: holdQueue, properties: properties, mandatory: true)
            guard outcome == .confirmed else { throw HoldRefused(outcome: "\(outcome)") }
            try await delivery.ack()
            logger.debug("instance busy; message held", metadata: ["amqp.queue": "\(holdQueue)"])
            return .held(queue: holdQueue)
        } catch {
            logger.warning("could not hold the message for its busy instance; it goes to the retry queues", metadata: ["error": "\(error)"])
            return await retry(delivery, queue: queue, attempt: attempt, countsAsAttempt: false, failure: failure, logger: logger)
        }
    }

    package func deadLetter(_ delivery: AMQPDelivery, queue: String, code: String, reason: String, logger: Logger) async -> Settlement {
        var properties = delivery.properties
        properties.headers["x-reason"] = .string(String(reason.prefix(1000)))
        properties.headers["x-error-code"] = .string(code)
        properties.headers["x-origin-queue"] = .string(queue)
        properties.headers["x-original-routing-key"] = .string(routingKey(of: delivery))
        properties.headers["x-original-exchange"] = .string(delivery.exchange)
        properties.headers["x-dead-lettered-by"] = .string(workerID)
        properties.headers["x-dead-lettered-at"] = .string(AlertEvent.formatTimestamp(Date()))
        properties.persistent = true
        do {
            let outcome = try await amqp.publish(delivery.body, exchange: topology.deadExchange, routingKey: routingKey(of: delivery),
                                                 properties: properties, mandatory: true)
            guard outcome == .confirmed else { return await requeue(delivery, logger: logger) }
            try await delivery.ack()
        } catch {
            logger.warning("could not dead-letter the message; the broker will redeliver", metadata: ["error": "\(error)"])
            return await requeue(delivery, logger: logger)
        }
        logger.warning("message dead-lettered", metadata: ["error.code": "\(code)", "reason": "\(reason)"])
        return .deadLettered(code: code)
    }

    private func requeue(_ delivery: AMQPDelivery, logger: Logger) async -> Settlement {
        try? await delivery.nack(requeue: true)
        return .requeued
    }
}

/// Receives every settlement (metrics, tests).
extension MessageProcessor.Settlement {
    package var auditDescription: String {
        switch self {
        case .acked(let outcome):
            switch outcome {
            case .ticketCreated(let number): return "ticket \(number) created"
            case .ticketUpdated(let number): return "ticket \(number) updated"
            case .ticketLinked(let number): return "joined ticket \(number)"
            case .failed(let code): return "gave up (\(code)); ticket.failed published"
            default: return outcome.label
            }
        case .retryScheduled(let attempt, let delay): return "retry \(attempt) scheduled in \(delay)"
        case .held(let queue): return "held in \(queue) (instance busy)"
        case .deadLettered(let code): return "dead-lettered (\(code))"
        case .requeued: return "requeued (broker trouble)"
        }
    }
}

/// The broker did not confirm a message moved to a hold queue.
private struct HoldRefused: Error {
    let outcome: String
}
