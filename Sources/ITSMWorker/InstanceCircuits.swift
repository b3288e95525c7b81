import Foundation
import ServiceNow
import Synchronization

/// 0 closed (traffic flows), 1 open (work for the instance is parked), 2 half-open (one trial).
public enum CircuitState: Int, Sendable {
    case closed = 0, open = 1, halfOpen = 2
}

/// A circuit breaker and a bulkhead per ServiceNow instance.
///
/// When an instance fails or times out `threshold` times in a row, its circuit opens: its work
/// is parked (retried after `openFor`, without using up attempts) and never occupies the
/// worker, so every other customer's alerts keep flowing. After `openFor` one message is let
/// through; its success closes the circuit. The bulkhead caps the messages one instance may
/// have in progress at once, so a slow instance cannot take all of the worker's slots.
public final class InstanceCircuits: Sendable {
    public let threshold: Int
    public let openFor: Duration
    public let maxInFlight: Int
    let onChange: @Sendable (String, CircuitState) -> Void

    private struct Circuit {
        var state: CircuitState = .closed
        var failures = 0
        var openedAt: ContinuousClock.Instant?
        var trialRunning = false
        var inFlight = 0

        init() {}

        init(inFlight: Int) {
            self.inFlight = inFlight
        }
    }

    private let circuits = Mutex<[String: Circuit]>([:])

    public init(threshold: Int = 5, openFor: Duration = .seconds(30), maxInFlight: Int = 8,
                onChange: @escaping @Sendable (String, CircuitState) -> Void = { _, _ in }) {
        self.threshold = threshold
        self.openFor = openFor
        self.maxInFlight = maxInFlight
        self.onChange = onChange
    }

    /// A pass for one message's work with the instance; call ``leave(_:outcome:)`` when done.
    public struct Permit: Sendable {
        let instance: String
        let trial: Bool
    }

    /// Admits work for `instance`, or throws a parked ``RetryableFailure`` with the wait.
    public func enter(_ instance: String) throws(RetryableFailure) -> Permit {
        var changed: CircuitState?
        let verdict = circuits.withLock { circuits -> Result<Permit, RetryableFailure> in
            var circuit = circuits[instance] ?? Circuit()
            defer { circuits[instance] = circuit }
            if circuit.state == .open, let opened = circuit.openedAt {
                let elapsed = ContinuousClock.now - opened
                if elapsed < openFor {
                    return .failure(RetryableFailure(reason: "the circuit for this instance is open after repeated failures", retryAfter: openFor - elapsed, parked: true))
                }
                circuit.state = .halfOpen
                changed = .halfOpen
            }
            if circuit.state == .halfOpen {
                if circuit.trialRunning {
                    return .failure(RetryableFailure(reason: "the instance's circuit is half-open and a trial is running", retryAfter: .seconds(2), parked: true))
                }
                circuit.trialRunning = true
                circuit.inFlight += 1
                return .success(Permit(instance: instance, trial: true))
            }
            guard circuit.inFlight < maxInFlight else {
                return .failure(RetryableFailure(reason: "the instance already has \(maxInFlight) messages in progress", retryAfter: .seconds(1), parked: true))
            }
            circuit.inFlight += 1
            return .success(Permit(instance: instance, trial: false))
        }
        if let changed { onChange(instance, changed) }
        return try verdict.get()
    }

    public enum Outcome: Sendable { case success, failure, neutral }

    public func leave(_ permit: Permit, outcome: Outcome) {
        var changed: CircuitState?
        circuits.withLock { circuits in
            var circuit = circuits[permit.instance] ?? Circuit()
            defer { circuits[permit.instance] = circuit }
            circuit.inFlight = max(0, circuit.inFlight - 1)
            if permit.trial { circuit.trialRunning = false }
            switch outcome {
            case .success:
                if circuit.state != .closed { changed = .closed }
                circuit = Circuit(inFlight: circuit.inFlight)
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
        }
        if let changed { onChange(permit.instance, changed) }
    }

    public func state(_ instance: String) -> CircuitState {
        circuits.withLock { $0[instance]?.state ?? .closed }
    }

    /// How a result counts: the instance failing (down, slow, erroring) opens the circuit;
    /// answers that show it working (including refusals) close it; rate limits count for
    /// neither.
    public static func outcome(of error: (any Error)?) -> Outcome {
        guard let error else { return .success }
        let serviceNow = (error as? RetryableFailure)?.serviceNowError ?? (error as? ServiceNowError)
        guard let serviceNow else { return .neutral }
        switch serviceNow.kind {
        case .unreachable, .timeout, .serverError, .hibernating, .notProcessed, .tls:
            return .failure
        case .rateLimited, .instanceBusy:
            return .neutral
        default:
            return .success
        }
    }
}
