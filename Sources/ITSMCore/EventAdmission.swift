/// The checks every alert event passes before its handler talks to the instance.
enum EventAdmission {
    case admitted(ConnectedIntegration, StoredMapping)
    /// Settled without the instance: a duplicate, not for ITSM, or an integration that cannot be
    /// used (reported with `ticket.failed`).
    case settled(ProcessingOutcome)

    /// Seen before → duplicate; no integration or no mapping → skipped; an integration whose
    /// secret or URL cannot be used → `ticket.failed`. `beforeConnecting` runs once the event is
    /// known to be for ITSM (status events record themselves there) and may settle it.
    /// `claimChecksProcessed`: the handler's first write tells a processed event itself, so the
    /// usual case saves the lookup here (only the path that writes here looks).
    static func check(_ event: AlertEvent, directory: any IntegrationDirectory, tickets: any TicketRepository, claimChecksProcessed: Bool = false,
                      beforeConnecting: () async throws -> ProcessingOutcome? = { nil }) async throws -> EventAdmission {
        if !claimChecksProcessed, try await tickets.isProcessed(event) { return .settled(.duplicate) }
        guard let integration = try await directory.integration(customerID: event.customerID) else {
            return .settled(.skipped(reason: "no_integration"))
        }
        guard let mapping = try await directory.mapping(customerID: event.customerID, networkID: event.networkID, alertType: event.alert.type) else {
            return .settled(.skipped(reason: "no_mapping"))
        }
        if let outcome = try await beforeConnecting() { return .settled(outcome) }
        do {
            return .admitted(try integration.connect(), mapping)
        } catch let unusable {
            if claimChecksProcessed, try await tickets.isProcessed(event) { return .settled(.duplicate) }
            try await tickets.markProcessed(event: event, outcome: "ticket_failed",
                                            outgoing: TicketEvent.failure(event, code: unusable.code, message: unusable.message))
            return .settled(.failed(code: unusable.code))
        }
    }
}

extension TicketEvent {
    /// `ticket.failed` for an event the worker gave up on.
    public static func failure(_ event: AlertEvent, networkID: String? = nil, code: String, message: String) -> TicketEvent {
        TicketEvent(type: .failed, customerID: event.customerID, networkID: networkID ?? event.networkID, alertID: event.alert.id,
                    causeEventID: event.eventID, ticket: nil, alertStatus: nil, error: TicketEvent.Failure(code: code, message: message))
    }
}
