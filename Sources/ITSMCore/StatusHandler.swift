import Foundation
import Logging

/// Processes `alert.acknowledged` and `alert.resolved`, and applies status events that waited
/// for their ticket.
///
/// Whatever order events arrive in, the ticket ends in the state of the newest one by
/// `occurred_at`: every event is recorded, writes to one ticket are serialized by a short claim,
/// and only the newest waiting event is applied, and only if it is newer than the last applied.
public struct StatusHandler: Sendable {
    let tickets: any TicketRepository
    let directory: any IntegrationDirectory
    let workerID: String
    let claimLease: Duration
    let circuits: InstanceCircuits
    let clock: any WallClock
    /// Groups whose alerts share an incident; nil where incidents are never shared.
    let shared: (any SharedIncidents)?
    /// Flap detection's memory (nil: no detection) and its settings.
    let flaps: (any FlapTracking)?
    let flapping: FlapSettings

    public init(tickets: any TicketRepository, directory: any IntegrationDirectory, circuits: InstanceCircuits, workerID: String, claimLease: Duration,
                shared: (any SharedIncidents)? = nil, flaps: (any FlapTracking)? = nil, flapping: FlapSettings = .off,
                clock: any WallClock = SystemWallClock()) {
        self.clock = clock
        self.shared = shared
        self.flaps = flaps
        self.flapping = flapping
        self.circuits = circuits
        self.tickets = tickets
        self.directory = directory
        self.workerID = workerID
        self.claimLease = claimLease
    }

    public func handle(_ event: AlertEvent, logger: Logger) async throws -> ProcessingOutcome {
        var openLink: TicketLink?
        let admission = try await EventAdmission.check(event, directory: directory, tickets: tickets) {
            try await tickets.recordStatusEvent(event)
            let newest = try await tickets.link(customerID: event.customerID, alertID: event.alert.id)
            guard let link = newest, link.status == .open else {
                if let newest, newest.isBeingCreated(lease: claimLease, now: clock.now) {
                    // The creation's completion statement may have read the waiting events
                    // before this one was recorded: try again once the ticket exists.
                    return .busy
                }
                // No ticket yet: the event waits, and the completion of the ticket's creation
                // (which starts after this point) finds and applies it.
                try await tickets.markProcessed(event: event, outcome: "deferred")
                logger.info("status event kept until the alert's ticket exists")
                return .deferred
            }
            openLink = link
            return nil
        }
        guard case .admitted(let resolved, _) = admission, let link = openLink else {
            if case .settled(let outcome) = admission { return outcome }
            return .busy
        }
        let permit = try await circuits.enter(resolved.gateway.instanceKey)
        do {
            let outcome = try await applyWaiting(link: link, resolved: resolved, trigger: event, logger: logger)
            circuits.leave(permit, outcome: .success)
            return outcome
        } catch {
            circuits.leave(permit, outcome: InstanceCircuits.outcome(of: error))
            throw error
        }
    }

