import Coordination
import Foundation

/// A circuit breaker and a bulkhead per ServiceNow instance.
///
/// When an instance fails or times out `threshold` times in a row, its circuit opens: its work
/// is parked (retried after `openFor`, without using up attempts) and never occupies the
/// worker, so every other customer's alerts keep flowing. After `openFor` one message is let
/// through; its success closes the circuit. The bulkhead caps the messages one instance may
/// have in progress at once, so a slow instance cannot take all of the worker's slots.
///
/// A message over the cap waits up to `permitWait` for a permit. How many may wait follows the
/// instance's pace: as many as it gets through in `permitWait` at its usual time per message
/// (from `maxInFlight` up to 16 times that, the most while its pace is not known), so a fast instance
/// keeps what it can use and a slow one holds little of the worker. One more, or one whose
/// wait ran out, is refused with the instance named as busy (``RetryableFailure/busyInstance``)
/// and waits its turn outside the worker, in the instance's hold queue. A message admitted
/// or waiting here gives its consumer's place back (``IntakeSlot``): from then on this bound
/// is the one that holds it.
///
/// A hanging instance is recognised by its silence, not by its timeouts: when half its cap is
/// in progress and nothing has come back for `slowAfter` (ten times the instance's usual time per
/// message, between `slowFloor` and `slowCeiling`, but never under twice the usual time;
/// `slowCeiling` before anything is known), the circuit opens at once, and a half-open trial
/// that hangs as long opens it again. An answer that comes back after all closes it.
public final class InstanceCircuits: Sendable {
    public let threshold: Int
    public let openFor: Duration
    public let maxInFlight: Int
    public let permitWait: Duration
    public let slowFloor: Duration
    public let slowCeiling: Duration
    let onChange: @Sendable (String, CircuitState) -> Void

    private struct Circuit {
        var state: CircuitState = .closed
        var failures = 0
        var openedAt: ContinuousClock.Instant?
        var trialRunning = false
        var trialStarted: ContinuousClock.Instant?
        var inFlight = 0
        /// When a message last came back from the instance, or when it last got work after
        /// having none: the start of any silence.
        var lastProgress: ContinuousClock.Instant = .now
        /// The usual time a message holds its permit (moving average of those that succeeded).
        var usual: Duration?
        var lastEntered: ContinuousClock.Instant = .now

        func slowAfter(floor: Duration, ceiling: Duration) -> Duration {
            guard let usual else { return ceiling }
            // Never under twice the usual time: an instance that is slow but answers (creates
            // taking 15 s under heavy business rules) is not hanging.
            return max(floor, min(ceiling, usual * 10), usual * 2)
        }

        /// How many messages may wait for a permit: what the instance gets through in `wait`;
        /// the most while its pace is not known (a new instance's first burst would otherwise
        /// move to its hold queue before its first answer says whether it is busy at all).
        func room(cap: Int, wait: Duration) -> Int {
            guard let usual, usual > .zero else { return cap * 16 }
            return min(cap * 16, max(cap, Int(Double(cap) / usual.seconds * wait.seconds)))
        }
    }

    /// The circuits by instance; messages waiting for a permit park here, tagged with their
    /// instance, and a freed permit passes straight to that instance's longest waiting one.
    private let lot = ParkingLot<[String: Circuit], Bool>([:])

    /// Permit-wait timers still running (for tests).
    var runningTimers: Int { lot.runningTimers }

    /// Messages waiting for a permit (for tests).
    var waiting: Int { lot.bookkeeping.parked }

    public init(threshold: Int = 5, openFor: Duration = .seconds(30), maxInFlight: Int = 8, permitWait: Duration = .seconds(2),
                slowFloor: Duration = .seconds(2), slowCeiling: Duration = .seconds(10),
                onChange: @escaping @Sendable (String, CircuitState) -> Void = { _, _ in }) {
        self.threshold = threshold
        self.openFor = openFor
        self.maxInFlight = maxInFlight
        self.permitWait = permitWait
        self.slowFloor = slowFloor
        self.slowCeiling = slowCeiling
        self.onChange = onChange
    }

