import Foundation

/// One entry of a record's journal (`sys_journal_field`): a work note or a comment.
public struct JournalEntry: Sendable, Equatable {
    public var sysID: String
    /// The record it belongs to.
    public var elementID: String
    /// `work_notes` or `comments`.
    public var element: String
    public var value: String
    /// The user name of its author.
    public var createdBy: String
    /// ServiceNow's UTC stamp, `YYYY-MM-DD HH:MM:SS`.
    public var createdOn: String

    public init(sysID: String, elementID: String, element: String, value: String, createdBy: String, createdOn: String) {
        self.sysID = sysID
        self.elementID = elementID
        self.element = element
        self.value = value
        self.createdBy = createdBy
        self.createdOn = createdOn
    }
}

/// A page-bounded read of journal entries: what was read, whether that was all there is, and
/// how many requests it took.
public struct JournalListing: Sendable, Equatable {
    public var entries: [JournalEntry]
    public var complete: Bool
    public var requests: Int

    public init(entries: [JournalEntry], complete: Bool, requests: Int) {
        self.entries = entries
        self.complete = complete
        self.requests = requests
    }
}

/// Where the notes sync stands for one customer, and what it needs to remember.
public protocol NoteStore: Sendable {
    /// The `sys_created_on` up to which journal entries were read, and the user name the
    /// worker's integration acts as (its own notes are not reported back).
    func noteProgress(customerID: String) async throws -> (watermark: String?, ownUser: String?)
    func recordNoteProgress(customerID: String, watermark: String?, ownUser: String?) async throws
    /// Queues `ticket.commented` events; an event whose id was queued before (an entry read
    /// again by an overlapping pass) is not queued twice. Returns how many were new.
    func queueComments(_ events: [TicketEvent]) async throws -> Int
    /// Which of these event ids were queued before.
    func queuedAlready(eventIDs: [String]) async throws -> Set<String>
}
