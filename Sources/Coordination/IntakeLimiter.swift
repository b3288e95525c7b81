/// At most `limit` holders at once; further callers wait, first come first served.
public final class IntakeLimiter: Sendable {
    public let limit: Int
    private let lot: ParkingLot<Int, Bool>

    public init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
        lot = ParkingLot(0)
    }

    /// Takes a place, waiting for one; false if the task was cancelled while waiting.
    public func acquire() async -> Bool {
        await lot.park(timeout: nil, onTimeout: false, onCancel: false) { [limit] held, _ in
            guard held < limit else { return nil }
            held += 1
            return true
        }
    }

    /// A slot that gives this place back (once) when the work is done or waits elsewhere.
    public func slot(overflows: Bool = true) -> IntakeSlot {
        IntakeSlot(overflows: overflows) { [self] in release() }
    }

    public func release() {
        lot.withLock { held, waiters in
            // The place passes straight to the longest waiter; the count stays.
            if !waiters.resumeFirst(with: true) { held -= 1 }
        }
    }

    /// Places taken now.
    public var held: Int { lot.withLock { held, _ in held } }
}
