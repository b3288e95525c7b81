import Foundation
import ITSMCore

/// What every ``TicketRepository`` must do, as checks that run against any implementation: the
/// PostgreSQL store in the integration tests, the in-memory twin in the unit tests. A twin that
/// drifts from the store fails here, not in a unit test that trusted it.
///
/// Each check uses its own alert, so all of them can share one repository. None moves time:
/// the store's clock is the database's.
public enum TicketRepositoryContract {
    public struct Violation: Error, CustomStringConvertible {
        public let description: String
    }

    public typealias Check = @Sendable (any TicketRepository) async throws -> Void

    public static let all: [(name: String, check: Check)] = [
        ("the first claim creates generation 0 and holds off others", firstClaimHoldsOffOthers),
        ("a completed creation opens the ticket, marks the event and queues its event", completionOpensTheTicket),
        ("a worker whose claim was taken over cannot complete", lostClaimCannotComplete),
        ("a released claim is taken over with a look-up", releasedClaimIsTakenOverWithALookUp),
        ("a superseded ticket is closed and the next one links it", supersedeLinksThePreviousTicket),
        ("an event is processed once", anEventIsProcessedOnce),
        ("writes to an open ticket are serialized by its claim", openTicketWritesAreSerialized),
        ("the newest waiting status event wins and supersedes older ones", newestWaitingStatusWins),
        ("a failed creation lets the next alert try anew", failedCreationLetsANewAttemptStart),
        ("concurrent claims and completions each get their own answer", concurrentClaimsAndCompletions),
        ("a processed event's claim is a duplicate", aProcessedEventsClaimIsADuplicate),
    ]

    static func expect(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        if !condition { throw Violation(description: what()) }
    }

    public static func raised(customer: String = "cust-1", alertID: String = UUID().uuidString, at date: Date = Date()) -> AlertEvent {
        AlertEvent(eventID: UUID().uuidString.lowercased(), kind: .raised, occurredAt: date, customerID: customer, networkID: "net-1",
                   alert: AlertEvent.Alert(id: alertID, type: "cpu_usage"))
    }

    public static func status(_ kind: AlertEvent.Kind, of raised: AlertEvent, at date: Date) -> AlertEvent {
        AlertEvent(eventID: UUID().uuidString.lowercased(), kind: kind, occurredAt: date, customerID: raised.customerID, networkID: raised.networkID,
                   alert: AlertEvent.Alert(id: raised.alert.id, type: raised.alert.type))
    }

    public static func created(_ event: AlertEvent) -> TicketEvent {
        TicketEvent(type: .created, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id, causeEventID: event.eventID,
                    ticket: ticket(), alertStatus: .open)
    }

    public static func ticket(number: String = "INC0010001") -> TicketEvent.Ticket {
        TicketEvent.Ticket(table: "incident", sysID: UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(), number: number,
                           url: "https://example.service-now.com/incident.do", state: IncidentState.new.rawValue)
    }

    /// Claims and completes a ticket for `event`; the open link.
    public static func open(_ event: AlertEvent, in repository: any TicketRepository, worker: String = "w1") async throws -> TicketLink {
        guard case .claimed(let link, _) = try await repository.claim(event: event, table: "incident", workerID: worker, lease: .seconds(60)) else {
            throw Violation(description: "a first claim was not granted")
        }
        let outgoing = created(event)
        return try await repository.completeCreation(link: link, workerID: worker, ticket: outgoing.ticket!, sysUpdatedOn: "2026-01-01 00:00:00",
                                                     warnings: [], event: event, outgoing: outgoing).link
    }

