/// The channel's unsettled deliveries and the acks not yet sent for them.
///
/// Each ack on its own is a frame the broker parses and, for a quorum queue, a settle command in
/// its Raft log. So acks are held up to `hold`: the acked deliveries at the front (the oldest
/// unsettled) then leave as one `basic.ack` with `multiple`, and an ack behind a delivery still
/// in progress goes on its own, so a slow message never keeps the others' acks (and their
/// prefetch places) for longer than that. A front run leaves with the next flush when it is the
/// larger part of what is out: the broker sends no more than the prefetch, and a window mostly
/// acked should not wait out the hold.
///
/// `multiple` settles every delivery of the channel up to the tag, whichever consumer it went
/// to, so every delivery the channel hands out is recorded here, not only one consumer's.
struct PendingAcks {
    /// A `basic.ack` to send.
    struct Ack: Equatable {
        let tag: UInt64
        let multiple: Bool
    }

    let hold: Duration
    /// Delivered and not settled on the wire, in delivery order (tags only grow on a channel).
    private var unsettled: [UInt64] = []
    private var head = 0
    private var acked: Set<UInt64> = []
    /// When the oldest ack still held was queued.
    private var oldestHeld: ContinuousClock.Instant?

    init(hold: Duration) {
        self.hold = hold
    }

    var isEmpty: Bool { acked.isEmpty }

    /// Whether deliveries are out that are not settled on the wire yet.
    var hasUnsettled: Bool { head < unsettled.count }

    /// When ``flush(now:)`` must run next to keep the hold, if anything is held.
    var deadline: ContinuousClock.Instant? { oldestHeld.map { $0 + hold } }

    mutating func delivered(_ tag: UInt64) {
        unsettled.append(tag)
    }

    /// The application acked `tag`; it goes out with the next flush or with the deliveries before it.
    mutating func ack(_ tag: UInt64, now: ContinuousClock.Instant) {
        guard acked.insert(tag).inserted else { return }
        if oldestHeld == nil { oldestHeld = now }
    }

    /// `tag` was settled on the wire another way (nack, reject): it no longer holds acks back.
    mutating func settledAlone(_ tag: UInt64) {
        acked.remove(tag)
        remove(tag)
    }

    /// The acks to send now: one `multiple` ack for the acked deliveries at the front, and, once
    /// they have waited `hold` (or `force`), every other held ack on its own.
    mutating func flush(now: ContinuousClock.Instant, force: Bool = false) -> [Ack] {
        var acks: [Ack] = []
        var run = 0
        while head + run < unsettled.count, acked.contains(unsettled[head + run]) { run += 1 }
        let due = force || oldestHeld.map({ now - $0 >= hold }) == true
        if run > 0, due || run * 2 >= unsettled.count - head {
            let last = unsettled[head + run - 1]
            for index in head..<(head + run) { acked.remove(unsettled[index]) }
            head += run
            acks.append(Ack(tag: last, multiple: run > 1))
        }
        if !acked.isEmpty, due {
            for tag in acked.sorted() {
                acks.append(Ack(tag: tag, multiple: false))
                remove(tag)
            }
            acked = []
        }
        if acked.isEmpty { oldestHeld = nil }
        compact()
        return acks
    }

    /// A new channel: the old one's deliveries cannot be settled any more.
    mutating func reset() {
        unsettled = []
        head = 0
        acked = []
        oldestHeld = nil
    }

    private mutating func remove(_ tag: UInt64) {
        var low = head, high = unsettled.count
        while low < high {
            let middle = (low + high) / 2
            if unsettled[middle] < tag { low = middle + 1 } else { high = middle }
        }
        guard low < unsettled.count, unsettled[low] == tag else { return }
        if low == head { head += 1 } else { unsettled.remove(at: low) }
    }

    private mutating func compact() {
        if head > 256 && head * 2 > unsettled.count {
            unsettled.removeFirst(head)
            head = 0
        }
    }
}
