import ITSMCore
import ServiceNow


/// The incident gateway over one customer's ServiceNow session: the Table API for writes and
/// reads, the mapping validator (table metadata, reference look-ups) for payloads.
struct ServiceNowIncidentGateway: IncidentGateway {
    let session: ServiceNowSession
    let instance: InstanceURL
    let validator: MappingValidator
    let customerID: String

    var instanceKey: String { instance.key }

    /// What the rules read from the answer to a write; asking for only these spares decoding
    /// the rest of the record on every write.
    static let writeAnswerFields = ["sys_id", "number", "state", "sys_updated_on"]

    func create(table: String, fields: [String: String]) async throws(GatewayError) -> IncidentRecord {
        do { return IncidentRecord(try await session.create(table: table, fields: fields, returning: Self.writeAnswerFields)) } catch {
            throw GatewayError(error)
        }
    }

    func update(table: String, sysID: String, fields: [String: String]) async throws(GatewayError) -> IncidentRecord {
        do { return IncidentRecord(try await session.update(table: table, sysID: sysID, fields: fields, returning: Self.writeAnswerFields)) } catch {
            throw GatewayError(error)
        }
    }

    func read(table: String, sysID: String, fields: [String]) async throws(GatewayError) -> IncidentRecord {
        do { return IncidentRecord(try await session.get(table: table, sysID: sysID, fields: fields)) } catch { throw GatewayError(error) }
    }

    func find(table: String, correlationID: String) async throws(GatewayError) -> IncidentRecord? {
        let page: ServiceNowPage
        do {
            page = try await session.queryPage(table: table, ServiceNowQuery(
                "correlation_id=\(correlationID)^ORDERBYsys_created_on", fields: ["sys_id", "number", "state", "sys_updated_on", "correlation_id"], pageSize: 1))
        } catch {
            throw GatewayError(error)
        }
        // Guard against an instance that ignored the condition (an unknown field returns all rows).
        return page.records.first { $0["correlation_id"] == correlationID }.map(IncidentRecord.init)
    }

    func prepare(_ payload: [String: String], lookups: [String: RecordLookup.Request], table: String) async throws(GatewayError)
        -> (payload: [String: String], warnings: [String]) {
        do { return try await validator.prepare(payload, lookups: lookups, table: table, customerID: customerID, session: session) } catch {
            throw GatewayError(error)
        }
    }

    func changed(table: String, sysIDs: [String], updatedSince: String?) async throws(GatewayError) -> (records: [IncidentRecord], requests: Int) {
        let query = "sys_idIN\(sysIDs.joined(separator: ","))\(updatedSince.map { "^sys_updated_on>=\($0)" } ?? "")^ORDERBYsys_updated_on"
        var records: [IncidentRecord] = []
        var offset = 0
        var requests = 0
        // Every page: no cap that silently drops rows. An instance that answers with a next
        // offset that does not move on, or an empty page, ends the listing.
        while true {
            let page: ServiceNowPage
            do {
                page = try await session.queryPage(table: table, ServiceNowQuery(query, fields: Self.listFields, pageSize: Self.pageSize), offset: offset)
            } catch {
                throw GatewayError(error)
            }
            requests += 1
            records += page.records.map(IncidentRecord.init)
            guard let next = page.nextOffset, next > offset, !page.records.isEmpty else { return (records, requests) }
            offset = next
        }
    }

    func journal(table: String, sysIDs: [String], createdSince: String, limit: Int) async throws(GatewayError) -> JournalListing {
        let query = "name=\(table)^element_idIN\(sysIDs.joined(separator: ","))^elementINcomments,work_notes^sys_created_on>=\(createdSince)"
            + "^ORDERBYsys_created_on^ORDERBYsys_id"
        var entries: [JournalEntry] = []
        var offset = 0
        var requests = 0
        while entries.count < limit {
            let page: ServiceNowPage
            do {
                page = try await session.queryPage(table: "sys_journal_field", ServiceNowQuery(query, fields: Self.journalFields, pageSize: Self.pageSize),
                                                   offset: offset)
            } catch {
                throw GatewayError(error)
            }
            requests += 1
            entries += page.records.map { record in
                JournalEntry(sysID: record.sysID, elementID: record.fields["element_id"]?.value ?? "", element: record.fields["element"]?.value ?? "",
                             value: record.fields["value"]?.value ?? "", createdBy: record.fields["sys_created_by"]?.value ?? "",
                             createdOn: record.fields["sys_created_on"]?.value ?? "")
            }
            guard let next = page.nextOffset, next > offset, !page.records.isEmpty else { return JournalListing(entries: entries, complete: true, requests: requests) }
            offset = next
        }
        return JournalListing(entries: entries, complete: false, requests: requests)
    }

    static let journalFields = ["sys_id", "element_id", "element", "value", "sys_created_by", "sys_created_on"]
    static let listFields = ["sys_id", "number", "state", "sys_updated_on", "sys_updated_by"]
    static let pageSize = 100

    func recordLink(table: String, sysID: String) -> String {
        instance.recordLink(table: table, sysID: sysID)
    }
}

extension IncidentRecord {
    init(_ record: ServiceNowRecord) {
        self.init(sysID: record.sysID, fields: record.fields.mapValues(\.value))
    }
}

extension GatewayError {
    /// What the rules need of a ServiceNow error.
    init(_ error: ServiceNowError) {
        let kind: Kind
        switch error.kind {
        case .notFound: kind = .notFound
        case .forbidden: kind = .forbidden
        default: kind = .other
        }
        let health: InstanceHealth
        switch error.kind {
        case .unreachable, .timeout, .serverError, .hibernating, .notProcessed, .tls: health = .failing
        case .rateLimited, .instanceBusy: health = .unknown
        default: health = .answering
        }
        self.init(kind: kind, code: "servicenow_\(error.kind.rawValue)", isRetryable: error.isRetryable,
                  parks: error.kind == .rateLimited || error.kind == .instanceBusy, health: health, retryAfter: error.retryAfter,
                  message: error.message, detail: error.detail, mentionsAssignmentGroup: error.mentionsAssignmentGroup, description: error.description)
    }
}
