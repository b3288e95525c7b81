
/// What the use cases need of one customer's ServiceNow instance. The ServiceNow adapter
/// implements it over a session (OAuth, the Table API, the metadata that prepares a payload);
/// nothing here knows HTTP.
public protocol IncidentGateway: Sendable {
    /// The instance, as circuits and logs name it.
    var instanceKey: String { get }
    /// Creates a record; the answer carries at least sys_id, number, state and sys_updated_on.
    func create(table: String, fields: [String: String]) async throws(GatewayError) -> IncidentRecord
    func update(table: String, sysID: String, fields: [String: String]) async throws(GatewayError) -> IncidentRecord
    func read(table: String, sysID: String, fields: [String]) async throws(GatewayError) -> IncidentRecord
    /// The incident an earlier attempt created with this correlation_id, if any.
    func find(table: String, correlationID: String) async throws(GatewayError) -> IncidentRecord?
    /// A mapping's payload made fit for the table: references by display name resolved to
    /// sys_ids, fields bound by a record lookup set to the one record found, over-long values
    /// cut; `warnings` names the fields left out (no record, or several).
    func prepare(_ payload: [String: String], lookups: [String: RecordLookup.Request], table: String) async throws(GatewayError)
        -> (payload: [String: String], warnings: [String])
    /// The records among `sysIDs` changed at or after `updatedSince` (all of them when nil),
    /// oldest change first, with `number`, `state`, `sys_updated_on` and `sys_updated_by`;
    /// every page, however many, and how many requests that took.
    func changed(table: String, sysIDs: [String], updatedSince: String?) async throws(GatewayError) -> (records: [IncidentRecord], requests: Int)
    /// Journal entries (`work_notes`, `comments`) of the records among `sysIDs` created at or
    /// after `createdSince`, oldest first: whole pages until at least `limit` entries were read.
    func journal(table: String, sysIDs: [String], createdSince: String, limit: Int) async throws(GatewayError) -> JournalListing
    /// The record's page, for people.
    func recordLink(table: String, sysID: String) -> String
}