    static func firstClaimHoldsOffOthers(_ repository: any TicketRepository) async throws {
        let event = raised()
        let first = try await repository.claim(event: event, table: "incident", workerID: "w1", lease: .seconds(60))
        guard case .claimed(let link, let mustLookUp) = first else { throw Violation(description: "first claim: \(first)") }
        try expect(!mustLookUp, "a first claim needs no look-up")
        try expect(link.status == .pending && link.claimedBy == "w1", "the link is pending and ours: \(link)")
        try expect(link.correlationID == TicketLink.correlationID(customerID: event.customerID, alertID: event.alert.id, generation: 0),
                   "generation 0's correlation key")
        let second = try await repository.claim(event: raised(alertID: event.alert.id), table: "incident", workerID: "w2", lease: .seconds(60))
        try expect(second == .busy, "a second worker is held off, got \(second)")
    }

    static func completionOpensTheTicket(_ repository: any TicketRepository) async throws {
        let event = raised()
        let link = try await open(event, in: repository)
        try expect(link.status == .open && link.claimedBy == nil && link.number == "INC0010001", "the link is open and unclaimed: \(link)")
        try expect(try await repository.isProcessed(event), "the event is processed")
        let again = try await repository.claim(event: raised(alertID: event.alert.id), table: "incident", workerID: "w2", lease: .seconds(60))
        try expect(again == .open(link), "a later alert finds the open ticket, got \(again)")
    }

    static func lostClaimCannotComplete(_ repository: any TicketRepository) async throws {
        let event = raised()
        guard case .claimed(let link, _) = try await repository.claim(event: event, table: "incident", workerID: "w1", lease: .seconds(60)) else {
            throw Violation(description: "no claim")
        }
        try await repository.release(link: link, workerID: "w1")
        _ = try await repository.claim(event: event, table: "incident", workerID: "w2", lease: .seconds(60))
        do {
            let outgoing = created(event)
            _ = try await repository.completeCreation(link: link, workerID: "w1", ticket: outgoing.ticket!, sysUpdatedOn: nil, warnings: [],
                                                      event: event, outgoing: outgoing)
            throw Violation(description: "a creation completed on a claim taken over")
        } catch is LostClaim {}
        try expect(!(try await repository.isProcessed(event)), "nothing of the lost completion was kept")
        try expect(try await repository.renewClaim(link: link, workerID: "w1", lease: .seconds(60)) == false, "the lost claim cannot be renewed")
    }

    static func releasedClaimIsTakenOverWithALookUp(_ repository: any TicketRepository) async throws {
        let event = raised()
        guard case .claimed(let link, _) = try await repository.claim(event: event, table: "incident", workerID: "w1", lease: .seconds(60)) else {
            throw Violation(description: "no claim")
        }
        try await repository.release(link: link, workerID: "w1")
        let retry = try await repository.claim(event: event, table: "incident", workerID: "w2", lease: .seconds(60))
        guard case .claimed(let taken, let mustLookUp) = retry else { throw Violation(description: "the retry got \(retry)") }
        try expect(mustLookUp, "an earlier attempt may have created the incident: look it up")
        try expect(taken.id == link.id && taken.createAttempts == 2 && taken.claimedBy == "w2", "the same link, second attempt: \(taken)")
        try expect(taken.correlationID == link.correlationID, "the same correlation key, so the look-up finds the earlier incident")
    }

    static func supersedeLinksThePreviousTicket(_ repository: any TicketRepository) async throws {
        let event = raised()
        let first = try await open(event, in: repository)
        let refire = raised(alertID: event.alert.id)
        let next = try await repository.supersede(link: first, event: refire, table: "incident", workerID: "w1", lease: .seconds(60))
        guard case .claimed(let fresh, let mustLookUp) = next else { throw Violation(description: "supersede got \(next)") }
        try expect(!mustLookUp && fresh.id != first.id && fresh.previousLinkID == first.id, "a new link that names the previous one: \(fresh)")
        try expect(fresh.correlationID == TicketLink.correlationID(customerID: event.customerID, alertID: event.alert.id, generation: 1),
                   "generation 1's correlation key")
        let links = try await repository.links(customerID: event.customerID, alertID: event.alert.id)
        try expect(links.map(\.status) == [.closed, .pending], "the previous ticket is closed: \(links.map(\.status))")
    }

