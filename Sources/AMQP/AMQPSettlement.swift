enum AMQPSettlement: Sendable {
    case ack
    case nack(requeue: Bool)
    case reject(requeue: Bool)
}
