import Foundation
import ITSMCore
import Synchronization

/// The twin of the PostgreSQL ticket store: the same contract (``TicketRepositoryContract``
/// runs against both), kept in memory under one lock, with time from a ``ManualClock``. Each
/// method is atomic, as each of the store's statements or transactions is.
public final class InMemoryTicketRepository: TicketRepository {
    /// A write that needed a unique key someone else holds (the store's unique violation).
    public struct Conflict: StorageFailure {
        public var storeUnavailable: Bool { false }
        public var isConflict: Bool { true }
    }

    struct StatusRow {
        var event: StoredStatusEvent
        var received: Int
        var appliedOutcome: String?
    }

    struct State {
        var leases: [String: (holder: String, until: Date, watermark: String?, cycles: Int)] = [:]
        var customers: Set<String> = []
        var links: [TicketLink] = []
        var processed: [String: String] = [:]
        var statusEvents: [StatusRow] = []
        var outbox: [TicketEvent] = []
        var received = 0
    }

    private let state = Mutex(State())
    public let clock: any WallClock

    public init(clock: any WallClock) {
        self.clock = clock
    }

    /// The events queued for publishing, oldest first.
    public var queuedEvents: [TicketEvent] { state.withLock { $0.outbox } }

    /// How a processed event was settled, nil if it was not.
    public func outcome(of event: AlertEvent) -> String? {
        state.withLock { $0.processed[Self.key(event)] }
    }

    static func key(_ event: AlertEvent) -> String { "\(event.customerID)\u{0}\(event.eventID)" }

    public func isProcessed(_ event: AlertEvent) async throws -> Bool {
        outcome(of: event) != nil
    }

    public func markProcessed(event: AlertEvent, outcome: String, outgoing: TicketEvent?) async throws {
        try state.withLock { state in
            try Self.markProcessed(&state, event: event, outcome: outcome)
            if let outgoing { state.outbox.append(outgoing) }
        }
    }

    private static func markProcessed(_ state: inout State, event: AlertEvent, outcome: String) throws {
        guard state.processed[key(event)] == nil else { throw Conflict() }
        state.processed[key(event)] = outcome
    }

    public func claim(event: AlertEvent, table: String, workerID: String, lease: Duration) async throws -> TicketClaim {
        let now = clock.now
        return state.withLock { state in
            if state.processed[Self.key(event)] != nil { return .duplicate }
            let live = state.links.lastIndex { $0.customerID == event.customerID && $0.alertID == event.alert.id && ($0.status == .pending || $0.status == .open) }
            switch TicketLifecycle.claim(live: live.map { state.links[$0] }, now: now) {
            case .open(let link): return .open(link)
            case .busy: return .busy
            case .takeOver:
                let index = live!
                state.links[index].claimedBy = workerID
                state.links[index].claimExpiresAt = now.addingTimeInterval(lease.seconds)
                state.links[index].createAttempts += 1
                state.links[index].updatedAt = now
                return .claimed(state.links[index], mustLookUp: true)
            case .createNew:
                let history = state.links.filter { $0.customerID == event.customerID && $0.alertID == event.alert.id }
                let link = TicketLink(id: (state.links.last?.id ?? 0) + 1, customerID: event.customerID, networkID: event.networkID,
                                      alertID: event.alert.id, alertType: event.alert.type,
                                      correlationID: TicketLink.correlationID(customerID: event.customerID, alertID: event.alert.id, generation: history.count),
                                      table: table, status: .pending, claimedBy: workerID, claimExpiresAt: now.addingTimeInterval(lease.seconds),
                                      previousLinkID: history.last?.id, createdAt: now, updatedAt: now)
                state.links.append(link)
                return .claimed(link, mustLookUp: false)
            }
        }
    }

    public func renewClaim(link: TicketLink, workerID: String, lease: Duration) async throws -> Bool {
        let now = clock.now
        return state.withLock { state in
            guard let index = state.links.firstIndex(where: { $0.id == link.id && $0.claimedBy == workerID && $0.status == .pending }) else { return false }
            state.links[index].claimExpiresAt = now.addingTimeInterval(lease.seconds)
            return true
        }
    }

    public func release(link: TicketLink, workerID: String) async throws {
        let now = clock.now
        state.withLock { state in
            guard let index = state.links.firstIndex(where: { $0.id == link.id && $0.claimedBy == workerID }) else { return }
            state.links[index].claimedBy = nil
            state.links[index].claimExpiresAt = nil
            state.links[index].updatedAt = now
        }
    }

    public func releaseClaim(link: TicketLink, workerID: String) async throws {
        try await release(link: link, workerID: workerID)
    }

