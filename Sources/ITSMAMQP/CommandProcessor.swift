import AMQP
import Foundation
import ITSMCore
import Logging

/// Requests on the alerts exchange that want an answer (`ceburu.command.v1`):
/// `integration.test` runs Test Connection, stores the result and publishes
/// `integration.tested`; `integration.fields` lists a table's fields for the Integrations page.
/// Both answer on the request's `reply_to` with its `correlation_id`.
public struct CommandProcessor: Sendable {
    let messages: MessageProcessor
    let commands: any IntegrationCommands
    let logger: Logger
    /// Queue name prefixes a reply may go to besides RabbitMQ's direct reply-to.
    let replyPrefixes: [String]

    public init(messages: MessageProcessor, commands: any IntegrationCommands, logger: Logger, replyPrefixes: [String]) {
        self.messages = messages
        self.commands = commands
        self.logger = logger
        self.replyPrefixes = replyPrefixes
    }

    public static let schema = "ceburu.command.v1"

    /// Direct reply-to: the broker rewrites it to `amq.rabbitmq.reply-to.<token>` for the
    /// consumer, and only the requesting channel receives what is published there.
    static let directReplyTo = "amq.rabbitmq.reply-to"

    /// Whether a reply may be published to `replyTo`. Anything else would let a sender have the
    /// worker publish Test Connection results or field listings into any queue of the vhost.
    func allowsReply(to replyTo: String) -> Bool {
        guard replyTo.utf8.count <= 255, !AlertEvent.containsControlCharacters(replyTo) else { return false }
        if replyTo == Self.directReplyTo || replyTo.hasPrefix(Self.directReplyTo + ".") { return true }
        return replyPrefixes.contains { !$0.isEmpty && replyTo.hasPrefix($0) }
    }

    /// Table names a field listing may ask for: ServiceNow's own spelling, bounded.
    static func isTableName(_ name: String) -> Bool {
        (1...80).contains(name.utf8.count) && name.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5f }
    }

    struct Request: Decodable {
        let schema: String
        let customer_id: String
        let table: String?
    }

    public func process(_ delivery: AMQPDelivery, queue: String) async {
        let started = ContinuousClock.now
        // Counted like every other message; the label is the command only when it is one we know,
        // so that a sender cannot mint metric labels.
        let command = messages.routingKey(of: delivery)
        let type = ["integration.test", "integration.fields"].contains(command) ? command : "command"
        let settlement = await settle(delivery, queue: queue)
        messages.observer.processed(type: type, settlement: settlement, duration: ContinuousClock.now - started)
    }

    private func settle(_ delivery: AMQPDelivery, queue: String) async -> MessageProcessor.Settlement {
        var logger = self.logger
        let command = messages.routingKey(of: delivery)
        logger[metadataKey: "amqp.routing_key"] = "\(command)"
        guard delivery.body.count <= messages.maxMessageBytes,
              let request = try? JSONDecoder().decode(Request.self, from: Data(delivery.body)), request.schema == Self.schema,
              !request.customer_id.isEmpty, request.customer_id.count <= AlertEvent.maximumIDLength,
              !AlertEvent.containsControlCharacters(request.customer_id) else {
            return await messages.deadLetter(delivery, queue: queue, code: "invalid_command",
                                             reason: "expected {\"schema\":\"\(Self.schema)\",\"customer_id\":…} with a customer_id of at most \(AlertEvent.maximumIDLength) printable characters", logger: logger)
        }
        if let table = request.table, !Self.isTableName(table) {
            return await messages.deadLetter(delivery, queue: queue, code: "invalid_command",
                                             reason: "table must be a ServiceNow table name ([a-z0-9_], at most 80 characters)", logger: logger)
        }
        if let replyTo = delivery.properties.replyTo, !replyTo.isEmpty, !allowsReply(to: replyTo) {
            return await messages.deadLetter(delivery, queue: queue, code: "reply_to_refused",
                                             reason: "reply_to must be \(Self.directReplyTo) or start with a prefix listed in ITSM_COMMAND_REPLY_PREFIXES", logger: logger)
        }
        logger[metadataKey: "customer_id"] = "\(request.customer_id)"
        let reply: Data
        do {
            switch command {
            case "integration.test":
                reply = try await commands.test(customerID: request.customer_id, logger: logger)
            case "integration.fields":
                reply = try await commands.fields(customerID: request.customer_id, table: request.table ?? "incident")
            default:
                return await messages.deadLetter(delivery, queue: queue, code: "unknown_command", reason: "no command '\(command)'", logger: logger)
            }
        } catch {
            // Through the retry queues with their delays, never straight back: an immediate
            // requeue of a command that keeps failing spins the worker and the broker.
            let attempt = messages.attempt(of: delivery)
            let databaseAway = (error as? any StorageFailure)?.storeUnavailable == true
            guard databaseAway || attempt < messages.maxAttempts else {
                return await messages.deadLetter(delivery, queue: queue, code: "retries_exhausted",
                                                 reason: "gave up after \(attempt) attempts: \(error)", logger: logger)
            }
            return await messages.retry(delivery, queue: queue, attempt: attempt, countsAsAttempt: !databaseAway,
                                        failure: RetryableFailure(reason: "command failed: \(error)", parked: databaseAway), logger: logger)
        }
        if let replyTo = delivery.properties.replyTo, !replyTo.isEmpty {
            let properties = AMQPProperties(contentType: "application/json", persistent: false, correlationID: delivery.properties.correlationID,
                                            type: "\(command).reply", appID: "itsm-worker")
            do {
                _ = try await messages.amqp.publish(Array(reply), exchange: "", routingKey: replyTo, properties: properties)
            } catch {
                logger.warning("could not send the reply", metadata: ["error": "\(error)", "reply_to": "\(replyTo)"])
            }
        }
        try? await delivery.ack()
        return .acked(.answered)
    }
}
