import Caching
import Foundation
import ITSMCore
import ServiceNow

/// Metadata of customers' instances (fields with their choices, reference lookups), cached per
/// integration for `ttl` so that building and sending tickets costs no extra requests.
public final class InstanceMetadata: Sendable {
    public enum Lookup: Sendable, Equatable {
        case found(sysID: String)
        case none
        case ambiguous(count: Int)
    }

    /// A table's fields as the instance lists them, and by name. The index is built once per
    /// listing: every new alert's payload is checked against it, and a real incident table has
    /// about 90 fields (building it per alert took about 1 % of the worker's CPU in scenario 1).
    public struct TableFields: Sendable {
        public let list: [ServiceNowField]
        /// A name listed twice keeps its first field.
        public let byName: [String: ServiceNowField]

        init(_ list: [ServiceNowField]) {
            self.list = list
            byName = Dictionary(list.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let ttl: Duration
    // Table names arrive in commands and looked-up names in alerts: both caches are bounded.
    private let fieldCache: BoundedCache<String, TableFields>
    private let lookupCache: BoundedCache<String, Lookup>

    public init(ttl: Duration, fieldCapacity: Int = 500, lookupCapacity: Int = 20_000) {
        self.ttl = ttl
        fieldCache = BoundedCache(capacity: fieldCapacity, ttl: ttl)
        lookupCache = BoundedCache(capacity: lookupCapacity, ttl: ttl)
    }

    /// Field listings and lookups held now (for tests).
    var count: Int { fieldCache.count + lookupCache.count }

    /// The table's fields, each with its active choices.
    public func fields(customerID: String, table: String, session: ServiceNowSession) async throws(ServiceNowError) -> [ServiceNowField] {
        try await tableFields(customerID: customerID, table: table, session: session).list
    }

    /// The table's fields with their index by name (see ``TableFields``).
    public func tableFields(customerID: String, table: String, session: ServiceNowSession) async throws(ServiceNowError) -> TableFields {
        let key = "\(customerID)|\(session.instance.key)|\(table)"
        if let fields = fieldCache.value(for: key) { return fields }
        var fields = try await session.fields(table: table)
        let choices = try await session.queryAll(table: "sys_choice", ServiceNowQuery(
            "name=\(table)^inactive=false^ORDERBYsequence", fields: ["element", "value", "label", "dependent_value"], pageSize: 1000),
            maximumRecords: 5_000)
        let byElement = Dictionary(grouping: choices, by: { $0["element"] ?? "" })
        for index in fields.indices {
            fields[index].choices = (byElement[fields[index].name] ?? []).map {
                ServiceNowChoice(value: $0["value"] ?? "", label: $0["label"] ?? "", dependentValue: $0["dependent_value"].flatMap { $0.isEmpty ? nil : $0 })
            }
        }
        let listed = TableFields(fields)
        fieldCache.set(listed, for: key)
        return listed
    }

    /// Finds the record a display name refers to in a reference table.
    public func lookUp(customerID: String, table: String, name: String, session: ServiceNowSession) async throws(ServiceNowError) -> Lookup {
        let key = "\(customerID)|\(session.instance.key)|\(table)|\(name)"
        if let lookup = lookupCache.value(for: key) { return lookup }
        // `^` would start a new condition; such a name cannot be looked up safely.
        guard !name.contains("^") else { return .none }
        let condition = table == "sys_user" ? "user_name=\(name)^ORname=\(name)" : "name=\(name)"
        let page = try await session.queryPage(table: table, ServiceNowQuery(condition, fields: ["sys_id", "name"], pageSize: 5))
        let lookup: Lookup = page.records.count == 1 ? .found(sysID: page.records[0].sysID) : (page.records.isEmpty ? .none : .ambiguous(count: page.records.count))
        lookupCache.set(lookup, for: key)
        return lookup
    }

    /// The one record of `request.table` matched by the first (column, value) pair that matches
    /// any: `.ambiguous` when that pair matches several. Answers are cached per pair.
    public func findRecord(customerID: String, _ request: RecordLookup.Request, session: ServiceNowSession) async throws(ServiceNowError) -> Lookup {
        for pair in request.pairs {
            let key = "record|\(customerID)|\(session.instance.key)|\(request.table)|\(pair.column)|\(pair.value)"
            let lookup: Lookup
            if let cached = lookupCache.value(for: key) {
                lookup = cached
            } else {
                let page: ServiceNowPage
                do {
                    page = try await session.queryPage(table: request.table, ServiceNowQuery("\(pair.column)=\(pair.value)", fields: ["sys_id", pair.column], pageSize: 5))
                } catch {
                    // A table the user may not read is a lookup that finds nothing; an instance
                    // that is down fails the message now.
                    if error.isRetryable { throw error }
                    lookupCache.set(.none, for: key)
                    continue
                }
                // An unknown column is ignored by the instance, which then returns every row:
                // only rows that carry the value count.
                let matching = page.records.filter { $0[pair.column] == pair.value }
                lookup = matching.count == 1 ? .found(sysID: matching[0].sysID) : (matching.isEmpty ? .none : .ambiguous(count: matching.count))
                lookupCache.set(lookup, for: key)
            }
            if lookup != .none { return lookup }
        }
        return .none
    }

    /// 32 lowercase hex: already a sys_id, nothing to look up.
    static func isSysID(_ value: String) -> Bool {
        value.count == 32 && value.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}
