import Coordination
import Foundation
import Logging

/// Processes `alert.raised`: exactly one ticket per (customer, alert), built from the network's
/// mapping; a re-fire of an alert with an open ticket adds a work note instead.
public struct AlertHandler: Sendable {
    /// Also where message handling records an event it gave up on.
    public let tickets: any TicketRepository
    let directory: any IntegrationDirectory
    let workerID: String
    let claimLease: Duration
    /// The longest one write to ServiceNow may take: a wait for a request slot plus a request.
    let writeWindow: Duration
    let reopenWindow: Duration
    let clock: any WallClock
    let status: StatusHandler
    let circuits: InstanceCircuits
    /// Runs right after the instance created an incident, before the commit: the crash tests'
    /// hook (the composition root sets it only in debug builds).
    let afterCreate: @Sendable () -> Void
    /// Groups and storm incidents; nil where incidents are never shared (the unit tests' twin).
    let shared: (any SharedIncidents)?
    let storm: StormProtection

    public init(tickets: any TicketRepository, directory: any IntegrationDirectory, status: StatusHandler, circuits: InstanceCircuits, workerID: String,
                claimLease: Duration, writeWindow: Duration, reopenWindow: Duration, shared: (any SharedIncidents)? = nil, storm: StormProtection = .off,
                afterCreate: @escaping @Sendable () -> Void = {}, clock: any WallClock = SystemWallClock()) {
        self.tickets = tickets
        self.shared = shared
        self.storm = storm
        self.directory = directory
        self.status = status
        self.circuits = circuits
        self.workerID = workerID
        self.claimLease = claimLease
        self.writeWindow = writeWindow
        self.reopenWindow = reopenWindow
        self.afterCreate = afterCreate
        self.clock = clock
    }

    public func handleRaised(_ event: AlertEvent, logger: Logger) async throws -> ProcessingOutcome {
        let resolved: ConnectedIntegration
        let stored: StoredMapping
        // (The claim tells a processed event; nothing else here writes before it.)
        switch try await EventAdmission.check(event, directory: directory, tickets: tickets, claimChecksProcessed: true) {
        case .settled(let outcome): return outcome
        case .admitted(let integration, let mapping): (resolved, stored) = (integration, mapping)
        }

        let permit = try await circuits.enter(resolved.gateway.instanceKey)
        do {
            let outcome: ProcessingOutcome
            let claimSent = ContinuousClock.now
            let claim: TicketClaim
            if let shared, let group = stored.mapping.groupClaim(for: event) {
                claim = try await shared.claim(event: event, table: stored.mapping.table, group: group, workerID: workerID, lease: claimLease)
            } else {
                claim = try await tickets.claim(event: event, table: stored.mapping.table, workerID: workerID, lease: claimLease)
            }
            switch claim {
            case .joined(let link, let group):
                logger.info("alert joined an incident another alert opened", metadata: [
                    "servicenow.number": "\(link.number ?? "")", "group.kind": "\(group.kind.rawValue)", "group.size": "\(group.size)"])
                if let shared {
                    await GroupNotes(shared: shared).write(groupID: group.id, kind: group.kind, minInterval: group.kind == .storm ? storm.noteInterval : .zero,
                                                           resolved: resolved, logger: logger)
                }
                outcome = .ticketLinked(number: link.number ?? "")
            case .busy:
                outcome = .busy
            case .duplicate:
                outcome = .duplicate
            case .open(let link):
                outcome = try await refire(link, event: event, mapping: stored.mapping, resolved: resolved, logger: logger)
            case .claimed(let link, let mustLookUp):
                outcome = try await create(link, claimSent: claimSent, mustLookUp: mustLookUp, event: event, mapping: stored.mapping, resolved: resolved, logger: logger)
            }
            circuits.leave(permit, outcome: .success)
            return outcome
        } catch {
            circuits.leave(permit, outcome: InstanceCircuits.outcome(of: error))
            throw error
        }
    }

