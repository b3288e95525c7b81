import Foundation

/// 0 closed (traffic flows), 1 open (work for the instance is parked), 2 half-open (one trial).
public enum CircuitState: Int, Sendable {
    case closed = 0, open = 1, halfOpen = 2
}