    public func completeCreation(link: TicketLink, workerID: String, ticket: TicketEvent.Ticket, sysUpdatedOn: String?, warnings: [String],
                                 event: AlertEvent, outgoing: TicketEvent) async throws -> (link: TicketLink, statusWaiting: Bool) {
        let now = clock.now
        return try state.withLock { state in
            guard let index = state.links.firstIndex(where: { $0.id == link.id && $0.claimedBy == workerID && $0.status == .pending }) else {
                throw LostClaim()
            }
            try Self.markProcessed(&state, event: event, outcome: "ticket_created")
            var updated = state.links[index]
            updated.status = .open
            updated.sysID = ticket.sysID
            updated.number = ticket.number
            updated.url = ticket.url
            updated.state = IncidentState(rawValue: ticket.state)
            updated.sysUpdatedOn = sysUpdatedOn
            updated.warnings = warnings
            updated.claimedBy = nil
            updated.claimExpiresAt = nil
            updated.updatedAt = now
            state.links[index] = updated
            state.outbox.append(outgoing)
            let waiting = state.statusEvents.contains { $0.appliedOutcome == nil && $0.event.customerID == updated.customerID && $0.event.alertID == updated.alertID }
            return (updated, waiting)
        }
    }

    public func failCreation(link: TicketLink?, event: AlertEvent, outgoing: TicketEvent) async throws {
        let now = clock.now
        try state.withLock { state in
            try Self.markProcessed(&state, event: event, outcome: "ticket_failed")
            if let link, let index = state.links.firstIndex(where: { $0.id == link.id && $0.status == .pending }) {
                state.links[index].status = .failed
                state.links[index].claimedBy = nil
                state.links[index].claimExpiresAt = nil
                state.links[index].updatedAt = now
            }
            state.outbox.append(outgoing)
        }
    }

    public func supersede(link: TicketLink, event: AlertEvent, table: String, workerID: String, lease: Duration) async throws -> TicketClaim {
        let now = clock.now
        state.withLock { state in
            guard let index = state.links.firstIndex(where: { $0.id == link.id && $0.status == .open }) else { return }
            state.links[index].status = .closed
            state.links[index].claimedBy = nil
            state.links[index].claimExpiresAt = nil
            state.links[index].updatedAt = now
        }
        return try await claim(event: event, table: table, workerID: workerID, lease: lease)
    }

    public func claimOpen(link: TicketLink, workerID: String, lease: Duration) async throws -> TicketLink? {
        let now = clock.now
        return state.withLock { state in
            guard let index = state.links.firstIndex(where: { $0.id == link.id && $0.status == .open }) else { return nil }
            // As the store's `claimed_by IS NULL OR claim_expires_at < now()`.
            if state.links[index].claimedBy != nil, !(state.links[index].claimExpiresAt.map { $0 < now } ?? false) { return nil }
            state.links[index].claimedBy = workerID
            state.links[index].claimExpiresAt = now.addingTimeInterval(lease.seconds)
            return state.links[index]
        }
    }

    public func recordStatusEvent(_ event: AlertEvent) async throws {
        state.withLock { state in
            guard !state.statusEvents.contains(where: { $0.event.customerID == event.customerID && $0.event.eventID == event.eventID }) else { return }
            state.received += 1
            let stored = StoredStatusEvent(eventID: event.eventID, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                           kind: event.kind == .resolved ? .resolved : .acknowledged, occurredAt: event.occurredAt,
                                           actorName: event.actor?.name, actorEmail: event.actor?.email, note: event.note)
            state.statusEvents.append(StatusRow(event: stored, received: state.received))
        }
    }

    public func latestWaitingStatus(customerID: String, alertID: String) async throws -> StoredStatusEvent? {
        state.withLock { state in
            state.statusEvents
                .filter { $0.appliedOutcome == nil && $0.event.customerID == customerID && $0.event.alertID == alertID }
                .max { ($0.event.occurredAt, $0.received) < ($1.event.occurredAt, $1.received) }?.event
        }
    }

    public func completeStatus(link: TicketLink, workerID: String, record: WrittenRecord?, alertStatus: AlertStatus?, statusEventAt: Date?,
                               resolvedAt: Date??, linkStatus: TicketLink.Status?, reopened: Bool, applied: AlertEvent?, processed: AlertEvent?,
                               outcome: String, outgoing: TicketEvent?) async throws {
        let now = clock.now
        state.withLock { state in
            if let index = state.links.firstIndex(where: { $0.id == link.id && ($0.claimedBy == workerID || $0.claimedBy == nil) }) {
                var updated = state.links[index]
                if let record {
                    updated.state = record.state
                    if let stamp = record.sysUpdatedOn { updated.sysUpdatedOn = stamp }
                }
                if let alertStatus { updated.alertStatus = alertStatus }
                if let statusEventAt { updated.statusEventAt = statusEventAt }
                if let resolvedAt { updated.resolvedAt = resolvedAt }
                if let linkStatus { updated.status = linkStatus }
                updated.claimedBy = nil
                updated.claimExpiresAt = nil
                updated.updatedAt = now
                state.links[index] = updated
            }
            if let applied {
                for index in state.statusEvents.indices where state.statusEvents[index].event.customerID == applied.customerID {
                    let row = state.statusEvents[index].event
                    if row.eventID == applied.eventID {
                        state.statusEvents[index].appliedOutcome = outcome
                    } else if row.alertID == applied.alert.id && state.statusEvents[index].appliedOutcome == nil && row.occurredAt <= applied.occurredAt {
                        state.statusEvents[index].appliedOutcome = "superseded"
                    }
                }
            }
            if let processed, state.processed[Self.key(processed)] == nil {
                state.processed[Self.key(processed)] = outcome
            }
            if let outgoing { state.outbox.append(outgoing) }
        }
    }