    /// A pass for one message's work with the instance; call ``leave(_:outcome:)`` when done.
    public struct Permit: Sendable {
        let instance: String
        let trial: Bool
        var entered: ContinuousClock.Instant = .now
    }

    /// How many messages the instances in use can take: each instance that had work within
    /// `activeWithin` and is not open, its cap plus its waiting room. The consumers size their
    /// intake by it.
    public func wantedIntake(activeWithin: Duration = .seconds(60)) -> Int {
        let now = ContinuousClock.now
        return lot.withLock { circuits, _ in
            circuits.values.reduce(0) { sum, circuit in
                guard circuit.state != .open && now - circuit.lastEntered < activeWithin else { return sum }
                return sum + maxInFlight + circuit.room(cap: maxInFlight, wait: permitWait)
            }
        }
    }

    /// How many messages may wait for a permit of `instance` now (tests).
    func room(_ instance: String) -> Int {
        lot.withLock { circuits, _ in (circuits[instance] ?? Circuit()).room(cap: maxInFlight, wait: permitWait) }
    }

    private enum Admission {
        case admitted(Permit)
        case refused(RetryableFailure)
        case full
    }

    /// Admits work for `instance` (waiting briefly while it is at its cap), or throws a parked
    /// ``RetryableFailure`` with the wait.
    public func enter(_ instance: String) async throws(RetryableFailure) -> Permit {
        var changed: CircuitState?
        var waitersToRefuse = false
        let admission = lot.withLock { circuits, _ -> Admission in
            var circuit = circuits[instance] ?? Circuit()
            defer { circuits[instance] = circuit }
            let now = ContinuousClock.now
            circuit.lastEntered = now
            let slowAfter = circuit.slowAfter(floor: slowFloor, ceiling: slowCeiling)
            // Silence while work is in progress (or a trial that hangs): the instance hangs.
            // (Half the cap in progress: the instance's request slots are all taken; one slow
            // call among few is not a hang.)
            if (circuit.state == .closed && circuit.inFlight >= max(1, maxInFlight / 2) && now - circuit.lastProgress > slowAfter)
                || (circuit.state == .halfOpen && circuit.trialRunning && circuit.trialStarted.map { now - $0 > slowAfter } ?? false) {
                circuit.state = .open
                circuit.openedAt = now
                circuit.trialRunning = false
                changed = .open
                waitersToRefuse = true
            }
            if circuit.state == .open, let opened = circuit.openedAt {
                let elapsed = ContinuousClock.now - opened
                if elapsed < openFor {
                    return .refused(RetryableFailure(reason: "the circuit for this instance is open after repeated failures", retryAfter: openFor - elapsed, parked: true))
                }
                circuit.state = .halfOpen
                changed = .halfOpen
            }
            if circuit.state == .halfOpen {
                if circuit.trialRunning {
                    return .refused(RetryableFailure(reason: "the instance's circuit is half-open and a trial is running", retryAfter: .seconds(2), parked: true))
                }
                circuit.trialRunning = true
                circuit.trialStarted = now
                if circuit.inFlight == 0 { circuit.lastProgress = now }
                circuit.inFlight += 1
                return .admitted(Permit(instance: instance, trial: true))
            }
            guard circuit.inFlight < maxInFlight else { return .full }
            if circuit.inFlight == 0 { circuit.lastProgress = now }
            circuit.inFlight += 1
            return .admitted(Permit(instance: instance, trial: false))
        }
        if waitersToRefuse { lot.withLock { _, waiters in waiters.resumeAll(with: false, tag: instance) } }
        if let changed { onChange(instance, changed) }
        switch admission {
        case .admitted(let permit):
            IntakeSlot.current?.giveBack()
            return permit
        case .refused(let failure): throw failure
        case .full: break
        }
        let patient = IntakeSlot.current.map { !$0.overflows } ?? false
        IntakeSlot.current?.giveBack()
        if await waitForPermit(instance, patient: patient) { return Permit(instance: instance, trial: false) }
        guard state(instance) == .closed else {
            throw RetryableFailure(reason: "the instance's circuit opened while the message waited", retryAfter: .seconds(1), parked: true)
        }
        throw RetryableFailure(reason: "the instance already has \(maxInFlight) messages in progress and its waiting room is full", retryAfter: .seconds(1),
                               busyInstance: instance)
    }