    /// Applies the newest waiting status event of the link's alert (if newer than the last one
    /// applied). `trigger` is the event whose message is being processed, marked processed in the
    /// same transaction.
    public func applyWaiting(link: TicketLink, resolved: ConnectedIntegration, trigger: AlertEvent?, logger: Logger) async throws -> ProcessingOutcome {
        guard let claimed = try await tickets.claimOpen(link: link, workerID: workerID, lease: claimLease) else { return .busy }
        if let trigger, try await tickets.isProcessed(trigger) {
            try await tickets.releaseClaim(link: claimed, workerID: workerID)
            return .duplicate
        }
        guard let waiting = try await tickets.latestWaitingStatus(customerID: claimed.customerID, alertID: claimed.alertID) else {
            // Applied meanwhile (by another delivery of a newer event).
            try await tickets.completeStatus(link: claimed, workerID: workerID, record: nil, alertStatus: nil, statusEventAt: nil, resolvedAt: nil,
                                             applied: nil, processed: trigger, outcome: "already_applied", outgoing: nil)
            return .duplicate
        }
        let alertStatus: AlertStatus
        switch TicketLifecycle.status(waiting.kind, occurredAt: waiting.occurredAt, on: claimed) {
        case .stale:
            try await tickets.completeStatus(link: claimed, workerID: workerID, record: nil, alertStatus: nil, statusEventAt: nil, resolvedAt: nil,
                                             applied: waiting.event, processed: trigger, outcome: "stale", outgoing: nil)
            logger.info("status event older than the last one applied; ignored")
            return .skipped(reason: "stale")
        case .ticketClosed:
            try await tickets.completeStatus(link: claimed, workerID: workerID, record: nil, alertStatus: nil, statusEventAt: nil, resolvedAt: nil,
                                             linkStatus: .closed, applied: waiting.event, processed: trigger, outcome: "ticket_closed", outgoing: nil)
            return .skipped(reason: "ticket_closed")
        case .apply(let status):
            alertStatus = status
        }
        guard let sysID = claimed.sysID else { return .busy }
        if alertStatus == .resolved, try await isFlapping(claimed) {
            // The incident stays open; the sync resolves it once the alert stays resolved.
            return try await recordWithoutWrite(alertStatus, link: claimed, sysID: sysID, waiting: waiting, trigger: trigger, outcome: "flapping",
                                                resolved: resolved, logger: logger)
        }
        if let groupID = claimed.groupID, let shared {
            // (Only a resolve needs the group's rule.)
            let resolve = alertStatus == .resolved ? try await shared.group(id: groupID)?.resolve ?? .last : nil
            if try await !writesSharedIncident(alertStatus, link: claimed, groupID: groupID, resolve: resolve, shared: shared) {
                return try await recordMember(alertStatus, link: claimed, sysID: sysID, groupID: groupID, resolve: resolve, shared: shared, waiting: waiting, trigger: trigger,
                                              resolved: resolved, logger: logger)
            }
        }
        let fields = Self.fields(for: waiting, settings: resolved.settings)
        let record: IncidentRecord
        do {
            record = try await resolved.gateway.update(table: claimed.table, sysID: sysID, fields: fields)
        } catch {
            return try await handleRefusal(error, link: claimed, waiting: waiting, trigger: trigger, resolved: resolved, logger: logger)
        }
        let state = (record["state"] ?? fields["state"]).map(IncidentState.init(rawValue:)) ?? claimed.state ?? ""
        let ticket = TicketEvent.Ticket(table: claimed.table, sysID: sysID, number: record["number"] ?? claimed.number ?? "",
                                        url: claimed.url ?? resolved.gateway.recordLink(table: claimed.table, sysID: sysID), state: state.rawValue)
        let outgoing = TicketEvent(type: .updated, customerID: claimed.customerID, networkID: claimed.networkID, alertID: claimed.alertID,
                                   causeEventID: waiting.eventID, ticket: ticket, alertStatus: alertStatus)
        try await tickets.completeStatus(link: claimed, workerID: workerID, record: WrittenRecord(state: state, sysUpdatedOn: record["sys_updated_on"]), alertStatus: alertStatus,
                                         statusEventAt: waiting.occurredAt, resolvedAt: .some(waiting.kind == .resolved ? clock.now : nil),
                                         applied: waiting.event, processed: trigger, outcome: "applied", outgoing: outgoing)
        if let groupID = claimed.groupID {
            try await shared?.shareState(groupID: groupID, excluding: claimed.id, record: WrittenRecord(state: state, sysUpdatedOn: record["sys_updated_on"]))
        }
        logger.info("ticket updated from Ceburu", metadata: ["servicenow.number": "\(ticket.number)", "state": "\(state)", "alert_status": "\(alertStatus)"])
        return .ticketUpdated(number: ticket.number)
    }

    /// Whether a member's status event changes the incident it shares: an acknowledgement only
    /// while the incident is new; a resolve as the group's policy says (`last`: when no other
    /// member's alert is still unresolved).
    private func writesSharedIncident(_ status: AlertStatus, link: TicketLink, groupID: Int, resolve: AlertGrouping.Resolve?,
                                      shared: any SharedIncidents) async throws -> Bool {
        switch status {
        case .open: return true
        case .acknowledged: return link.state == nil || link.state == .new
        case .resolved:
            switch resolve ?? .last {
            case .first: return true
            case .never: return false
            case .last: return try await shared.unresolvedMembers(groupID: groupID, excluding: link.id) == 0
            }
        }
    }

