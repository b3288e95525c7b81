import AMQP
import ITSMCore


/// The exchanges and queues the worker declares, named from its settings.
///
/// ```
/// ceburu.alerts (topic) ── alert.raised ──────────────────────▶ itsm.alerts
///                       ── alert.acknowledged, alert.resolved ─▶ itsm.status
///                       ── integration.* ──────────────────────▶ itsm.commands
/// itsm.retry.<ms> (TTL) ── expired ──▶ itsm.retry.return (headers, itsm-origin-queue) ──▶ back to its queue
/// (the header has no `x-` prefix on purpose: a headers exchange ignores `x-` arguments when
/// matching, so such a binding would match every message)
/// itsm.hold.<instance> (declared on demand, per busy instance; TTL) ── expired ──▶ itsm.retry.return
/// itsm.dead (fanout) ─────────────────────────────────────────▶ itsm.dead
/// itsm.events (topic): ticket.* and integration.tested, for other services
/// ```
/// Work queues dead-letter to `itsm.dead` when the broker gives up (delivery limit); the worker
/// itself dead-letters messages it cannot parse, with the reason in `x-reason`.
public struct WorkerTopology: Sendable {
    public let alertsExchange: String
    public let eventsExchange: String
    public let alertsQueue: String
    public let statusQueue: String
    public let commandsQueue: String
    public let deadExchange: String
    public let deadQueue: String
    public let returnExchange: String
    let prefix: String
    let queueType: AMQPQueue.Kind
    let deliveryLimit: Int
    let retryDelays: [Duration]

    public init(queuePrefix prefix: String, alertsExchange: String, eventsExchange: String, queueType: AMQPQueue.Kind, deliveryLimit: Int,
                retryDelays: [Duration]) {
        self.prefix = prefix
        self.alertsExchange = alertsExchange
        self.eventsExchange = eventsExchange
        alertsQueue = "\(prefix).alerts"
        statusQueue = "\(prefix).status"
        commandsQueue = "\(prefix).commands"
        deadExchange = "\(prefix).dead"
        deadQueue = "\(prefix).dead"
        returnExchange = "\(prefix).retry.return"
        self.queueType = queueType
        self.deliveryLimit = deliveryLimit
        self.retryDelays = retryDelays
    }

    /// How long a message waits in a hold queue before it goes back to its work queue: a worker
    /// that stopped consuming the hold queue (it crashed, or saw it idle) leaves nothing there.
    /// An unused hold queue is deleted after three times this, when its messages are long gone.
    public var holdMessageTTL: Duration = .seconds(600)

