import Coordination
import Foundation
import ITSMCore
import Logging
import ServiceNow

/// Processes `alert.raised`: exactly one ticket per (customer, alert), built from the network's
/// mapping; a re-fire of an alert with an open ticket adds a work note instead.
public struct AlertHandler: Sendable {
    let tickets: any TicketRepository
    let resolver: IntegrationResolver
    let workerID: String
    let claimLease: Duration
    /// The longest one write to ServiceNow may take: a wait for a request slot plus a request.
    let writeWindow: Duration
    let reopenWindow: Duration
    let clock: any WallClock
    let status: StatusHandler
    let validator: MappingValidator
    let circuits: InstanceCircuits
    /// Test hook: die right after ServiceNow created the incident, before the commit. Read only
    /// in debug builds (the tests'); a release build has no such switch.
    let crashAfterCreate: Bool

    public init(tickets: any TicketRepository, resolver: IntegrationResolver, status: StatusHandler, validator: MappingValidator, circuits: InstanceCircuits, workerID: String,
                claimLease: Duration, writeWindow: Duration, reopenWindow: Duration,
                crashAfterCreate: Bool = false, clock: any WallClock = SystemWallClock()) {
        self.tickets = tickets
        self.resolver = resolver
        self.status = status
        self.validator = validator
        self.circuits = circuits
        self.workerID = workerID
        self.claimLease = claimLease
        self.writeWindow = writeWindow
        self.reopenWindow = reopenWindow
        self.crashAfterCreate = crashAfterCreate
        self.clock = clock
    }

