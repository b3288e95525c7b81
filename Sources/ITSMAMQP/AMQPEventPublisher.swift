import AMQP
import ITSMCore

/// Publishes outbox events to the events exchange, persistent, with the event id as the
/// message id and the event type as routing key and type.
public struct AMQPEventPublisher: EventPublisher {
    let amqp: AMQPConnection
    let exchange: String

    public init(amqp: AMQPConnection, exchange: String) {
        self.amqp = amqp
        self.exchange = exchange
    }

    public func publish(_ entry: OutboxEntry) async throws {
        let properties = AMQPProperties(contentType: "application/json", persistent: true, messageID: entry.eventID,
                                        type: entry.routingKey, appID: "itsm-worker")
        _ = try await amqp.publish(entry.payload, exchange: exchange, routingKey: entry.routingKey, properties: properties)
    }
}