    /// An alert with a ticket fired again: a work note on an open ticket; a resolved ticket is
    /// reopened within the reopen window; after it, or once ServiceNow closed or canceled the
    /// ticket, a new ticket is created that links the previous one.
    private func refire(_ link: TicketLink, event: AlertEvent, mapping: AlertMapping, resolved: ConnectedIntegration,
                        logger: Logger) async throws -> ProcessingOutcome {
        guard let claimed = try await tickets.claimOpen(link: link, workerID: workerID, lease: claimLease) else { return .busy }
        // A redelivery of the event that created this ticket passed the first check before that
        // commit; the commit is visible now that the claim is ours.
        if try await tickets.isProcessed(event) {
            try await tickets.releaseClaim(link: claimed, workerID: workerID)
            return .duplicate
        }
        switch TicketLifecycle.refire(claimed, now: clock.now, reopenWindow: reopenWindow) {
        case .replace: return try await replace(claimed, event: event, mapping: mapping, resolved: resolved, logger: logger)
        case .reopen:
            if let flaps = status.flaps, status.flapping.threshold > 0 {
                let cycle = try await flaps.recordCycle(customerID: claimed.customerID, alertID: claimed.alertID, settings: status.flapping, now: clock.now)
                // (An incident resolved while its alert flapped, by people or before a restart,
                // is reopened like any other.)
                if cycle.wasFlapping && claimed.state != .resolved {
                    return try await flapRefire(claimed, event: event, flaps: flaps, resolved: resolved, logger: logger)
                }
                if cycle.isFlapping {
                    return try await noteRefire(claimed, event: event, mapping: mapping, reopen: true, flapping: cycle, resolved: resolved, logger: logger)
                }
            }
            return try await noteRefire(claimed, event: event, mapping: mapping, reopen: true, resolved: resolved, logger: logger)
        case .addNote: return try await noteRefire(claimed, event: event, mapping: mapping, reopen: false, resolved: resolved, logger: logger)
        }
    }

    private func replace(_ link: TicketLink, event: AlertEvent, mapping: AlertMapping, resolved: ConnectedIntegration,
                         logger: Logger) async throws -> ProcessingOutcome {
        logger.info("the alert's previous ticket is closed or was resolved too long ago; creating a new one",
                    metadata: ["servicenow.number": "\(link.number ?? "")"])
        let claimSent = ContinuousClock.now
        switch try await tickets.supersede(link: link, event: event, table: mapping.table, workerID: workerID, lease: claimLease) {
        case .claimed(let fresh, let mustLookUp):
            return try await create(fresh, claimSent: claimSent, mustLookUp: mustLookUp, event: event, mapping: mapping, resolved: resolved, logger: logger)
        case .open, .busy, .joined:
            // (A replacement claims without a group, so it never joins.)
            return .busy
        case .duplicate:
            return .duplicate
        }
    }

    private func create(_ link: TicketLink, claimSent: ContinuousClock.Instant, mustLookUp: Bool, event: AlertEvent, mapping: AlertMapping,
                        resolved: ConnectedIntegration, logger: Logger) async throws -> ProcessingOutcome {
        var logger = logger
        logger[metadataKey: "ticket.correlation_id"] = "\(link.correlationID)"
        let gateway = resolved.gateway
        var warnings = link.warnings
        // Every write to the instance starts on a claim that outlasts it (see claimCovers), so a
        // takeover can only start after the write has ended. A claim's age counts from before it
        // was sent, so it is never underestimated.
        let tickets = self.tickets, workerID = self.workerID, lease = self.claimLease, writeWindow = self.writeWindow
        var claimedAt = claimSent
        func renew() async throws {
            if TicketLifecycle.claimCovers(writeWindow: writeWindow, lease: lease, age: ContinuousClock.now - claimedAt) { return }
            let sent = ContinuousClock.now
            guard try await tickets.renewClaim(link: link, workerID: workerID, lease: lease) else {
                throw RetryableFailure(reason: LostClaim().description)
            }
            claimedAt = sent
        }
        let record: IncidentRecord
        do {
            if mustLookUp, let existing = try await gateway.find(table: link.table, correlationID: link.correlationID) {
                logger.info("found the incident an earlier attempt created", metadata: ["servicenow.sys_id": "\(existing.sysID)"])
                record = existing
            } else {
                var payload = mapping.render(event)
                if link.groupKind == .storm {
                    // The mapping's other fields (group, category, impact) still route it.
                    payload["short_description"] = "Alert storm on network \(event.networkID)"
                    payload["description"] = "Ceburu opened this incident instead of one per alert: network \(event.networkID) raised more than "
                        + "\(storm.maxNewPerMinute) new incidents in a minute. Its further alerts join this incident and are named in its work notes.\n\n"
                        + "First alert: \(event.alert.id) (\(event.alert.type))\(event.alert.title.map { ": \($0)" } ?? "")"
                }
                if let previousID = link.previousLinkID, let previous = try? await tickets.link(id: previousID), let number = previous.number {
                    let reference = "Previous ticket for this alert: \(number)\(previous.url.map { " \($0)" } ?? "")"
                    payload["description"] = [payload["description"], reference].compactMap { $0 }.joined(separator: "\n\n")
                }
                // References by display name become sys_ids; over-long values are cut with a marker.
                let prepared = try await gateway.prepare(payload, lookups: mapping.recordLookups(event), table: link.table)
                payload = prepared.payload
                for field in prepared.warnings where !warnings.contains(field) {
                    logger.warning("a reference field's value or a record lookup matches no single record; left out", metadata: ["field": "\(field)"])
                    warnings.append(field)
                }
                payload["correlation_id"] = link.correlationID
                payload["correlation_display"] = "Ceburu alert \(event.alert.id)"
                try await renew()
                var created: IncidentRecord?
                do {
                    created = try await gateway.create(table: link.table, fields: payload)
                } catch {
                    guard error.mentionsAssignmentGroup && payload["assignment_group"] != nil else { throw error }
                    logger.warning("ServiceNow rejected assignment_group; creating the incident without it",
                                   metadata: ["servicenow.message": "\(error.message ?? "")", "servicenow.detail": "\(error.detail ?? "")"])
                    payload.removeValue(forKey: "assignment_group")
                    if !warnings.contains("assignment_group") { warnings.append("assignment_group") }
                }
                if let created {
                    record = created
                } else {
                    try await renew()
                    record = try await gateway.create(table: link.table, fields: payload)
                }
            }
        } catch let error as GatewayError {
            // (A lost claim or a database error is not the instance's: it propagates as it is.)
            if error.isRetryable {
                try await tickets.release(link: link, workerID: workerID)
                throw RetryableFailure(error)
            }
            try await tickets.failCreation(link: link, event: event, outgoing: TicketEvent.failure(event, code: error.code, message: error.ownWords))
            logger.error("ServiceNow refused the incident", metadata: ["error": "\(error)"])
            return .failed(code: error.code)
        }
        afterCreate()
        let ticket = TicketEvent.Ticket(table: link.table, sysID: record.sysID, number: record["number"] ?? "",
                                        url: gateway.recordLink(table: link.table, sysID: record.sysID), state: record["state"] ?? IncidentState.new.rawValue)
        let group = link.groupKind.map { kind in
            TicketEvent.Group(key: kind == .storm ? event.networkID : mapping.groupClaim(for: event)?.key ?? "", size: 1)
        }
        let outgoing = TicketEvent(type: .created, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                   causeEventID: event.eventID, ticket: ticket, alertStatus: .open, warnings: warnings, group: group)
        let created: (link: TicketLink, statusWaiting: Bool)
        do {
            created = try await tickets.completeCreation(link: link, workerID: workerID, ticket: ticket, sysUpdatedOn: record["sys_updated_on"],
                                                         warnings: warnings, event: event, outgoing: outgoing)
        } catch let lost as LostClaim {
            throw RetryableFailure(reason: lost.description)
        }
        logger.info("incident created", metadata: ["servicenow.number": "\(ticket.number)", "servicenow.sys_id": "\(ticket.sysID)"])
        if created.statusWaiting {
            await applyWaitingStatus(created.link, resolved: resolved, logger: logger)
        }
        return .ticketCreated(number: ticket.number)
    }

