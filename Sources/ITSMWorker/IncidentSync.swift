import Foundation
import ITSMCore
import ITSMPostgres
import ITSMServiceNow
import Logging
import Postgres
import ServiceNow

/// Brings changes made in ServiceNow back to Ceburu: reads the incidents of open tickets, finds
/// state changes, and publishes `ticket.state_changed`.
///
/// Per integration, with as few requests as possible: `sys_idIN` batches of 100, only rows
/// updated since the stored watermark (less an overlap), only the needed fields, every page. One
/// worker at a time syncs an integration (a lease in `sync_state`); integrations are synced
/// concurrently, so a slow instance delays only itself.
public struct IncidentSync: Sendable {
    let pool: PostgresPool
    let tickets: TicketStore
    let resolver: IntegrationResolver
    let directory: ServiceNowDirectory
    let status: StatusHandler
    let circuits: InstanceCircuits
    let configuration: WorkerConfiguration
    let logger: Logger

    static let batchSize = 100
    static let fields = ["sys_id", "number", "state", "sys_updated_on", "sys_updated_by"]

    public struct Report: Sendable, Equatable {
        public var customerID: String
        /// `ok`, `locked` (another worker has it), or `failed`.
        public var outcome: String
        public var listRequests = 0
        public var ticketsChecked = 0
        public var changes = 0
        public var deleted = 0
        public var reconciled = 0
        public var error: String?
    }

    /// One cycle over every integration.
    public func syncAll() async -> [Report] {
        let integrations: [StoredIntegration]
        do {
            integrations = try await resolver.configuration.integrations()
        } catch {
            logger.warning("sync: cannot read integrations", metadata: ["error": "\(error)"])
            return []
        }
        return await withTaskGroup(of: Report.self) { group in
            var reports: [Report] = []
            var started = 0
            for integration in integrations {
                if started >= 8, let report = await group.next() { reports.append(report) }
                group.addTask { await sync(integration) }
                started += 1
            }
            for await report in group { reports.append(report) }
            return reports.sorted { $0.customerID < $1.customerID }
        }
    }

    public func sync(_ integration: StoredIntegration) async -> Report {
        var report = Report(customerID: integration.customerID, outcome: "ok")
        var logger = self.logger
        logger[metadataKey: "customer_id"] = "\(integration.customerID)"
        let lease = configuration.requestTimeout * 20 + .seconds(30)
        let state: (watermark: String?, cycles: Int)
        do {
            guard let taken = try await takeLease(integration.customerID, lease: lease) else {
                report.outcome = "locked"
                return report
            }
            state = taken
        } catch {
            report.outcome = "failed"
            report.error = "\(error)"
            return report
        }
        do {
            let resolved = try resolver.resolve(integration)
            if circuits.state(resolved.instance.key) == .open {
                // The instance is failing; its sync waits with the rest of its work.
                report.outcome = "circuit_open"
                try? await releaseLease(integration.customerID, watermark: state.watermark, error: "circuit open")
                return report
            }
            report.reconciled = await reconcile(integration.customerID, resolved: resolved, logger: logger)
            let full = state.watermark == nil || state.cycles % configuration.syncFullEvery == 0
            let newWatermark = try await poll(integration.customerID, resolved: resolved, since: full ? nil : state.watermark,
                                              report: &report, logger: logger)
            try await releaseLease(integration.customerID, watermark: [state.watermark, newWatermark].compactMap { $0 }.max(), error: nil)
        } catch {
            report.outcome = "failed"
            report.error = "\(error)"
            logger.warning("sync of the integration failed", metadata: ["error": "\(error)"])
            try? await releaseLease(integration.customerID, watermark: state.watermark, error: "\(error)")
        }
        return report
    }

    /// Applies status events that waited for a ticket and could not be applied at creation.
    private func reconcile(_ customerID: String, resolved: IntegrationResolver.Resolved, logger: Logger) async -> Int {
        guard let alerts = try? await tickets.alertsWithWaitingStatus(customerID: customerID) else { return 0 }
        var applied = 0
        for alertID in alerts {
            guard let link = try? await tickets.link(customerID: customerID, alertID: alertID), link.status == .open else { continue }
            if (try? await status.applyWaiting(link: link, resolved: directory.connected(resolved), trigger: nil, logger: logger)) != nil { applied += 1 }
        }
        return applied
    }

