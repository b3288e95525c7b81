import Foundation
import ITSMCore
import Logging
import ServiceNow

/// Processes `alert.raised`: exactly one ticket per (customer, alert), built from the network's
/// mapping; a re-fire of an alert with an open ticket adds a work note instead.
public struct AlertHandler: Sendable {
    let tickets: TicketStore
    let resolver: IntegrationResolver
    let workerID: String
    let claimLease: Duration
    let logger: Logger
    /// Test hook: die right after ServiceNow created the incident, before the commit.
    let crashAfterCreate: Bool

    public init(tickets: TicketStore, resolver: IntegrationResolver, workerID: String, claimLease: Duration, logger: Logger,
                crashAfterCreate: Bool = ProcessInfo.processInfo.environment["ITSM_TEST_CRASH_AFTER_CREATE"] == "1") {
        self.tickets = tickets
        self.resolver = resolver
        self.workerID = workerID
        self.claimLease = claimLease
        self.logger = logger
        self.crashAfterCreate = crashAfterCreate
    }

    public func handleRaised(_ event: AlertEvent, logger: Logger) async throws -> ProcessingOutcome {
        if try await tickets.isProcessed(eventID: event.eventID) { return .duplicate }
        guard let integration = try await resolver.configuration.integration(customerID: event.customerID) else {
            return .skipped(reason: "no_integration")
        }
        guard let stored = try await resolver.configuration.mapping(customerID: event.customerID, networkID: event.networkID, alertType: event.alert.type) else {
            return .skipped(reason: "no_mapping")
        }
        let resolved: IntegrationResolver.Resolved
        do {
            resolved = try resolver.resolve(integration)
        } catch {
            try await tickets.markProcessed(event: event, outcome: "ticket_failed",
                                            outgoing: failure(event, code: error.code, message: error.message))
            return .failed(code: error.code)
        }

        switch try await tickets.claim(event: event, table: stored.mapping.table, workerID: workerID, lease: claimLease) {
        case .busy:
            return .busy
        case .open(let link):
            return try await noteRefire(link, event: event, resolved: resolved, logger: logger)
        case .claimed(let link, let mustLookUp):
            return try await create(link, mustLookUp: mustLookUp, event: event, mapping: stored.mapping, resolved: resolved, logger: logger)
        }
    }

    private func create(_ link: TicketLink, mustLookUp: Bool, event: AlertEvent, mapping: AlertMapping,
                        resolved: IntegrationResolver.Resolved, logger: Logger) async throws -> ProcessingOutcome {
        var logger = logger
        logger[metadataKey: "ticket.correlation_id"] = "\(link.correlationID)"
        let session = resolved.session
        var warnings = link.warnings
        let record: ServiceNowRecord
        do {
            if mustLookUp, let existing = try await findByCorrelation(link, session: session) {
                logger.info("found the incident an earlier attempt created", metadata: ["servicenow.sys_id": "\(existing.sysID)"])
                record = existing
            } else {
                var payload = mapping.render(event)
                payload["correlation_id"] = link.correlationID
                payload["correlation_display"] = "Ceburu alert \(event.alert.id)"
                do {
                    record = try await session.create(table: link.table, fields: payload)
                } catch let error where error.mentionsAssignmentGroup && payload["assignment_group"] != nil {
                    logger.warning("ServiceNow rejected assignment_group; creating the incident without it",
                                   metadata: ["servicenow.message": "\(error.message ?? "")", "servicenow.detail": "\(error.detail ?? "")"])
                    payload.removeValue(forKey: "assignment_group")
                    if !warnings.contains("assignment_group") { warnings.append("assignment_group") }
                    record = try await session.create(table: link.table, fields: payload)
                }
            }
        } catch {
            if error.isRetryable {
                try await tickets.release(link: link, workerID: workerID)
                throw RetryableFailure(reason: error.description, retryAfter: error.retryAfter, serviceNowError: error)
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
                                        url: resolved.instance.recordLink(table: link.table, sysID: record.sysID), state: record["state"] ?? IncidentState.new)
        let outgoing = TicketEvent(type: .created, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                   causeEventID: event.eventID, ticket: ticket, alertStatus: "open", warnings: warnings)
        do {
            _ = try await tickets.completeCreation(link: link, workerID: workerID, ticket: ticket, sysUpdatedOn: record["sys_updated_on"],
                                                   warnings: warnings, event: event, outgoing: outgoing)
        } catch let lost as TicketStore.LostClaim {
            throw RetryableFailure(reason: lost.description)
        }
        logger.info("incident created", metadata: ["servicenow.number": "\(ticket.number)", "servicenow.sys_id": "\(ticket.sysID)"])
        return .ticketCreated(number: ticket.number)
    }

    private func findByCorrelation(_ link: TicketLink, session: ServiceNowSession) async throws(ServiceNowError) -> ServiceNowRecord? {
        let page = try await session.queryPage(table: link.table, ServiceNowQuery(
            "correlation_id=\(link.correlationID)^ORDERBYsys_created_on", fields: ["sys_id", "number", "state", "sys_updated_on", "correlation_id"], pageSize: 1))
        // Guard against an instance that ignored the condition (an unknown field returns all rows).
        return page.records.first { $0["correlation_id"] == link.correlationID }
    }

    private func noteRefire(_ link: TicketLink, event: AlertEvent, resolved: IntegrationResolver.Resolved, logger: Logger) async throws -> ProcessingOutcome {
        guard let sysID = link.sysID else { return .busy }
        var note = "Alert fired again at \(AlertEvent.formatTimestamp(event.occurredAt))"
        if let title = event.alert.title { note += ": \(title)" }
        if let severity = event.alert.severity { note += " (\(severity.rawValue))" }
        let record: ServiceNowRecord
        do {
            record = try await resolved.session.update(table: link.table, sysID: sysID, fields: [resolved.integration.settings.notesField: note])
        } catch {
            if error.isRetryable { throw RetryableFailure(reason: error.description, retryAfter: error.retryAfter, serviceNowError: error) }
            try await tickets.markProcessed(event: event, outcome: "ticket_failed",
                                            outgoing: failure(event, code: "servicenow_\(error.kind.rawValue)", message: Self.message(error)))
            return .failed(code: "servicenow_\(error.kind.rawValue)")
        }
        let ticket = TicketEvent.Ticket(table: link.table, sysID: sysID, number: link.number ?? record["number"] ?? "",
                                        url: link.url ?? resolved.instance.recordLink(table: link.table, sysID: sysID),
                                        state: record["state"] ?? link.state ?? IncidentState.new)
        let outgoing = TicketEvent(type: .updated, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                   causeEventID: event.eventID, ticket: ticket, alertStatus: link.alertStatus, warnings: [])
        try await tickets.recordUpdate(link: link, state: record["state"], sysUpdatedOn: record["sys_updated_on"], event: event,
                                       outcome: "refire_noted", outgoing: outgoing)
        logger.info("alert fired again; work note added", metadata: ["servicenow.number": "\(ticket.number)"])
        return .ticketUpdated(number: ticket.number)
    }

    /// `ticket.failed` for an event.
    func failure(_ event: AlertEvent, code: String, message: String) -> TicketEvent {
        TicketEvent(type: .failed, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                    causeEventID: event.eventID, ticket: nil, alertStatus: nil, warnings: [],
                    error: TicketEvent.Failure(code: code, message: message))
    }

    /// ServiceNow's own words, for the event.
    static func message(_ error: ServiceNowError) -> String {
        [error.message, error.detail].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ").nonEmpty ?? error.description
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
