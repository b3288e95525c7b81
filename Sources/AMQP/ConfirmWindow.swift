
/// The publisher-confirm bookkeeping of one channel, without the socket: which publishes await
/// their confirm (by delivery tag), which wait for room in the window, which came back as
/// returns, and which ran out of time. The driver sends what this lets it send and completes
/// what this settles; the rules are unit-tested without a broker.
struct ConfirmWindow<Request: ConfirmablePublish> {
    private struct Unconfirmed {
        let tag: UInt64
        let request: Request
        var returned: (code: UInt16, text: String)?
    }

    /// The most publishes awaiting their confirm at once.
    let limit: Int
    private var lastTag: UInt64 = 0
    /// In tag order: tags grow by one per publish on a channel.
    private var unconfirmed: [Unconfirmed] = []
    private var waiting: [Request] = []

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    var inFlight: Int { unconfirmed.count }
    var waitingForRoom: Int { waiting.count }
    var hasRoom: Bool { unconfirmed.count < limit }

    /// A new publish: `true` if it may be sent now, `false` if it waits for room (a later
    /// ``nextToSend()`` hands it out).
    mutating func admit(_ request: Request) -> Bool {
        guard hasRoom, waiting.isEmpty else {
            waiting.append(request)
            return false
        }
        return true
    }

    /// The oldest publish waiting for room, once there is room.
    mutating func nextToSend() -> Request? {
        guard hasRoom, !waiting.isEmpty else { return nil }
        return waiting.removeFirst()
    }

    /// The broker accepted a publish on the channel: it gets the next delivery tag.
    mutating func sent(_ request: Request) {
        lastTag += 1
        unconfirmed.append(Unconfirmed(tag: lastTag, request: request))
    }

    /// A new channel in confirm mode numbers its publishes from 1 again.
    mutating func restartNumbering() {
        lastTag = 0
    }

    /// A `basic.return`. The broker returns a message before confirming it, and returns come in
    /// publish order; with no tag on a return, it belongs to the oldest unconfirmed mandatory
    /// publish to the same exchange and routing key not yet matched.
    mutating func returned(exchange: String, routingKey: String, code: UInt16, text: String) {
        if let index = unconfirmed.firstIndex(where: {
            $0.request.mandatory && $0.returned == nil && $0.request.exchange == exchange && $0.request.routingKey == routingKey
        }) {
            unconfirmed[index].returned = (code, text)
        }
    }

    /// A `basic.ack` or `basic.nack`: the publishes it settles, each with its outcome.
    mutating func settle(upTo tag: UInt64, multiple: Bool, nacked: Bool) -> [(Request, Result<AMQPPublishOutcome, AMQPError>)] {
        var settled: [Unconfirmed] = []
        if multiple {
            let count = unconfirmed.prefix { $0.tag <= tag }.count
            settled = Array(unconfirmed.prefix(count))
            unconfirmed.removeFirst(count)
        } else if let index = unconfirmed.firstIndex(where: { $0.tag == tag }) {
            settled = [unconfirmed.remove(at: index)]
        }
        return settled.map { entry in
            if nacked { return (entry.request, .failure(.publishNacked)) }
            if let returned = entry.returned { return (entry.request, .success(.returned(replyCode: returned.code, replyText: returned.text))) }
            return (entry.request, .success(.confirmed))
        }
    }

    /// The publishes whose confirm or room did not come by `now`. Confirms come in tag order,
    /// so the oldest unconfirmed publish is the first to expire.
    mutating func expire(now: ContinuousClock.Instant) -> [Request] {
        var expired: [Request] = []
        while let first = unconfirmed.first, first.request.deadline <= now { expired.append(unconfirmed.removeFirst().request) }
        while let first = waiting.first, first.deadline <= now { expired.append(waiting.removeFirst()) }
        return expired
    }

    /// Everything in flight or waiting, for failing when the connection is gone.
    mutating func removeAll() -> [Request] {
        defer {
            unconfirmed = []
            waiting = []
        }
        return unconfirmed.map(\.request) + waiting
    }
}