    /// One pass over the customer's open tickets, a batch of sys_ids at a time; the newest
    /// `sys_updated_on` seen, the next watermark. Without a watermark (a full pass) tickets
    /// missing from the answers are checked for deletion.
    private func poll(_ customerID: String, resolved: IntegrationResolver.Resolved, since watermark: String?,
                      report: inout Report, logger: Logger) async throws -> String? {
        let links = try await pool.query("""
            SELECT * FROM ticket_links WHERE customer_id = $1 AND status = 'open' AND sys_id IS NOT NULL ORDER BY id
            """, [.text(customerID)]).map(TicketLink.init)
        report.ticketsChecked = links.count
        var maxSeen: String?
        var condition = ""
        if let watermark, let date = Self.parse(watermark) {
            condition = "^sys_updated_on>=\(Self.format(date.addingTimeInterval(-configuration.syncOverlap.seconds)))"
        }
        for (table, tableLinks) in Dictionary(grouping: links, by: \.table) {
            for start in stride(from: 0, to: tableLinks.count, by: Self.batchSize) {
                let batch = Array(tableLinks[start..<min(start + Self.batchSize, tableLinks.count)])
                let bySysID = Dictionary(batch.map { ($0.sysID!, $0) }, uniquingKeysWith: { first, _ in first })
                let query = "sys_idIN\(bySysID.keys.sorted().joined(separator: ","))\(condition)^ORDERBYsys_updated_on"
                let records = try await fetchAllPages(table: table, query: query, session: resolved.session, report: &report)
                let newest = try await compare(records, with: bySysID, resolved: resolved, report: &report, logger: logger)
                maxSeen = [maxSeen, newest].compactMap { $0 }.max()
                if watermark == nil {
                    let seen = Set(records.map(\.sysID))
                    for (sysID, link) in bySysID where !seen.contains(sysID) {
                        if try await checkDeleted(link, sysID: sysID, resolved: resolved, logger: logger) { report.deleted += 1 }
                    }
                }
            }
        }
        return maxSeen
    }

    /// Every page of a query, however many: no cap that silently drops rows. An instance that
    /// answers with a next offset that does not move on, or an empty page, ends the listing.
    private func fetchAllPages(table: String, query: String, session: ServiceNowSession, report: inout Report) async throws -> [ServiceNowRecord] {
        var records: [ServiceNowRecord] = []
        var offset = 0
        while true {
            let page = try await session.queryPage(table: table, ServiceNowQuery(query, fields: Self.fields, pageSize: Self.batchSize), offset: offset)
            report.listRequests += 1
            records += page.records
            guard let next = page.nextOffset, next > offset, !page.records.isEmpty else { return records }
            offset = next
        }
    }

    /// Publishes the state changes among `records` and refreshes the change stamps of the rest;
    /// the newest `sys_updated_on` among them.
    private func compare(_ records: [ServiceNowRecord], with bySysID: [String: TicketLink], resolved: IntegrationResolver.Resolved,
                         report: inout Report, logger: Logger) async throws -> String? {
        var maxSeen: String?
        var touched: [(id: Int, updatedOn: String)] = []
        for record in records {
            guard let link = bySysID[record.sysID] else { continue }
            if let updated = record["sys_updated_on"], updated > (maxSeen ?? "") { maxSeen = updated }
            if record["state"].map(IncidentState.init(rawValue:)) == link.state {
                if let updated = record["sys_updated_on"], updated != link.sysUpdatedOn { touched.append((link.id, updated)) }
            } else if try await apply(record, to: link, resolved: resolved, logger: logger) {
                report.changes += 1
            }
        }
        try await refreshStamps(touched)
        return maxSeen
    }

    /// Unchanged states only refresh sys_updated_on: one statement for the whole batch (a
    /// statement per record made a 10,000-ticket cycle take minutes).
    private func refreshStamps(_ touched: [(id: Int, updatedOn: String)]) async throws {
        guard !touched.isEmpty else { return }
        try await pool.execute("""
            UPDATE ticket_links AS l SET sys_updated_on = t.updated_on
            FROM unnest($1::bigint[], $2::text[]) AS t(id, updated_on) WHERE l.id = t.id
            """, [.text("{" + touched.map { String($0.id) }.joined(separator: ",") + "}"),
                  .text("{" + touched.map { "\"\($0.updatedOn)\"" }.joined(separator: ",") + "}")])
    }