    /// Resolves the incidents of flapping alerts that have stayed resolved for the quiet time
    /// (the sync cycle's timer); how many.
    func resolveQuietFlapping(_ customerID: String, resolved: ConnectedIntegration, logger: Logger) async -> Int {
        guard let flaps, flapping.threshold > 0,
              let alerts = try? await flaps.quietAlerts(customerID: customerID, resolvedBefore: clock.now.addingTimeInterval(-flapping.quiet.seconds)) else {
            return 0
        }
        var done = 0
        for alertID in alerts {
            do {
                guard let link = try await tickets.link(customerID: customerID, alertID: alertID), link.status == .open,
                      let claimed = try await tickets.claimOpen(link: link, workerID: workerID, lease: claimLease), let sysID = claimed.sysID else { continue }
                guard claimed.alertStatus == .resolved else {
                    // It fired again meanwhile.
                    try await tickets.releaseClaim(link: claimed, workerID: workerID)
                    continue
                }
                let quiet = flapping.quiet.words
                let fields = [resolved.settings.notesField: "The flapping alert has stayed resolved for \(quiet); resolving.",
                              "state": resolved.settings.resolvedState.rawValue, "close_code": resolved.settings.closeCode,
                              "close_notes": "Resolved by Ceburu: the alert flapped, then stayed resolved for \(quiet)."]
                let record: IncidentRecord
                do {
                    record = try await resolved.gateway.update(table: claimed.table, sysID: sysID, fields: fields)
                } catch {
                    try await tickets.releaseClaim(link: claimed, workerID: workerID)
                    logger.warning("could not resolve a flapping alert's incident; the next cycle tries again", metadata: ["error": "\(error)", "alert_id": "\(alertID)"])
                    continue
                }
                let state = record["state"].map(IncidentState.init(rawValue:)) ?? resolved.settings.resolvedState
                let ticket = TicketEvent.Ticket(table: claimed.table, sysID: sysID, number: claimed.number ?? record["number"] ?? "",
                                                url: claimed.url ?? resolved.gateway.recordLink(table: claimed.table, sysID: sysID), state: state.rawValue)
                let outgoing = TicketEvent(type: .updated, customerID: customerID, networkID: claimed.networkID, alertID: alertID, causeEventID: nil,
                                           ticket: ticket, alertStatus: .resolved)
                try await tickets.completeStatus(link: claimed, workerID: workerID, record: WrittenRecord(state: state, sysUpdatedOn: record["sys_updated_on"]),
                                                 applied: nil, processed: nil, outcome: "flapping_quiet", outgoing: outgoing)
                try await flaps.endFlapping(customerID: customerID, alertID: alertID)
                logger.info("flapping alert stayed resolved; incident resolved", metadata: ["servicenow.number": "\(ticket.number)", "alert_id": "\(alertID)"])
                done += 1
            } catch {
                logger.warning("could not settle a flapping alert", metadata: ["error": "\(error)", "alert_id": "\(alertID)"])
            }
        }
        return done
    }

    /// Whether the link's alert is flapping (only an alert whose incident was reopened can be).
    private func isFlapping(_ link: TicketLink) async throws -> Bool {
        guard let flaps, flapping.threshold > 0, link.reopenCount > 0 else { return false }
        return try await flaps.isFlapping(customerID: link.customerID, alertID: link.alertID)
    }

    /// A status event that leaves the incident as it is (a shared incident's member, a flapping
    /// alert): recorded on the link and reported, without a call to the instance.
    private func recordWithoutWrite(_ alertStatus: AlertStatus, link: TicketLink, sysID: String, waiting: StoredStatusEvent, trigger: AlertEvent?,
                                    outcome: String, resolved: ConnectedIntegration, logger: Logger) async throws -> ProcessingOutcome {
        let ticket = TicketEvent.Ticket(table: link.table, sysID: sysID, number: link.number ?? "",
                                        url: link.url ?? resolved.gateway.recordLink(table: link.table, sysID: sysID), state: (link.state ?? .new).rawValue)
        let outgoing = TicketEvent(type: .updated, customerID: link.customerID, networkID: link.networkID, alertID: link.alertID,
                                   causeEventID: waiting.eventID, ticket: ticket, alertStatus: alertStatus)
        try await tickets.completeStatus(link: link, workerID: workerID, record: nil, alertStatus: alertStatus, statusEventAt: waiting.occurredAt,
                                         resolvedAt: .some(alertStatus == .resolved ? clock.now : nil), applied: waiting.event, processed: trigger,
                                         outcome: outcome, outgoing: outgoing)
        logger.info("status recorded; the incident is left as it is", metadata: ["servicenow.number": "\(ticket.number)", "alert_status": "\(alertStatus)",
                                                                                 "reason": "\(outcome)"])
        return .ticketUpdated(number: ticket.number)
    }

