import Foundation
import Logging

/// Brings changes made in ServiceNow back to Ceburu: reads the incidents of open tickets, finds
/// state changes, and publishes `ticket.state_changed`.
///
/// Per integration, with as few requests as possible: batches of 100 sys_ids, only rows updated
/// since the stored watermark (less an overlap), only the needed fields, every page. One worker
/// at a time syncs an integration (a lease); integrations are synced concurrently, so a slow
/// instance delays only itself.
public struct IncidentSync: Sendable {
    public struct Settings: Sendable {
        /// How long a worker holds a customer's sync.
        public var lease: Duration
        /// Every Nth pass reads every open ticket, which also finds deleted incidents.
        public var fullEvery: Int
        /// How far before the watermark an incremental pass starts (ServiceNow stamps have
        /// one-second resolution, and clocks drift).
        public var overlap: Duration
        /// The Ceburu status an incident state stands for.
        public var alertStatusByState: [IncidentState: AlertStatus]
        /// The most journal entries one cycle takes per customer; the rest come next cycle.
        public var notesPerCycle: Int

        public init(lease: Duration, fullEvery: Int, overlap: Duration, alertStatusByState: [IncidentState: AlertStatus], notesPerCycle: Int = 500) {
            self.notesPerCycle = notesPerCycle
            self.lease = lease
            self.fullEvery = fullEvery
            self.overlap = overlap
            self.alertStatusByState = alertStatusByState
        }
    }

    let store: any SyncStore
    let directory: any IntegrationDirectory
    let status: StatusHandler
    let circuits: InstanceCircuits
    let settings: Settings
    let logger: Logger
    /// The notes sync's memory; nil leaves notes out.
    let notes: (any NoteStore)?

    static let batchSize = 100

    public init(store: any SyncStore, directory: any IntegrationDirectory, status: StatusHandler, circuits: InstanceCircuits, settings: Settings,
                notes: (any NoteStore)? = nil, logger: Logger) {
        self.notes = notes
        self.store = store
        self.directory = directory
        self.status = status
        self.circuits = circuits
        self.settings = settings
        self.logger = logger
    }

    public struct Report: Sendable, Equatable {
        public var customerID: String
        /// `ok`, `locked` (another worker has it), `circuit_open`, or `failed`.
        public var outcome: String
        public var listRequests = 0
        public var ticketsChecked = 0
        public var changes = 0
        public var deleted = 0
        public var reconciled = 0
        /// Alerts named in work notes of shared incidents that were left pending.
        public var groupNotes = 0
        /// Incidents of flapping alerts resolved after the alert stayed resolved for the quiet time.
        public var flappingResolved = 0
        /// Requests that read journal entries, and `ticket.commented` events queued.
        public var noteRequests = 0
        public var comments = 0
        /// More journal entries were waiting than a cycle takes.
        public var notesLeft = false
        /// Why the notes could not be read this cycle (the states were synced all the same).
        public var notesError: String?
        public var error: String?
    }

    /// One cycle over every integration.
    public func syncAll() async -> [Report] {
        let customers: [String]
        do {
            customers = try await store.customers()
        } catch {
            logger.warning("sync: cannot read integrations", metadata: ["error": "\(error)"])
            return []
        }
        return await withTaskGroup(of: Report.self) { group in
            var reports: [Report] = []
            var started = 0
            for customerID in customers {
                if started >= 8, let report = await group.next() { reports.append(report) }
                group.addTask { await sync(customerID: customerID) }
                started += 1
            }
            for await report in group { reports.append(report) }
            return reports.sorted { $0.customerID < $1.customerID }
        }
    }

