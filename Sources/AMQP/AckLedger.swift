/// The acks of a connection, shared by the tasks that ack and the connection's thread that sends
/// them, behind one lock.
///
/// An ack is only a note here: the task records it and goes on, without a message to the
/// thread and without waiting for its answer (that round trip was a wake of the thread and a
/// wake of the task for every alert). The thread sends what is due each time it wakes; while
/// deliveries are unsettled it sleeps at most the hold, so an ack leaves within the hold without
/// anyone waking it. Only an ack that must leave sooner than the thread will look (a hold below
/// the thread's shortest sleep, or the thread asleep for longer) wakes it.
struct AckLedger {
    var pending: PendingAcks
    /// The channel incarnation; deliveries of an older one cannot be acked.
    var generation: UInt64 = 0
    /// When the thread will look at the ledger next on its own; nil while it is awake (it looks
    /// before it sleeps again).
    private(set) var wakeBy: ContinuousClock.Instant?
    /// False once the connection is closed: nothing sends acks any more.
    private(set) var isOpen = true

    /// The thread's shortest sleep while deliveries are unsettled: a hold of zero must not make
    /// it spin; such acks wake it instead.
    static let shortestSleep: Duration = .milliseconds(1)

    init(hold: Duration) {
        pending = PendingAcks(hold: hold)
    }

    /// Records the ack of a delivery of channel incarnation `generation`; true when the thread
    /// must be woken for it to leave in time.
    mutating func ack(_ tag: UInt64, generation: UInt64, now: ContinuousClock.Instant) throws(AMQPError) -> Bool {
        guard isOpen else { throw .closed }
        guard generation == self.generation else { throw .staleDelivery }
        pending.ack(tag, now: now)
        guard let wakeBy, wakeBy > now + pending.hold else { return false }
        // Awake from here on, as far as later acks know: one wake is enough.
        self.wakeBy = nil
        return true
    }

    /// The thread goes to sleep for at most `limit`: how long it may sleep so that every ack,
    /// held or still to come, leaves in time.
    mutating func sleep(now: ContinuousClock.Instant, limit: Duration) -> Duration {
        var timeout = limit
        if pending.hasUnsettled { timeout = min(timeout, max(pending.hold, Self.shortestSleep)) }
        if let deadline = pending.deadline { timeout = min(timeout, max(.zero, deadline - now)) }
        wakeBy = now + timeout
        return timeout
    }

    /// The thread woke up and looks at the ledger before it sleeps again.
    mutating func awake() {
        wakeBy = nil
    }

    /// A new channel: the old one's deliveries cannot be settled any more.
    mutating func newChannel() {
        generation += 1
        pending.reset()
    }

    /// The connection is closing: acks are refused from now on; those noted before still go
    /// with the last flush.
    mutating func close() {
        isOpen = false
    }
}
