import Foundation
import ITSMCore
import Synchronization

/// The twin of a ServiceNow instance behind the gateway port: incidents in memory, numbered
/// like an instance numbers them, with failures a test queues for the next calls.
public final class InMemoryIncidentGateway: IncidentGateway {
    public enum Call: Sendable, Equatable {
        case create, update, read, find, prepare, list
    }

    struct State {
        var incidents: [String: [String: String]] = [:]
        var order: [String] = []
        var failures: [(call: Call?, error: GatewayError)] = []
        var calls: [Call] = []
        var journal: [String: [String]] = [:]
        var entries: [JournalEntry] = []
        var nextNumber = 10_001
        var clockTick = 0
    }

    private let state = Mutex(State())
    public let instanceKey: String
    /// Fields whose values the instance refuses to resolve (left out, with a warning).
    public let unresolvable: Set<String>

    public init(instanceKey: String = "https://acme.service-now.com", unresolvable: Set<String> = []) {
        self.instanceKey = instanceKey
        self.unresolvable = unresolvable
    }

    /// The next call (of `call`, or of any kind) fails with `error`.
    public func fail(_ call: Call? = nil, with error: GatewayError) {
        state.withLock { $0.failures.append((call, error)) }
    }

    public var incidents: [[String: String]] { state.withLock { state in state.order.compactMap { state.incidents[$0] } } }
    public var calls: [Call] { state.withLock { $0.calls } }
    public func notes(sysID: String) -> [String] { state.withLock { $0.journal[sysID] ?? [] } }

    /// An operator's change in the instance (stamped one second after the newest change).
    public func set(sysID: String, fields: [String: String]) {
        state.withLock { state in
            state.clockTick += 1
            var changed = fields
            changed["sys_updated_on"] = changed["sys_updated_on"] ?? "2026-01-01 00:00:\(String(format: "%02d", state.clockTick % 60))"
            state.incidents[sysID]?.merge(changed) { _, new in new }
        }
    }

    /// An incident deleted in the instance.
    public func delete(sysID: String) {
        state.withLock { state in
            state.incidents[sysID] = nil
            state.order.removeAll { $0 == sysID }
        }
    }

    private func begin(_ call: Call) throws(GatewayError) {
        let failure: GatewayError? = state.withLock { state in
            state.calls.append(call)
            guard let index = state.failures.firstIndex(where: { $0.call == nil || $0.call == call }) else { return nil }
            return state.failures.remove(at: index).error
        }
        if let failure { throw failure }
    }

    public func create(table: String, fields: [String: String]) async throws(GatewayError) -> IncidentRecord {
        try begin(.create)
        return state.withLock { state in
            let sysID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            var record = fields.filter { $0.key != "work_notes" && $0.key != "comments" }
            record["sys_id"] = sysID
            record["number"] = "INC\(String(format: "%07d", state.nextNumber))"
            record["state"] = record["state"] ?? IncidentState.new.rawValue
            record["sys_updated_on"] = "2026-01-01 00:00:00"
            state.nextNumber += 1
            state.incidents[sysID] = record
            state.order.append(sysID)
            return IncidentRecord(sysID: sysID, fields: record)
        }
    }

    public func update(table: String, sysID: String, fields: [String: String]) async throws(GatewayError) -> IncidentRecord {
        try begin(.update)
        let updated: [String: String]? = state.withLock { state in
            guard var record = state.incidents[sysID] else { return nil }
            if let final = record["state"].map(IncidentState.init(rawValue:)), final.isFinal { return ["refused": "closed"] }
            for (field, value) in fields {
                if field == "work_notes" || field == "comments" { state.journal[sysID, default: []].append(value) } else { record[field] = value }
            }
            state.incidents[sysID] = record
            return record
        }
        guard let updated else { throw Self.notFound }
        if updated["refused"] != nil { throw Self.forbidden }
        return IncidentRecord(sysID: sysID, fields: updated)
    }