    /// After a write to a ticket: a status event that waited for it (it arrived before the
    /// ticket, or while this worker held the ticket) is applied now. The holder of a ticket's
    /// claim is usually done within moments, so a busy claim is retried briefly; anything left
    /// is applied by the sync loop's reconciliation.
    private func applyWaitingStatus(_ link: TicketLink, resolved: ConnectedIntegration, logger: Logger) async {
        let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        for attempt in 1...10 {
            do {
                guard try await tickets.latestWaitingStatus(customerID: link.customerID, alertID: link.alertID) != nil,
                      let current = try await tickets.link(id: link.id), current.status == .open else { return }
                guard try await status.applyWaiting(link: current, resolved: resolved, trigger: nil, logger: logger) == .busy else { return }
            } catch {
                logger.warning("could not apply the waiting status event yet", metadata: ["error": "\(error)"])
                return
            }
            try? await Task.sleep(for: backoff.delay(afterFailures: attempt))
        }
    }

    /// A flapping alert fired again: its incident was left open, so nothing is written but a
    /// summary note once per flap window.
    private func flapRefire(_ link: TicketLink, event: AlertEvent, flaps: any FlapTracking, resolved: ConnectedIntegration,
                            logger: Logger) async throws -> ProcessingOutcome {
        guard let sysID = link.sysID else {
            try await tickets.releaseClaim(link: link, workerID: workerID)
            return .busy
        }
        var record: WrittenRecord?
        if let fires = try await flaps.takeSummary(customerID: link.customerID, alertID: link.alertID, every: status.flapping.window, now: clock.now) {
            let note = "The alert is still flapping: it fired again \(fires) time(s) since the last note, most recently at "
                + "\(AlertEvent.formatTimestamp(event.occurredAt)). The incident stays open until the alert stays resolved for "
                + "\(status.flapping.quiet.words)."
            do {
                let written = try await resolved.gateway.update(table: link.table, sysID: sysID, fields: [resolved.settings.notesField: note])
                record = WrittenRecord(state: written["state"].map(IncidentState.init(rawValue:)) ?? link.state ?? .inProgress,
                                       sysUpdatedOn: written["sys_updated_on"])
            } catch {
                // A summary is worth no retry: the next one covers these fires too.
                logger.warning("could not write the flapping summary note", metadata: ["error": "\(error)"])
            }
        }
        let ticket = TicketEvent.Ticket(table: link.table, sysID: sysID, number: link.number ?? "",
                                        url: link.url ?? resolved.gateway.recordLink(table: link.table, sysID: sysID),
                                        state: (record?.state ?? link.state ?? .inProgress).rawValue)
        let outgoing = TicketEvent(type: .updated, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                   causeEventID: event.eventID, ticket: ticket, alertStatus: .open)
        try await tickets.completeStatus(link: link, workerID: workerID, record: record, alertStatus: .open, statusEventAt: nil, resolvedAt: .some(nil),
                                         applied: nil, processed: event, outcome: "flapping", outgoing: outgoing)
        logger.info("flapping alert fired again; its incident stays open", metadata: ["servicenow.number": "\(ticket.number)"])
        return .ticketUpdated(number: ticket.number)
    }

