import CRabbitMQ
import CRabbitMQShims
import Glibc
import Logging
import Synchronization

extension AMQPConnectionDriver {
    // MARK: - Frames from the broker

    /// One frame read by the loop: deliveries, confirms, returns, cancels and closes.
    func handle(_ frame: amqp_frame_t) {
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
            defer { amqp_destroy_message(&message) }
            if let consumer = consumers[deliver.consumer_tag.string] {
                let generation = connection.ledger.withLock { ledger in
                    ledger.pending.delivered(deliver.delivery_tag)
                    return ledger.generation
                }
                consumer.continuation.yield(AMQPDelivery(
                    body: message.body.array,
                    exchange: deliver.exchange.string,
                    routingKey: deliver.routing_key.string,
                    redelivered: deliver.redelivered != 0,
                    properties: AMQPProperties(message.properties),
                    deliveryTag: deliver.delivery_tag,
                    channelGeneration: generation,
                    connection: connection
                ))
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
}