    public func read(table: String, sysID: String, fields: [String]) async throws(GatewayError) -> IncidentRecord {
        try begin(.read)
        guard let record = state.withLock({ $0.incidents[sysID] }) else { throw Self.notFound }
        return IncidentRecord(sysID: sysID, fields: record)
    }

    public func find(table: String, correlationID: String) async throws(GatewayError) -> IncidentRecord? {
        try begin(.find)
        return state.withLock { state in
            state.order.first { state.incidents[$0]?["correlation_id"] == correlationID }.map { IncidentRecord(sysID: $0, fields: state.incidents[$0]!) }
        }
    }

    public func prepare(_ payload: [String: String], lookups: [String: RecordLookup.Request], table: String) async throws(GatewayError)
        -> (payload: [String: String], warnings: [String]) {
        try begin(.prepare)
        // (The twin binds no records: every lookup is left out with a warning, as on an
        // instance where nothing matches.)
        let left = (payload.keys.filter(unresolvable.contains) + lookups.keys).sorted()
        return (payload.filter { !unresolvable.contains($0.key) }, left)
    }

    public func changed(table: String, sysIDs: [String], updatedSince: String?) async throws(GatewayError) -> (records: [IncidentRecord], requests: Int) {
        try begin(.list)
        let wanted = Set(sysIDs)
        let records = state.withLock { state in
            state.order.filter(wanted.contains).compactMap { sysID in state.incidents[sysID].map { IncidentRecord(sysID: sysID, fields: $0) } }
                .filter { record in updatedSince.map { (record["sys_updated_on"] ?? "") >= $0 } ?? true }
                .sorted { ($0["sys_updated_on"] ?? "") < ($1["sys_updated_on"] ?? "") }
        }
        return (records, 1)
    }

    /// Journal entries the instance's people wrote, for the notes sync (the twin's own writes
    /// are not journaled).
    public func addJournalEntry(_ entry: JournalEntry) {
        state.withLock { $0.entries.append(entry) }
    }

    public func journal(table: String, sysIDs: [String], createdSince: String, limit: Int) async throws(GatewayError) -> JournalListing {
        try begin(.list)
        let wanted = Set(sysIDs)
        let entries = state.withLock { state in
            state.entries.filter { wanted.contains($0.elementID) && $0.createdOn >= createdSince }.sorted { ($0.createdOn, $0.sysID) < ($1.createdOn, $1.sysID) }
        }
        return JournalListing(entries: Array(entries.prefix(limit)), complete: entries.count <= limit, requests: 1)
    }

    public func recordLink(table: String, sysID: String) -> String {
        "\(instanceKey)/nav_to.do?uri=\(table).do?sys_id=\(sysID)"
    }

    // Failures as the ServiceNow adapter reports them.
    public static let notFound = GatewayError(kind: .notFound, code: "servicenow_not_found", isRetryable: false, health: .answering,
                                              message: "No Record found", description: "404 not found")
    public static let forbidden = GatewayError(kind: .forbidden, code: "servicenow_forbidden", isRetryable: false, health: .answering,
                                               message: "Operation Failed", detail: "ACL restricts the record", description: "403 forbidden")
    public static let unavailable = GatewayError(kind: .other, code: "servicenow_server_error", isRetryable: true, health: .failing,
                                                 description: "503 from the instance")
    public static let rateLimited = GatewayError(kind: .other, code: "servicenow_rate_limited", isRetryable: true, parks: true, health: .unknown,
                                                 retryAfter: .seconds(2), description: "429 rate limited")
    public static let assignmentGroupRefused = GatewayError(kind: .forbidden, code: "servicenow_forbidden", isRetryable: false, health: .answering,
                                                            message: "Operation Failed", detail: "Data Policy Exception: assignment_group",
                                                            mentionsAssignmentGroup: true, description: "403 forbidden")
    public static let dataPolicy = GatewayError(kind: .other, code: "servicenow_bad_request", isRetryable: false, health: .answering,
                                                message: "Data Policy Exception", detail: "Category is mandatory", description: "400 bad request")
}