    /// A member's status event that leaves the shared incident as it is.
    private func recordMember(_ alertStatus: AlertStatus, link: TicketLink, sysID: String, groupID: Int, resolve: AlertGrouping.Resolve?,
                              shared: any SharedIncidents,
                              waiting: StoredStatusEvent, trigger: AlertEvent?, resolved: ConnectedIntegration, logger: Logger) async throws -> ProcessingOutcome {
        let outcome = try await recordWithoutWrite(alertStatus, link: link, sysID: sysID, waiting: waiting, trigger: trigger, outcome: "group_member",
                                                   resolved: resolved, logger: logger)
        // Two last members resolving at once each saw the other unresolved; whichever looks
        // again after both committed resolves the incident (both may: the write is idempotent).
        if alertStatus == .resolved, resolve == .last,
           try await shared.unresolvedMembers(groupID: groupID, excluding: link.id) == 0 {
            let fields = Self.fields(for: waiting, settings: resolved.settings)
            do {
                let record = try await resolved.gateway.update(table: link.table, sysID: sysID, fields: fields)
                let state = (record["state"] ?? fields["state"]).map(IncidentState.init(rawValue:)) ?? resolved.settings.resolvedState
                try await shared.shareState(groupID: groupID, excluding: nil, record: WrittenRecord(state: state, sysUpdatedOn: record["sys_updated_on"]))
            } catch let error as GatewayError {
                // The sync reports the incident's state; a later resolve tries again.
                logger.warning("could not resolve the shared incident after its last alert resolved", metadata: ["error": "\(error)"])
            }
        }
        return outcome
    }

    private func handleRefusal(_ error: GatewayError, link: TicketLink, waiting: StoredStatusEvent, trigger: AlertEvent?,
                               resolved: ConnectedIntegration, logger: Logger) async throws -> ProcessingOutcome {
        if error.isRetryable {
            try await tickets.releaseClaim(link: link, workerID: workerID)
            throw RetryableFailure(error)
        }
        if error.kind == .notFound {
            try await tickets.completeStatus(link: link, workerID: workerID, record: nil, alertStatus: nil, statusEventAt: nil, resolvedAt: nil,
                                             linkStatus: .deleted, applied: waiting.event, processed: trigger, outcome: "ticket_deleted", outgoing: nil)
            return .skipped(reason: "ticket_deleted")
        }
        if error.kind == .forbidden, let sysID = link.sysID,
           let current = try? await resolved.gateway.read(table: link.table, sysID: sysID, fields: ["state", "sys_updated_on"]),
           let state = current["state"].map(IncidentState.init(rawValue:)), state.isFinal {
            // Closed or canceled in ServiceNow meanwhile: not written to.
            try await tickets.completeStatus(link: link, workerID: workerID, record: WrittenRecord(state: state, sysUpdatedOn: current["sys_updated_on"]), alertStatus: nil,
                                             statusEventAt: nil, resolvedAt: nil, linkStatus: .closed, applied: waiting.event, processed: trigger,
                                             outcome: "ticket_closed", outgoing: nil)
            return .skipped(reason: "ticket_closed")
        }
        let failed = TicketEvent.failure(waiting.event, networkID: link.networkID, code: error.code, message: error.ownWords)
        try await tickets.completeStatus(link: link, workerID: workerID, record: nil, alertStatus: nil, statusEventAt: nil, resolvedAt: nil,
                                         applied: waiting.event, processed: trigger, outcome: "ticket_failed", outgoing: failed)
        logger.warning("ServiceNow refused the status change", metadata: ["error": "\(error)"])
        return .failed(code: error.code)
    }

    /// The fields a status event writes.
    static func fields(for status: StoredStatusEvent, settings: IntegrationSettings) -> [String: String] {
        let actor = status.actorName ?? status.actorEmail ?? "a Ceburu user"
        var note = status.kind == .resolved ? "Resolved in Ceburu by \(actor)" : "Acknowledged in Ceburu by \(actor)"
        if let text = status.note, !text.isEmpty { note += ": \(text)" }
        var fields = [settings.notesField: note]
        switch status.kind {
        case .resolved:
            fields["state"] = settings.resolvedState.rawValue
            fields["close_code"] = settings.closeCode
            let context: [String: Any] = ["actor": actor, "note": status.note ?? "", "alert": ["id": status.alertID],
                                          "occurred_at": AlertEvent.formatTimestamp(status.occurredAt)]
            let closeNotes = TextTemplate.render(settings.closeNotes, context: context).trimmingCharacters(in: .whitespacesAndNewlines)
            // The data policy refuses a resolve without close notes.
            fields["close_notes"] = closeNotes.isEmpty ? "Resolved in Ceburu" : closeNotes
        default:
            fields["state"] = settings.acknowledgedState.rawValue
        }
        return fields
    }
}