    public func sync(customerID: String) async -> Report {
        var report = Report(customerID: customerID, outcome: "ok")
        var logger = self.logger
        logger[metadataKey: "customer_id"] = "\(customerID)"
        let lease: SyncLease
        do {
            guard let taken = try await store.takeLease(customerID: customerID, lease: settings.lease) else {
                report.outcome = "locked"
                return report
            }
            lease = taken
        } catch {
            report.outcome = "failed"
            report.error = "\(error)"
            return report
        }
        do {
            guard let integration = try await directory.connectFresh(customerID: customerID) else {
                try? await store.releaseLease(customerID: customerID, watermark: lease.watermark, error: "no integration")
                report.outcome = "failed"
                report.error = "no integration"
                return report
            }
            if circuits.state(integration.gateway.instanceKey) == .open {
                // The instance is failing; its sync waits with the rest of its work.
                report.outcome = "circuit_open"
                try? await store.releaseLease(customerID: customerID, watermark: lease.watermark, error: "circuit open")
                return report
            }
            report.reconciled = await reconcile(customerID, integration: integration, logger: logger)
            report.groupNotes = await writeGroupNotes(customerID, integration: integration, logger: logger)
            report.flappingResolved = await status.resolveQuietFlapping(customerID, resolved: integration, logger: logger)
            let full = lease.watermark == nil || lease.cycles % settings.fullEvery == 0
            let links = try await store.openLinks(customerID: customerID)
            let newWatermark = try await poll(customerID, links: links, integration: integration, since: full ? nil : lease.watermark, report: &report, logger: logger)
            do {
                try await syncNotes(customerID, integration: integration, links: links, full: full, report: &report, logger: logger)
            } catch {
                // Notes come second: a user who may not read sys_journal_field (read ACLs often
                // leave it to admins) or a failed read must not cost the states their progress.
                report.notesError = "\(error)"
                logger.warning("notes sync failed; the state sync went on", metadata: ["error": "\(error)"])
            }
            try await store.releaseLease(customerID: customerID, watermark: [lease.watermark, newWatermark].compactMap { $0 }.max(), error: nil)
        } catch {
            report.outcome = "failed"
            report.error = "\(error)"
            logger.warning("sync of the integration failed", metadata: ["error": "\(error)"])
            try? await store.releaseLease(customerID: customerID, watermark: lease.watermark, error: "\(error)")
        }
        return report
    }

    /// Applies status events that waited for a ticket and could not be applied at creation.
    private func reconcile(_ customerID: String, integration: ConnectedIntegration, logger: Logger) async -> Int {
        guard let alerts = try? await store.alertsWithWaitingStatus(customerID: customerID) else { return 0 }
        var applied = 0
        for alertID in alerts {
            guard let link = try? await status.tickets.link(customerID: customerID, alertID: alertID), link.status == .open else { continue }
            if (try? await status.applyWaiting(link: link, resolved: integration, trigger: nil, logger: logger)) != nil { applied += 1 }
        }
        return applied
    }

    /// Names the alerts left pending in their shared incidents' work notes: the last alerts of a
    /// storm (a note per cycle), or a note whose write failed.
    private func writeGroupNotes(_ customerID: String, integration: ConnectedIntegration, logger: Logger) async -> Int {
        guard let shared = status.shared, let groups = try? await shared.groupsWithPendingNotes(customerID: customerID) else { return 0 }
        var named = 0
        for (groupID, kind) in groups {
            named += await GroupNotes(shared: shared).write(groupID: groupID, kind: kind, minInterval: .zero, resolved: integration, logger: logger)
        }
        return named
    }

    /// One pass over the customer's open tickets, a batch at a time; the newest `sys_updated_on`
    /// seen, the next watermark. Without a watermark (a full pass) tickets missing from the
    /// answers are checked for deletion.
    private func poll(_ customerID: String, links: [TicketLink], integration: ConnectedIntegration, since watermark: String?,
                      report: inout Report, logger: Logger) async throws -> String? {
        report.ticketsChecked = links.count
        var maxSeen: String?
        let since = watermark.flatMap(InstanceTimestamp.parse).map { InstanceTimestamp.format($0.addingTimeInterval(-settings.overlap.seconds)) }
        for (table, tableLinks) in Dictionary(grouping: links, by: \.table) {
            for start in stride(from: 0, to: tableLinks.count, by: Self.batchSize) {
                let batch = Array(tableLinks[start..<min(start + Self.batchSize, tableLinks.count)])
                // Alerts that share an incident (a group, a storm) share its sys_id: asked once,
                // reported to each.
                let bySysID = Dictionary(grouping: batch.filter { $0.sysID != nil }, by: { $0.sysID ?? "" })
                let listing = try await integration.gateway.changed(table: table, sysIDs: bySysID.keys.sorted(), updatedSince: since)
                report.listRequests += listing.requests
                let newest = try await compare(listing.records, with: bySysID, integration: integration, report: &report, logger: logger)
                maxSeen = [maxSeen, newest].compactMap { $0 }.max()
                if watermark == nil {
                    let seen = Set(listing.records.map(\.sysID))
                    for (sysID, links) in bySysID where !seen.contains(sysID) {
                        report.deleted += try await checkDeleted(links, sysID: sysID, integration: integration, logger: logger)
                    }
                }
            }
        }
        return maxSeen
    }