    /// Records a state change made in ServiceNow; `true` if it was one (and was published).
    private func apply(_ record: ServiceNowRecord, to link: TicketLink, resolved: IntegrationResolver.Resolved, logger: Logger) async throws -> Bool {
        guard let raw = record["state"], !raw.isEmpty, IncidentState(rawValue: raw) != link.state else { return false }
        let state = IncidentState(rawValue: raw)
        let alertStatus = configuration.alertStatusByState[state] ?? link.alertStatus
        let ticket = TicketEvent.Ticket(table: link.table, sysID: link.sysID!, number: record["number"] ?? link.number ?? "",
                                        url: link.url ?? resolved.instance.recordLink(table: link.table, sysID: link.sysID!), state: state.rawValue)
        let event = TicketEvent(type: .stateChanged, customerID: link.customerID, networkID: link.networkID, alertID: link.alertID,
                                causeEventID: nil, ticket: ticket, alertStatus: alertStatus)
        let changed = try await pool.withTransaction { connection in
            // Compare-and-set on the state we knew: a change is published once, even when two
            // workers read it; a link being written by the worker (claimed) is left alone, so
            // the worker's own updates are never echoed back.
            let rows = try await connection.query("""
                UPDATE ticket_links SET state = $3, sys_updated_on = $4, alert_status = $5,
                    status = CASE WHEN $3 = ANY(string_to_array($6, ',')) THEN 'closed' ELSE status END,
                    resolved_at = CASE WHEN $5 = 'resolved' THEN COALESCE(resolved_at, now()) ELSE NULL END,
                    updated_at = now()
                WHERE id = $1 AND state IS NOT DISTINCT FROM $2 AND status = 'open'
                  AND (claimed_by IS NULL OR claim_expires_at < now())
                RETURNING id
                """, [.int(link.id), .text(link.state?.rawValue), .text(state.rawValue), .text(record["sys_updated_on"]), .text(alertStatus.rawValue),
                      .text(IncidentState.finalStates.map(\.rawValue).joined(separator: ","))])
            guard !rows.isEmpty else { return false }
            try await TicketStore.enqueue(connection, event)
            return true
        }
        if changed {
            logger.info("state changed in ServiceNow", metadata: ["servicenow.number": "\(ticket.number)", "state": "\(link.state?.rawValue ?? "") → \(state)",
                                                                  "alert_status": "\(alertStatus)", "servicenow.updated_by": "\(record["sys_updated_by"] ?? "")"])
        }
        return changed
    }

    private func checkDeleted(_ link: TicketLink, sysID: String, resolved: IntegrationResolver.Resolved, logger: Logger) async throws -> Bool {
        let missing: Bool
        do {
            _ = try await resolved.session.get(table: link.table, sysID: sysID, fields: ["sys_id"])
            missing = false
        } catch {
            guard error.kind == .notFound else { throw error }
            missing = true
        }
        guard missing else { return false }
        do {
            let ticket = TicketEvent.Ticket(table: link.table, sysID: sysID, number: link.number ?? "", url: link.url ?? "", state: IncidentState.deleted.rawValue)
            let event = TicketEvent(type: .stateChanged, customerID: link.customerID, networkID: link.networkID, alertID: link.alertID,
                                    causeEventID: nil, ticket: ticket, alertStatus: nil)
            let marked = try await pool.withTransaction { connection in
                let rows = try await connection.query("UPDATE ticket_links SET status = 'deleted', updated_at = now() WHERE id = $1 AND status = 'open' RETURNING id",
                                                      [.int(link.id)])
                guard !rows.isEmpty else { return false }
                try await TicketStore.enqueue(connection, event)
                return true
            }
            if marked { logger.warning("incident deleted in ServiceNow; no longer polled", metadata: ["servicenow.number": "\(link.number ?? "")"]) }
            return marked
        }
    }

    // MARK: Lease

    private func takeLease(_ customerID: String, lease: Duration) async throws -> (watermark: String?, cycles: Int)? {
        try await pool.execute("INSERT INTO sync_state (customer_id) VALUES ($1) ON CONFLICT (customer_id) DO NOTHING", [.text(customerID)])
        let rows = try await pool.query("""
            UPDATE sync_state SET locked_by = $2, locked_until = now() + make_interval(secs => $3), last_run_at = now(), cycles = cycles + 1
            WHERE customer_id = $1 AND (locked_until IS NULL OR locked_until < now())
            RETURNING watermark, cycles
            """, [.text(customerID), .text(configuration.workerID), .double(lease.seconds)])
        guard let row = rows.first else { return nil }
        // cycles counts from 1; the first cycle and every Nth after it are full passes.
        return (try row["watermark"].optionalString(), try row["cycles"].int() - 1)
    }

    private func releaseLease(_ customerID: String, watermark: String?, error: String?) async throws {
        try await pool.execute("""
            UPDATE sync_state SET locked_by = NULL, locked_until = NULL, watermark = $3,
                last_success_at = CASE WHEN $4::text IS NULL THEN now() ELSE last_success_at END, last_error = $4
            WHERE customer_id = $1 AND locked_by = $2
            """, [.text(customerID), .text(configuration.workerID), .text(watermark), .text(error)])
    }

    // MARK: ServiceNow's timestamps (UTC, one-second resolution)

    static func parse(_ text: String) -> Date? {
        try? serviceNowTime.parse(text)
    }

    static func format(_ date: Date) -> String {
        serviceNowTime.format(date)
    }

    /// `2026-11-29 03:00:00`, UTC.
    private static let serviceNowTime = Date.ISO8601FormatStyle(dateSeparator: .dash, dateTimeSeparator: .space, timeZone: .gmt)
        .year().month().day().time(includingFractionalSeconds: false)
}
