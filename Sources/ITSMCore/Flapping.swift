import Foundation

/// Flap detection: an alert that resolves and fires again `threshold` times within `window`
/// keeps its incident open (one summary note per window) until it stays resolved for `quiet`.
public struct FlapSettings: Sendable, Equatable {
    /// Fire/resolve cycles within `window` that make an alert flapping; 0 turns detection off.
    public var threshold: Int
    public var window: Duration
    public var quiet: Duration

    public init(threshold: Int = 3, window: Duration = .seconds(30 * 60), quiet: Duration = .seconds(15 * 60)) {
        self.threshold = threshold
        self.window = window
        self.quiet = quiet
    }

    public static let off = FlapSettings(threshold: 0)

    /// Where an alert stands after firing again once more.
    public struct Cycle: Sendable, Equatable {
        /// Cycles within the window, this one included.
        public var cycles: Int
        /// It was flapping before this cycle.
        public var wasFlapping: Bool
        /// It is flapping now.
        public var isFlapping: Bool

        public init(cycles: Int, wasFlapping: Bool, isFlapping: Bool) {
            self.cycles = cycles
            self.wasFlapping = wasFlapping
            self.isFlapping = isFlapping
        }
    }

    /// The pure rule: the cycle times kept (those within the window, and `now`) and whether the
    /// alert flaps.
    public func cycle(previous: [Date], wasFlapping: Bool, now: Date) -> (kept: [Date], cycle: Cycle) {
        let kept = previous.filter { now.timeIntervalSince($0) < window.seconds } + [now]
        // (Bounded: only the last `threshold` matter.)
        let trimmed = Array(kept.suffix(max(threshold, 1)))
        let flapping = wasFlapping || (threshold > 0 && kept.count >= threshold)
        return (trimmed, Cycle(cycles: kept.count, wasFlapping: wasFlapping, isFlapping: flapping))
    }
}

/// What flap detection needs of the worker's memory. `TicketStore` implements it.
public protocol FlapTracking: Sendable {
    /// Records that the alert fired again after resolving.
    func recordCycle(customerID: String, alertID: String, settings: FlapSettings, now: Date) async throws -> FlapSettings.Cycle
    /// Whether the alert is flapping.
    func isFlapping(customerID: String, alertID: String) async throws -> Bool
    /// Takes the turn for a summary note if the last is a window old (or none was written since
    /// the alert began flapping): the number of fires since the last summary, or nil.
    func takeSummary(customerID: String, alertID: String, every period: Duration, now: Date) async throws -> Int?
    /// Flapping alerts of the customer whose open ticket's alert has stayed resolved since
    /// before `resolvedBefore`.
    func quietAlerts(customerID: String, resolvedBefore: Date) async throws -> [String]
    /// The alert stopped flapping (its incident was resolved after the quiet time).
    func endFlapping(customerID: String, alertID: String) async throws
}