    public func link(customerID: String, alertID: String) async throws -> TicketLink? {
        state.withLock { $0.links.last { $0.customerID == customerID && $0.alertID == alertID } }
    }

    public func link(id: Int) async throws -> TicketLink? {
        state.withLock { $0.links.first { $0.id == id } }
    }

    public func links(customerID: String, alertID: String) async throws -> [TicketLink] {
        state.withLock { $0.links.filter { $0.customerID == customerID && $0.alertID == alertID } }
    }
}

/// The sync's memory, kept with the ticket links it reads and writes (as the store keeps both in
/// one database). `customers` are those a test registers.
extension InMemoryTicketRepository: SyncStore {
    public func register(customerID: String) {
        state.withLock { _ = $0.customers.insert(customerID) }
    }

    public func customers() async throws -> [String] {
        state.withLock { $0.customers.sorted() }
    }

    public func takeLease(customerID: String, lease: Duration) async throws -> SyncLease? {
        let now = clock.now
        return state.withLock { state in
            let current = state.leases[customerID]
            if let current, current.until > now { return nil }
            let cycles = (current?.cycles ?? 0) + 1
            state.leases[customerID] = ("sync", now.addingTimeInterval(lease.seconds), current?.watermark, cycles)
            return SyncLease(watermark: current?.watermark, cycles: cycles - 1)
        }
    }

    public func releaseLease(customerID: String, watermark: String?, error: String?) async throws {
        state.withLock { state in
            guard let current = state.leases[customerID] else { return }
            state.leases[customerID] = (current.holder, .distantPast, watermark, current.cycles)
        }
    }

    public func openLinks(customerID: String) async throws -> [TicketLink] {
        state.withLock { $0.links.filter { $0.customerID == customerID && $0.status == .open && $0.sysID != nil } }
    }

    public func refreshStamps(_ stamps: [(linkID: Int, sysUpdatedOn: String)]) async throws {
        state.withLock { state in
            for stamp in stamps {
                if let index = state.links.firstIndex(where: { $0.id == stamp.linkID }) { state.links[index].sysUpdatedOn = stamp.sysUpdatedOn }
            }
        }
    }

    public func recordStateChange(_ link: TicketLink, to newState: IncidentState, sysUpdatedOn: String?, alertStatus: AlertStatus,
                                  event: TicketEvent) async throws -> Bool {
        let now = clock.now
        return state.withLock { state in
            guard let index = state.links.firstIndex(where: { $0.id == link.id }) else { return false }
            var current = state.links[index]
            // As the store's compare-and-set: the state it was read with, open, nobody writing.
            let writing = current.claimedBy != nil && (current.claimExpiresAt.map { $0 >= now } ?? true)
            guard current.state == link.state, current.status == .open, !writing else { return false }
            current.state = newState
            current.sysUpdatedOn = sysUpdatedOn
            current.alertStatus = alertStatus
            if newState.isFinal { current.status = .closed }
            current.resolvedAt = alertStatus == .resolved ? (current.resolvedAt ?? now) : nil
            current.updatedAt = now
            state.links[index] = current
            state.outbox.append(event)
            return true
        }
    }

    public func markDeleted(_ link: TicketLink, event: TicketEvent) async throws -> Bool {
        state.withLock { state in
            guard let index = state.links.firstIndex(where: { $0.id == link.id && $0.status == .open }) else { return false }
            state.links[index].status = .deleted
            state.outbox.append(event)
            return true
        }
    }

    public func alertsWithWaitingStatus(customerID: String) async throws -> [String] {
        state.withLock { state in
            let open = Set(state.links.filter { $0.customerID == customerID && $0.status == .open }.map(\.alertID))
            return Array(Set(state.statusEvents.filter { $0.appliedOutcome == nil && $0.event.customerID == customerID && open.contains($0.event.alertID) }
                .map(\.event.alertID))).sorted()
        }
    }
}