    private func noteRefire(_ link: TicketLink, event: AlertEvent, mapping: AlertMapping, reopen: Bool, flapping: FlapSettings.Cycle? = nil,
                            resolved: ConnectedIntegration, logger: Logger) async throws -> ProcessingOutcome {
        guard let sysID = link.sysID else {
            try await tickets.releaseClaim(link: link, workerID: workerID)
            return .busy
        }
        var note = "Alert fired again at \(AlertEvent.formatTimestamp(event.occurredAt))"
        if let title = event.alert.title { note += ": \(title)" }
        if let severity = event.alert.severity { note += " (\(severity.rawValue))" }
        var fields = [resolved.settings.notesField: note]
        if reopen {
            fields["state"] = IncidentState.inProgress.rawValue
            fields[resolved.settings.notesField] = note + ". Reopened by Ceburu."
        }
        if let flapping {
            fields[resolved.settings.notesField] = note + ". Reopened by Ceburu: the alert is flapping (\(flapping.cycles) fire/resolve cycles within "
                + "\(status.flapping.window.words)). The incident now stays open, with a summary note at most every "
                + "\(status.flapping.window.words), and is resolved once the alert stays resolved for \(status.flapping.quiet.words)."
        }
        let record: IncidentRecord
        do {
            record = try await resolved.gateway.update(table: link.table, sysID: sysID, fields: fields)
        } catch {
            if error.isRetryable {
                try await tickets.releaseClaim(link: link, workerID: workerID)
                throw RetryableFailure(error)
            }
            if error.kind == .forbidden || error.kind == .notFound {
                // Closed, canceled or deleted in ServiceNow since we last looked: a new ticket.
                let current = try? await resolved.gateway.read(table: link.table, sysID: sysID, fields: ["state"])
                let currentState = current.flatMap { $0["state"] }.map(IncidentState.init(rawValue:))
                if TicketLifecycle.refusedWriteEndsTicket(deleted: error.kind == .notFound, currentState: currentState) {
                    return try await replace(link, event: event, mapping: mapping, resolved: resolved, logger: logger)
                }
            }
            try await tickets.completeStatus(link: link, workerID: workerID, record: nil, alertStatus: nil, statusEventAt: nil, resolvedAt: nil,
                                             applied: nil, processed: event, outcome: "ticket_failed",
                                             outgoing: TicketEvent.failure(event, code: error.code, message: error.ownWords))
            return .failed(code: error.code)
        }
        let state = record["state"].map(IncidentState.init(rawValue:)) ?? link.state ?? .new
        let alertStatus: AlertStatus = reopen ? .open : link.alertStatus
        let ticket = TicketEvent.Ticket(table: link.table, sysID: sysID, number: link.number ?? record["number"] ?? "",
                                        url: link.url ?? resolved.gateway.recordLink(table: link.table, sysID: sysID), state: state.rawValue)
        let outgoing = TicketEvent(type: .updated, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                   causeEventID: event.eventID, ticket: ticket, alertStatus: alertStatus, warnings: [])
        try await tickets.completeStatus(link: link, workerID: workerID, record: WrittenRecord(state: state, sysUpdatedOn: record["sys_updated_on"]), alertStatus: alertStatus,
                                         statusEventAt: nil, resolvedAt: reopen ? .some(nil) : nil, reopened: reopen, applied: nil, processed: event,
                                         outcome: reopen ? "reopened" : "refire_noted", outgoing: outgoing)
        logger.info(reopen ? "alert fired again; ticket reopened" : "alert fired again; work note added", metadata: ["servicenow.number": "\(ticket.number)"])
        await applyWaitingStatus(link, resolved: resolved, logger: logger)
        return .ticketUpdated(number: ticket.number)
    }
}