    /// Publishes the state changes among `records` and refreshes the change stamps of the rest;
    /// the newest `sys_updated_on` among them.
    private func compare(_ records: [IncidentRecord], with bySysID: [String: [TicketLink]], integration: ConnectedIntegration,
                         report: inout Report, logger: Logger) async throws -> String? {
        var maxSeen: String?
        var touched: [(linkID: Int, sysUpdatedOn: String)] = []
        for record in records {
            guard let links = bySysID[record.sysID] else { continue }
            if let updated = record["sys_updated_on"], updated > (maxSeen ?? "") { maxSeen = updated }
            for link in links {
                if record["state"].map(IncidentState.init(rawValue:)) == link.state {
                    if let updated = record["sys_updated_on"], updated != link.sysUpdatedOn { touched.append((link.id, updated)) }
                } else if try await apply(record, to: link, integration: integration, logger: logger) {
                    report.changes += 1
                }
            }
        }
        // One write for the whole batch: a write per record made a 10,000-ticket cycle take minutes.
        if !touched.isEmpty { try await store.refreshStamps(touched) }
        return maxSeen
    }

    /// Records a state change made in ServiceNow; `true` if it was one (and was published).
    private func apply(_ record: IncidentRecord, to link: TicketLink, integration: ConnectedIntegration, logger: Logger) async throws -> Bool {
        guard let raw = record["state"], !raw.isEmpty, IncidentState(rawValue: raw) != link.state, let sysID = link.sysID else { return false }
        let state = IncidentState(rawValue: raw)
        let alertStatus = settings.alertStatusByState[state] ?? link.alertStatus
        let ticket = TicketEvent.Ticket(table: link.table, sysID: sysID, number: record["number"] ?? link.number ?? "",
                                        url: link.url ?? integration.gateway.recordLink(table: link.table, sysID: sysID), state: state.rawValue)
        let event = TicketEvent(type: .stateChanged, customerID: link.customerID, networkID: link.networkID, alertID: link.alertID,
                                causeEventID: nil, ticket: ticket, alertStatus: alertStatus)
        // Compare-and-set on the state we knew: a change is published once, even when two
        // workers read it; a link being written by the worker (claimed) is left alone, so the
        // worker's own updates are never echoed back.
        let changed = try await store.recordStateChange(link, to: state, sysUpdatedOn: record["sys_updated_on"], alertStatus: alertStatus, event: event)
        if changed {
            logger.info("state changed in ServiceNow", metadata: ["servicenow.number": "\(ticket.number)", "state": "\(link.state?.rawValue ?? "") → \(state)",
                                                                  "alert_status": "\(alertStatus)", "servicenow.updated_by": "\(record["sys_updated_by"] ?? "")"])
        }
        return changed
    }

    /// How many of `links` (which share the incident) were marked deleted.
    private func checkDeleted(_ links: [TicketLink], sysID: String, integration: ConnectedIntegration, logger: Logger) async throws -> Int {
        guard let first = links.first else { return 0 }
        do {
            _ = try await integration.gateway.read(table: first.table, sysID: sysID, fields: ["sys_id"])
            return 0
        } catch {
            guard error.kind == .notFound else { throw error }
        }
        var marked = 0
        for link in links where try await markDeleted(link, sysID: sysID, logger: logger) { marked += 1 }
        return marked
    }

    private func markDeleted(_ link: TicketLink, sysID: String, logger: Logger) async throws -> Bool {
        let ticket = TicketEvent.Ticket(table: link.table, sysID: sysID, number: link.number ?? "", url: link.url ?? "", state: IncidentState.deleted.rawValue)
        let event = TicketEvent(type: .stateChanged, customerID: link.customerID, networkID: link.networkID, alertID: link.alertID,
                                causeEventID: nil, ticket: ticket, alertStatus: nil)
        let marked = try await store.markDeleted(link, event: event)
        if marked { logger.warning("incident deleted in ServiceNow; no longer polled", metadata: ["servicenow.number": "\(link.number ?? "")"]) }
        return marked
    }
}