    /// (The store batches concurrent claims and completions into one statement each: every
    /// request must still get its own answer, and one lost claim must fail only its own.)
    static func concurrentClaimsAndCompletions(_ repository: any TicketRepository) async throws {
        let events = (0..<24).map { _ in raised() }
        // The same alert twice among them: one claim wins, the other waits its turn.
        let twin = raised(alertID: events[0].alert.id)
        let claims = try await withThrowingTaskGroup(of: (String, TicketClaim).self) { group in
            for event in events + [twin] {
                group.addTask { (event.eventID, try await repository.claim(event: event, table: "incident", workerID: "w1", lease: .seconds(60))) }
            }
            return try await group.reduce(into: [String: TicketClaim]()) { $0[$1.0] = $1.1 }
        }
        var links: [String: TicketLink] = [:]
        for event in events.dropFirst() {
            guard case .claimed(let link, false) = claims[event.eventID] else { throw Violation(description: "\(event.alert.id) got \(String(describing: claims[event.eventID]))") }
            try expect(link.alertID == event.alert.id, "a claim answered with another alert's link")
            links[event.eventID] = link
        }
        let pair = [claims[events[0].eventID], claims[twin.eventID]]
        try expect(pair.filter { if case .claimed = $0 { return true } else { return false } }.count == 1
                   && pair.contains { $0 == .busy }, "one of the two claims for one alert wins, the other is busy: \(pair)")
        // One of them loses its claim before completing.
        let loser = events[1]
        try await repository.release(link: links[loser.eventID]!, workerID: "w1")
        _ = try await repository.claim(event: loser, table: "incident", workerID: "w2", lease: .seconds(60))
        let claimed = links
        let outcomes = await withTaskGroup(of: (String, String).self) { group in
            for event in events.dropFirst() {
                group.addTask {
                    let outgoing = created(event)
                    do {
                        let done = try await repository.completeCreation(link: claimed[event.eventID]!, workerID: "w1", ticket: outgoing.ticket!,
                                                                         sysUpdatedOn: nil, warnings: [], event: event, outgoing: outgoing)
                        return (event.eventID, done.link.alertID == event.alert.id && done.link.status == .open ? "opened" : "wrong link")
                    } catch is LostClaim {
                        return (event.eventID, "lost")
                    } catch {
                        return (event.eventID, "\(error)")
                    }
                }
            }
            return await group.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
        }
        try expect(outcomes[loser.eventID] == "lost", "the completion on a lost claim: \(outcomes[loser.eventID] ?? "none")")
        for event in events.dropFirst(2) {
            try expect(outcomes[event.eventID] == "opened", "\(event.alert.id): \(outcomes[event.eventID] ?? "none")")
            try expect(try await repository.isProcessed(event), "\(event.alert.id) is processed")
        }
        try expect(!(try await repository.isProcessed(loser)), "nothing of the lost completion was kept")
    }

    static func aProcessedEventsClaimIsADuplicate(_ repository: any TicketRepository) async throws {
        let event = raised()
        _ = try await open(event, in: repository)
        let again = try await repository.claim(event: event, table: "incident", workerID: "w2", lease: .seconds(60))
        try expect(again == .duplicate, "a redelivered event's claim got \(again)")
        // An event that only skipped (no ticket) is a duplicate too.
        let skipped = raised()
        try await repository.markProcessed(event: skipped, outcome: "skipped")
        let claim = try await repository.claim(event: skipped, table: "incident", workerID: "w1", lease: .seconds(60))
        try expect(claim == .duplicate, "a processed event's first claim got \(claim)")
    }