    /// The hold queue of one busy instance (its key): where messages for it wait their turn
    /// while it has more work than it can take, out of the way of other instances' messages.
    /// Named after the instance, so every worker holds and drains the same one.
    public func holdQueue(instance: String) -> AMQPQueue {
        // (Two instances sharing a hold queue would only share a waiting room.)
        let instance = instance.hasPrefix("https://") ? String(instance.dropFirst(8)) : instance.hasPrefix("http://") ? String(instance.dropFirst(7)) : instance
        let readable = instance.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || ".-:_".unicodeScalars.contains($0)) }
        var name = "\(prefix).hold."
        if readable && name.utf8.count + instance.utf8.count <= 200 {
            name += instance
        } else {
            // FNV-1a: stable across processes, unlike Hasher.
            var hash: UInt64 = 0xcbf29ce484222325
            for byte in instance.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
            name += String(hash, radix: 16)
        }
        var arguments: [String: AMQPFieldValue] = [
            "x-message-ttl": .int(holdMessageTTL.milliseconds), "x-expires": .int(holdMessageTTL.milliseconds * 3),
            "x-dead-letter-exchange": .string(returnExchange),
        ]
        if queueType == .quorum {
            arguments["x-dead-letter-strategy"] = "at-least-once"
            arguments["x-overflow"] = "reject-publish"
            arguments["x-delivery-limit"] = .int(Int64(deliveryLimit))
        }
        return AMQPQueue(name: name, kind: queueType, arguments: arguments)
    }

    /// Whether `name` is one of this topology's hold queues.
    public func isHoldQueue(_ name: String) -> Bool {
        name.hasPrefix("\(prefix).hold.")
    }

    /// The work queue a held or retried message belongs to (its `itsm-origin-queue`), if it
    /// names one.
    public func workQueue(named name: String?) -> String? {
        guard let name, [alertsQueue, statusQueue].contains(name) else { return nil }
        return name
    }

    /// Every retry queue's TTL in milliseconds: each tier and its 1.5× variant.
    public var retryTTLs: [Int64] {
        Array(Set(retryDelays.flatMap { [$0.milliseconds, $0.milliseconds * 3 / 2] })).sorted()
    }

    public func retryQueue(ttl: Int64) -> String { "\(prefix).retry.\(ttl)" }

    /// The retry queue for the `attempt`th failure (1-based): the tier for that attempt (the
    /// last tier once they run out), or the first tier at least as long as `minimum`, with one
    /// of its two variants at random.
    public func retryQueue(attempt: Int, minimum: Duration? = nil) -> (queue: String, delay: Duration) {
        var tier = min(max(attempt - 1, 0), retryDelays.count - 1)
        if let minimum {
            while tier < retryDelays.count - 1 && retryDelays[tier] < minimum { tier += 1 }
        }
        let base = retryDelays[tier].milliseconds
        let ttl = Bool.random() ? base : base * 3 / 2
        return (retryQueue(ttl: ttl), .milliseconds(ttl))
    }

    private func workQueue(_ name: String) -> AMQPQueue {
        var arguments: [String: AMQPFieldValue] = ["x-dead-letter-exchange": .string(deadExchange)]
        if queueType == .quorum {
            // The Debian broker sets no delivery limit; without one a message that crashes
            // workers would be redelivered forever. at-least-once dead-lettering needs
            // reject-publish overflow.
            arguments["x-delivery-limit"] = .int(Int64(deliveryLimit))
            arguments["x-dead-letter-strategy"] = "at-least-once"
            arguments["x-overflow"] = "reject-publish"
        }
        return AMQPQueue(name: name, kind: queueType, arguments: arguments)
    }

    /// Declares everything; safe to repeat, and repeated by the connection after a reconnect.
    public func declare(on connection: AMQPConnection) async throws {
        try await connection.declare(AMQPExchange(name: alertsExchange, kind: .topic))
        try await connection.declare(AMQPExchange(name: eventsExchange, kind: .topic))
        try await connection.declare(AMQPExchange(name: deadExchange, kind: .fanout))
        try await connection.declare(AMQPExchange(name: returnExchange, kind: .headers))
        try await connection.declare(AMQPQueue(name: deadQueue, kind: queueType))
        try await connection.bind(AMQPBinding(queue: deadQueue, exchange: deadExchange, routingKey: ""))
        let work: [(String, [String])] = [
            (alertsQueue, ["alert.raised"]),
            (statusQueue, ["alert.acknowledged", "alert.resolved"]),
            (commandsQueue, ["integration.test", "integration.fields"]),
        ]
        for (queue, keys) in work {
            try await connection.declare(workQueue(queue))
            for key in keys { try await connection.bind(AMQPBinding(queue: queue, exchange: alertsExchange, routingKey: key)) }
            try await connection.bind(AMQPBinding(queue: queue, exchange: returnExchange, routingKey: "",
                                                  arguments: ["x-match": "all", "itsm-origin-queue": .string(queue)]))
        }
        for ttl in retryTTLs {
            var arguments: [String: AMQPFieldValue] = ["x-message-ttl": .int(ttl), "x-dead-letter-exchange": .string(returnExchange)]
            if queueType == .quorum {
                arguments["x-dead-letter-strategy"] = "at-least-once"
                arguments["x-overflow"] = "reject-publish"
            }
            try await connection.declare(AMQPQueue(name: retryQueue(ttl: ttl), kind: queueType, arguments: arguments))
        }
    }
}