    public func handleRaised(_ event: AlertEvent, logger: Logger) async throws -> ProcessingOutcome {
        let resolved: IntegrationResolver.Resolved
        let stored: StoredMapping
        switch try await EventAdmission.check(event, resolver: resolver, tickets: tickets) {
        case .settled(let outcome): return outcome
        case .admitted(let integration, let mapping): (resolved, stored) = (integration, mapping)
        }

        let permit = try await circuits.enter(resolved.instance.key)
        do {
            let outcome: ProcessingOutcome
            let claimSent = ContinuousClock.now
            switch try await tickets.claim(event: event, table: stored.mapping.table, workerID: workerID, lease: claimLease) {
            case .busy:
                outcome = .busy
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
    private func refire(_ link: TicketLink, event: AlertEvent, mapping: AlertMapping, resolved: IntegrationResolver.Resolved,
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
        case .reopen: return try await noteRefire(claimed, event: event, mapping: mapping, reopen: true, resolved: resolved, logger: logger)
        case .addNote: return try await noteRefire(claimed, event: event, mapping: mapping, reopen: false, resolved: resolved, logger: logger)
        }
    }

    private func replace(_ link: TicketLink, event: AlertEvent, mapping: AlertMapping, resolved: IntegrationResolver.Resolved,
                         logger: Logger) async throws -> ProcessingOutcome {
        logger.info("the alert's previous ticket is closed or was resolved too long ago; creating a new one",
                    metadata: ["servicenow.number": "\(link.number ?? "")"])
        let claimSent = ContinuousClock.now
        switch try await tickets.supersede(link: link, event: event, table: mapping.table, workerID: workerID, lease: claimLease) {
        case .claimed(let fresh, let mustLookUp):
            return try await create(fresh, claimSent: claimSent, mustLookUp: mustLookUp, event: event, mapping: mapping, resolved: resolved, logger: logger)
        case .open, .busy:
            return .busy
        }
    }

    private func create(_ link: TicketLink, claimSent: ContinuousClock.Instant, mustLookUp: Bool, event: AlertEvent, mapping: AlertMapping,
                        resolved: IntegrationResolver.Resolved, logger: Logger) async throws -> ProcessingOutcome {
        var logger = logger
        logger[metadataKey: "ticket.correlation_id"] = "\(link.correlationID)"
        let session = resolved.session
        var warnings = link.warnings
        // Every write to ServiceNow starts on a claim that outlasts it (see claimCovers), so a
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
        let record: ServiceNowRecord
        do {
            if mustLookUp, let existing = try await findByCorrelation(link, session: session) {
                logger.info("found the incident an earlier attempt created", metadata: ["servicenow.sys_id": "\(existing.sysID)"])
                record = existing
            } else {
                var payload = mapping.render(event)
                if let previousID = link.previousLinkID, let previous = try? await tickets.link(id: previousID), let number = previous.number {
                    let reference = "Previous ticket for this alert: \(number)\(previous.url.map { " \($0)" } ?? "")"
                    payload["description"] = [payload["description"], reference].compactMap { $0 }.joined(separator: "\n\n")
                }
                // References by display name become sys_ids; over-long values are cut with a marker.
                let prepared = try await validator.prepare(payload, table: link.table, customerID: event.customerID, session: session)
                payload = prepared.payload
                for field in prepared.warnings where !warnings.contains(field) {
                    logger.warning("a reference field's value matches no single record; left out", metadata: ["field": "\(field)"])
                    warnings.append(field)
                }
                payload["correlation_id"] = link.correlationID
                payload["correlation_display"] = "Ceburu alert \(event.alert.id)"
                try await renew()
                var created: ServiceNowRecord?
                do {
                    created = try await session.create(table: link.table, fields: payload, returning: TicketLink.writeAnswerFields)
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
                    record = try await session.create(table: link.table, fields: payload, returning: TicketLink.writeAnswerFields)
                }
            }
        } catch let error as ServiceNowError {
            // (A lost claim or a database error is not ServiceNow's: it propagates as it is.)
            if error.isRetryable {
                try await tickets.release(link: link, workerID: workerID)
                throw RetryableFailure(error)
            }
            try await tickets.failCreation(link: link, event: event, outgoing: failure(event, code: "servicenow_\(error.kind.rawValue)", message: Self.message(error)))
            logger.error("ServiceNow refused the incident", metadata: ["error": "\(error)"])
            return .failed(code: "servicenow_\(error.kind.rawValue)")
        }
        if crashAfterCreate {
            logger.critical("test hook: exiting between the ServiceNow create and the commit")
            kill(getpid(), SIGKILL)
        }
        let ticket = TicketEvent.Ticket(table: link.table, sysID: record.sysID, number: record["number"] ?? "",
                                        url: resolved.instance.recordLink(table: link.table, sysID: record.sysID), state: record["state"] ?? IncidentState.new.rawValue)
        let outgoing = TicketEvent(type: .created, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                   causeEventID: event.eventID, ticket: ticket, alertStatus: .open, warnings: warnings)
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

    static var crashHookRequested: Bool {
        #if DEBUG
        ProcessInfo.processInfo.environment["ITSM_TEST_CRASH_AFTER_CREATE"] == "1"
        #else
        false
        #endif
    }

    /// After a write to a ticket: a status event that waited for it (it arrived before the
    /// ticket, or while this worker held the ticket) is applied now. The holder of a ticket's
    /// claim is usually done within moments, so a busy claim is retried briefly; anything left
    /// is applied by the sync loop's reconciliation.
    private func applyWaitingStatus(_ link: TicketLink, resolved: IntegrationResolver.Resolved, logger: Logger) async {
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

    private func findByCorrelation(_ link: TicketLink, session: ServiceNowSession) async throws(ServiceNowError) -> ServiceNowRecord? {
        let page = try await session.queryPage(table: link.table, ServiceNowQuery(
            "correlation_id=\(link.correlationID)^ORDERBYsys_created_on", fields: ["sys_id", "number", "state", "sys_updated_on", "correlation_id"], pageSize: 1))
        // Guard against an instance that ignored the condition (an unknown field returns all rows).
        return page.records.first { $0["correlation_id"] == link.correlationID }
    }

    private func noteRefire(_ link: TicketLink, event: AlertEvent, mapping: AlertMapping, reopen: Bool, resolved: IntegrationResolver.Resolved,
                            logger: Logger) async throws -> ProcessingOutcome {
        guard let sysID = link.sysID else {
            try await tickets.releaseClaim(link: link, workerID: workerID)
            return .busy
        }
        var note = "Alert fired again at \(AlertEvent.formatTimestamp(event.occurredAt))"
        if let title = event.alert.title { note += ": \(title)" }
        if let severity = event.alert.severity { note += " (\(severity.rawValue))" }
        var fields = [resolved.integration.settings.notesField: note]
        if reopen {
            fields["state"] = IncidentState.inProgress.rawValue
            fields[resolved.integration.settings.notesField] = note + ". Reopened by Ceburu."
        }
        let record: ServiceNowRecord
        do {
            record = try await resolved.session.update(table: link.table, sysID: sysID, fields: fields, returning: TicketLink.writeAnswerFields)
        } catch {
            if error.isRetryable {
                try await tickets.releaseClaim(link: link, workerID: workerID)
                throw RetryableFailure(error)
            }
            if error.kind == .forbidden || error.kind == .notFound {
                // Closed, canceled or deleted in ServiceNow since we last looked: a new ticket.
                let current = try? await resolved.session.get(table: link.table, sysID: sysID, fields: ["state"])
                let currentState = current.flatMap { $0["state"] }.map(IncidentState.init(rawValue:))
                if TicketLifecycle.refusedWriteEndsTicket(deleted: error.kind == .notFound, currentState: currentState) {
                    return try await replace(link, event: event, mapping: mapping, resolved: resolved, logger: logger)
                }
            }
            try await tickets.completeStatus(link: link, workerID: workerID, record: nil, alertStatus: nil, statusEventAt: nil, resolvedAt: nil,
                                             applied: nil, processed: event, outcome: "ticket_failed",
                                             outgoing: failure(event, code: "servicenow_\(error.kind.rawValue)", message: Self.message(error)))
            return .failed(code: "servicenow_\(error.kind.rawValue)")
        }
        let state = record["state"].map(IncidentState.init(rawValue:)) ?? link.state ?? .new
        let alertStatus: AlertStatus = reopen ? .open : link.alertStatus
        let ticket = TicketEvent.Ticket(table: link.table, sysID: sysID, number: link.number ?? record["number"] ?? "",
                                        url: link.url ?? resolved.instance.recordLink(table: link.table, sysID: sysID), state: state.rawValue)
        let outgoing = TicketEvent(type: .updated, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                   causeEventID: event.eventID, ticket: ticket, alertStatus: alertStatus, warnings: [])
        try await tickets.completeStatus(link: link, workerID: workerID, record: WrittenRecord(state: state, sysUpdatedOn: record["sys_updated_on"]), alertStatus: alertStatus,
                                         statusEventAt: nil, resolvedAt: reopen ? .some(nil) : nil, reopened: reopen, applied: nil, processed: event,
                                         outcome: reopen ? "reopened" : "refire_noted", outgoing: outgoing)
        logger.info(reopen ? "alert fired again; ticket reopened" : "alert fired again; work note added", metadata: ["servicenow.number": "\(ticket.number)"])
        await applyWaitingStatus(link, resolved: resolved, logger: logger)
        return .ticketUpdated(number: ticket.number)
    }

    /// `ticket.failed` for an event.
    func failure(_ event: AlertEvent, code: String, message: String) -> TicketEvent {
        TicketEvent.failure(event, code: code, message: message)
    }

    /// ServiceNow's own words, for the event.
    static func message(_ error: ServiceNowError) -> String {
        [error.message, error.detail].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ").nonEmpty ?? error.description
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
