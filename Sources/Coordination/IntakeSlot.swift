import Synchronization

/// A queue consumer's place for one message while the message is being prepared (decoded,
/// checked, its integration looked up).
///
/// Work that then waits on something with a bound of its own, an instance's bulkhead, gives the
/// place back: so messages for a saturated or sick instance hold only that instance's share,
/// never the capacity other instances' messages could use. The consumer binds the slot to the
/// message's task (``current``); giving it back twice is harmless.
public final class IntakeSlot: Sendable {
    @TaskLocal public static var current: IntakeSlot?

    /// Whether a message that finds its instance's bulkhead and waiting room full leaves the
    /// worker (true: from a work queue, it moves to the instance's hold queue) or waits for its
    /// turn (false: it came from that hold queue, whose prefetch bounds such messages).
    public let overflows: Bool
    private let returned = Atomic<Bool>(false)
    private let onReturn: @Sendable () -> Void

    public init(overflows: Bool = true, onReturn: @escaping @Sendable () -> Void) {
        self.overflows = overflows
        self.onReturn = onReturn
    }

    public func giveBack() {
        if !returned.exchange(true, ordering: .acquiringAndReleasing) { onReturn() }
    }
}
