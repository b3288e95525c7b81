import Foundation

/// Everything a simulated instance holds: OAuth clients and tokens, records, journal entries,
/// pending faults and the log of requests. Also the Swift control surface tests use.
public actor SimulatorStore {
    public private(set) var configuration: SimulatorConfiguration

    struct IssuedToken {
        let clientID: String
        let user: String
        let expiresAt: ContinuousClock.Instant
    }
    var tokens: [String: IssuedToken] = [:]
    var tables: [String: [String: [String: String]]] = [:]
    var insertionOrder: [String: [String]] = [:]
    var numberCounters: [String: Int] = [:]
    var faults: [(fault: SimulatorFault, scope: SimulatorFaultScope, remaining: Int)] = []
    var log: [SimulatorRequest] = []
    var inFlight = 0
    var peak = 0
    var rateWindowStart = ContinuousClock.now
    var rateWindowWall = Date()
    var rateCount = 0
    var clock: () -> Date

    public init(configuration: SimulatorConfiguration = SimulatorConfiguration()) {
        self.configuration = configuration
        self.clock = Date.init
        Self.seed(into: &tables, order: &insertionOrder)
    }

    // MARK: - Control (tests and the /sim API)

    /// The next `count` matching requests get `fault` (count < 0: every request until reset).
    public func inject(_ fault: SimulatorFault, count: Int = 1, scope: SimulatorFaultScope = .api) {
        faults.append((fault, scope, count))
    }

    public func clearFaults() { faults = [] }

    /// Every issued token stops working (the API answers 401).
    public func revokeTokens() { tokens = [:] }

    /// Changes the configuration (clients, latency, business rules, ACLs, rate limits).
    public func configure(_ change: (inout SimulatorConfiguration) -> Void) {
        change(&configuration)
    }

    /// Changes an incident as an operator would in the ServiceNow UI.
    @discardableResult
    public func operatorUpdate(table: String = "incident", sysID: String, fields: [String: String]) throws -> [String: String] {
        try applyUpdate(table: table, sysID: sysID, body: fields, user: configuration.operatorUser, inputDisplayValue: false)
    }

    public func requests() -> [SimulatorRequest] { log }
    public func clearRequests() { log = [] }
    public func peakConcurrency() -> Int { peak }
    public func resetPeak() { peak = inFlight }

    /// Every record of a table, in insertion order.
    public func records(_ table: String) -> [[String: String]] {
        (insertionOrder[table] ?? []).compactMap { tables[table]?[$0] }
    }

    public func record(_ table: String, sysID: String) -> [String: String]? { tables[table]?[sysID] }

    /// Journal entries (`work_notes`, `comments`) of a record, oldest first.
    public func journal(sysID: String, element: String? = nil) -> [[String: String]] {
        records("sys_journal_field").filter { $0["element_id"] == sysID && (element == nil || $0["element"] == element) }
    }

    /// Forgets records, tokens, faults and the log; keeps the configuration.
    public func reset() {
        tokens = [:]
        tables = [:]
        insertionOrder = [:]
        numberCounters = [:]
        faults = []
        log = []
        peak = inFlight
        rateCount = 0
        Self.seed(into: &tables, order: &insertionOrder)
    }

    /// Creates `count` incidents directly (no HTTP), for sync tests and benchmarks.
    public func seedIncidents(_ count: Int, fields: [String: String] = [:]) throws -> [String] {
        var ids: [String] = []
        for n in 0..<count {
            var body = ["short_description": "seeded incident \(n)"]
            body.merge(fields) { _, new in new }
            ids.append(try createRecord(table: "incident", body: body, user: "itsm.integration", inputDisplayValue: false)["sys_id"]!)
        }
        return ids
    }
}