    /// Queues for a permit that ``leave(_:outcome:)`` hands over; false after `permitWait`, when
    /// the queue is full, or when the circuit leaves the closed state. A `patient` message (from
    /// the instance's hold queue) waits for its turn however long it takes while the circuit is
    /// closed, and however many wait: its queue's prefetch bounds them.
    private func waitForPermit(_ instance: String, patient: Bool) async -> Bool {
        await lot.park(tag: instance, timeout: patient ? nil : permitWait, onTimeout: false, onCancel: false) { [maxInFlight, permitWait] circuits, waiters in
            guard var circuit = circuits[instance], circuit.state == .closed else { return false }
            defer { circuits[instance] = circuit }
            // A permit freed since the first look.
            if circuit.inFlight < maxInFlight {
                circuit.inFlight += 1
                return true
            }
            return patient || waiters.count(tag: instance) < circuit.room(cap: maxInFlight, wait: permitWait) ? nil : false
        }
    }

    public enum Outcome: Sendable { case success, failure, neutral }

    public func leave(_ permit: Permit, outcome: Outcome) {
        var changed: CircuitState?
        lot.withLock { circuits, waiters in
            var circuit = circuits[permit.instance] ?? Circuit()
            defer { circuits[permit.instance] = circuit }
            circuit.inFlight = max(0, circuit.inFlight - 1)
            if permit.trial { circuit.trialRunning = false }
            let now = ContinuousClock.now
            circuit.lastProgress = now
            switch outcome {
            case .success:
                let held = now - permit.entered
                circuit.usual = circuit.usual.map { $0 * 0.9 + held * 0.1 } ?? held
                if circuit.state != .closed { changed = .closed }
                circuit.state = .closed
                circuit.failures = 0
                circuit.openedAt = nil
                circuit.trialRunning = false
            case .failure:
                circuit.failures += 1
                if circuit.state == .halfOpen || (circuit.state == .closed && circuit.failures >= threshold) {
                    circuit.state = .open
                    circuit.openedAt = .now
                    changed = .open
                }
            case .neutral:
                if permit.trial && circuit.state == .halfOpen { circuit.state = .open; circuit.openedAt = .now; changed = .open }
            }
            if circuit.state == .closed {
                // The freed permit goes straight to the longest waiter.
                if circuit.inFlight < maxInFlight && waiters.resumeFirst(with: true, tag: permit.instance) {
                    circuit.inFlight += 1
                }
            } else {
                waiters.resumeAll(with: false, tag: permit.instance)
            }
        }
        if let changed { onChange(permit.instance, changed) }
    }

    public func state(_ instance: String) -> CircuitState {
        lot.withLock { circuits, _ in circuits[instance]?.state ?? .closed }
    }

    /// How a result counts: the instance failing (down, slow, erroring) opens the circuit;
    /// answers that show it working (including refusals) close it; rate limits count for
    /// neither.
    public static func outcome(of error: (any Error)?) -> Outcome {
        guard let error else { return .success }
        guard let failure = (error as? RetryableFailure)?.gatewayError ?? (error as? GatewayError) else { return .neutral }
        switch failure.health {
        case .failing: return .failure
        case .unknown: return .neutral
        case .answering: return .success
        }
    }
}
