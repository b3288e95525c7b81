import Foundation

/// Storm protection: how many new incidents a customer's network may open per minute before its
/// alerts join one storm incident instead.
public struct StormProtection: Sendable, Equatable {
    /// New incidents per customer and network per minute; 0 turns protection off.
    public var maxNewPerMinute: Int
    /// How long a storm incident takes new alerts after it opened.
    public var window: Duration
    /// The least time between two work notes naming the alerts that joined a storm incident,
    /// so a storm costs the instance a few calls a minute.
    public var noteInterval: Duration

    public init(maxNewPerMinute: Int, window: Duration = .seconds(3600), noteInterval: Duration = .seconds(15)) {
        self.maxNewPerMinute = maxNewPerMinute
        self.window = window
        self.noteInterval = noteInterval
    }

    public static let off = StormProtection(maxNewPerMinute: 0)

    /// The settings in words, for `mapping validate`.
    public var explanation: String {
        guard maxNewPerMinute > 0 else { return "storm protection is off (ITSM_STORM_MAX_NEW_PER_MINUTE=0): every alert may open an incident" }
        return "past \(maxNewPerMinute) new incidents a minute on one network, that network's further alerts join one storm incident "
            + "for \(window.words), named in its work notes at most every \(noteInterval.words) and reported as ticket.linked"
    }
}

/// What grouping and storm protection need of the worker's memory, beyond ``TicketRepository``:
/// groups of links that share one incident. `TicketStore` (PostgreSQL) implements it; the claim
/// of an alert without a group key applies storm protection inside ``TicketRepository/claim``.
public protocol SharedIncidents: Sendable {
    /// As ``TicketRepository/claim(event:table:workerID:lease:)`` for an alert of a grouping
    /// mapping: joins the group's open incident (`.joined`), or claims the creation of the group's
    /// first incident (or of the storm incident past the limit), or `.busy` while the group's
    /// incident is being created.
    func claim(event: AlertEvent, table: String, group: GroupClaim, workerID: String, lease: Duration) async throws -> TicketClaim
    func group(id: Int) async throws -> TicketGroup?
    /// How many of the group's open links, other than `excluding`, have an alert not resolved.
    func unresolvedMembers(groupID: Int, excluding: Int) async throws -> Int
    /// After a write to the group's incident: the group's open links (but `excluding`) take its
    /// state, so the sync does not report the worker's own change; a resolved or final state
    /// ends the group.
    func shareState(groupID: Int, excluding: Int?, record: WrittenRecord) async throws
    /// Takes the turn to name the group's pending members (the first `limit`) in a work note: nil
    /// when there are none, another writer has the turn, or the last note is younger than
    /// `minInterval`.
    func takeGroupNotes(groupID: Int, minInterval: Duration, limit: Int, lease: Duration) async throws -> PendingGroupNotes?
    /// Ends the turn: with `written`, the members are no longer pending.
    func finishGroupNotes(_ notes: PendingGroupNotes, written: Bool) async throws
    /// The customer's groups with members not yet named in a work note.
    func groupsWithPendingNotes(customerID: String) async throws -> [(id: Int, kind: TicketGroup.Kind)]
}