    static func anEventIsProcessedOnce(_ repository: any TicketRepository) async throws {
        let event = raised()
        try await repository.markProcessed(event: event, outcome: "skipped")
        do {
            try await repository.markProcessed(event: event, outcome: "skipped")
            throw Violation(description: "an event was marked processed twice")
        } catch let failure as any StorageFailure {
            try expect(failure.isConflict && !failure.storeUnavailable, "a second mark is a conflict: \(failure)")
        }
        // Event ids are the customer's: another customer's event with the same id is another event.
        var other = event
        other.customerID = "cust-2"
        try expect(!(try await repository.isProcessed(other)), "another customer's event with the same id is not processed")
    }

    static func openTicketWritesAreSerialized(_ repository: any TicketRepository) async throws {
        let link = try await open(raised(), in: repository)
        let first = try await repository.claimOpen(link: link, workerID: "w1", lease: .seconds(60))
        try expect(first?.claimedBy == "w1", "the first writer gets the claim")
        try expect(try await repository.claimOpen(link: link, workerID: "w2", lease: .seconds(60)) == nil, "a second writer waits")
        try await repository.completeStatus(link: first!, workerID: "w1", applied: nil, processed: nil, outcome: "noop", outgoing: nil)
        try expect(try await repository.claimOpen(link: link, workerID: "w2", lease: .seconds(60))?.claimedBy == "w2",
                   "the claim is free once the first write is complete")
    }

    static func newestWaitingStatusWins(_ repository: any TicketRepository) async throws {
        let event = raised()
        let link = try await open(event, in: repository)
        let base = Date()
        let acknowledged = status(.acknowledged, of: event, at: base.addingTimeInterval(10))
        let resolved = status(.resolved, of: event, at: base.addingTimeInterval(20))
        // The newer event arrives first; each is recorded once however often it is delivered.
        for status in [resolved, acknowledged, resolved] { try await repository.recordStatusEvent(status) }
        let waiting = try await repository.latestWaitingStatus(customerID: event.customerID, alertID: event.alert.id)
        try expect(waiting?.eventID == resolved.eventID && waiting?.kind == .resolved, "the newest by occurred_at waits: \(String(describing: waiting))")
        guard let claimed = try await repository.claimOpen(link: link, workerID: "w1", lease: .seconds(60)) else { throw Violation(description: "no claim") }
        try await repository.completeStatus(link: claimed, workerID: "w1", record: WrittenRecord(state: .resolved, sysUpdatedOn: "2026-01-01 00:01:00"),
                                            alertStatus: .resolved, statusEventAt: resolved.occurredAt, resolvedAt: .some(base),
                                            applied: resolved, processed: resolved, outcome: "applied", outgoing: nil)
        try expect(try await repository.latestWaitingStatus(customerID: event.customerID, alertID: event.alert.id) == nil,
                   "the older event is superseded by the newer one applied")
        let after = try await repository.link(id: link.id)
        try expect(after?.state == .resolved && after?.alertStatus == .resolved && after?.claimedBy == nil, "the link records the write: \(String(describing: after))")
        try expect(after.map { TicketLifecycle.status(.acknowledged, occurredAt: acknowledged.occurredAt, on: $0) } == .stale,
                   "a late delivery of the older event is stale")
    }

    static func failedCreationLetsANewAttemptStart(_ repository: any TicketRepository) async throws {
        let event = raised()
        guard case .claimed(let link, _) = try await repository.claim(event: event, table: "incident", workerID: "w1", lease: .seconds(60)) else {
            throw Violation(description: "no claim")
        }
        try await repository.failCreation(link: link, event: event,
                                          outgoing: TicketEvent(type: .failed, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                                                causeEventID: event.eventID, ticket: nil, alertStatus: nil))
        try expect(try await repository.link(id: link.id)?.status == .failed, "the link failed")
        try expect(try await repository.isProcessed(event), "the event is processed")
        let next = try await repository.claim(event: raised(alertID: event.alert.id), table: "incident", workerID: "w1", lease: .seconds(60))
        guard case .claimed(let fresh, false) = next else { throw Violation(description: "the next alert got \(next)") }
        try expect(fresh.previousLinkID == link.id, "the new attempt follows the failed one")
    }
}
