import Crypto
import Foundation
import Logging

/// Notes back to Ceburu: journal entries people write on open tickets' incidents become
/// `ticket.commented`.
extension IncidentSync {
    /// Reads the journal entries of the customer's open tickets created since the notes
    /// watermark, in batches of sys_ids like the state sync, and queues `ticket.commented` for
    /// each entry not written by the integration's own user (once per alert on the incident).
    /// At most `notesPerCycle` new entries are reported per cycle, oldest first; the watermark
    /// stops at the first one left, so the rest comes next cycle.
    func syncNotes(_ customerID: String, integration: ConnectedIntegration, links: [TicketLink], full: Bool,
                   report: inout Report, logger: Logger) async throws {
        guard let notes else { return }
        guard integration.settings.syncNotes else {
            // Switched on again later, it reports from then on, not what was written meanwhile.
            let progress = try await notes.noteProgress(customerID: customerID)
            if progress.watermark != nil { try await notes.recordNoteProgress(customerID: customerID, watermark: nil, ownUser: progress.ownUser) }
            return
        }
        guard !links.isEmpty else { return }
        let progress = try await notes.noteProgress(customerID: customerID)
        var ownUser = progress.ownUser
        if ownUser == nil || full {
            // Every incident the worker tracks was created by its integration user: the newest
            // says who that is now (after a change of the integration's user too).
            if let newest = links.max(by: { $0.id < $1.id }), let sysID = newest.sysID,
               let creator = try await integration.gateway.read(table: newest.table, sysID: sysID, fields: ["sys_created_by"])["sys_created_by"],
               !creator.isEmpty {
                ownUser = creator
            }
        }
        guard let ownUser else {
            // Without it the worker's own notes would be echoed back as people's comments.
            logger.warning("notes sync: cannot tell which user the integration acts as (its incidents' sys_created_by is unreadable); no notes reported")
            return
        }
        // The first cycle (or the first after the switch was off) reads from now, less the
        // overlap: enabling the sync on a running installation does not replay old notes.
        let start = (progress.watermark.flatMap(InstanceTimestamp.parse) ?? Date()).addingTimeInterval(-settings.overlap.seconds)
        let since = InstanceTimestamp.format(start)
        let bySysID = Dictionary(grouping: links.filter { $0.sysID != nil }, by: { $0.sysID ?? "" })
        var entries: [JournalEntry] = []
        // The end of what was read completely: a batch cut at the read limit says nothing about
        // what comes after its last entry.
        var readUpTo: String?
        for (table, tableLinks) in Dictionary(grouping: links, by: \.table) {
            let sysIDs = Array(Set(tableLinks.compactMap(\.sysID))).sorted()
            for start in stride(from: 0, to: sysIDs.count, by: Self.batchSize) {
                let batch = Array(sysIDs[start..<min(start + Self.batchSize, sysIDs.count)])
                let listing = try await integration.gateway.journal(table: table, sysIDs: batch, createdSince: since, limit: settings.notesPerCycle * 10)
                report.noteRequests += listing.requests
                // An instance may ignore a condition it does not understand: only what was asked for.
                let readable = listing.entries.filter {
                    InstanceTimestamp.parse($0.createdOn) != nil && bySysID[$0.elementID] != nil && Self.journalElements.contains($0.element)
                }
                if readable.count < listing.entries.count {
                    logger.warning("notes sync: journal entries without a readable date, of another record or field were skipped",
                                   metadata: ["count": "\(listing.entries.count - readable.count)"])
                }
                entries += readable
                if !listing.complete, let last = readable.last?.createdOn { readUpTo = min(readUpTo ?? last, last) }
            }
        }
        entries.sort { ($0.createdOn, $0.sysID) < ($1.createdOn, $1.sysID) }
        if let readUpTo { entries = entries.filter { $0.createdOn <= readUpTo } }
        // Entries read again (the overlap, or a cycle that stopped at its cap) were reported
        // before; the cap counts only new ones, so every cycle moves on.
        let foreign = entries.filter { $0.createdBy != ownUser }.map { entry in
            (entry, (bySysID[entry.elementID] ?? []).map { Self.commented(entry, link: $0, integration: integration) })
        }
        let reported = try await notes.queuedAlready(eventIDs: foreign.flatMap { $0.1.map(\.eventID) })
        var events: [TicketEvent] = []
        var taken = 0
        // Nothing read on the first cycle: it covered up to now, and the next starts there (less
        // the overlap), not from its own "now" a cycle later.
        var watermark = entries.last?.createdOn ?? progress.watermark ?? InstanceTimestamp.format(Date())
        for (entry, entryEvents) in foreign where !entryEvents.allSatisfy({ reported.contains($0.eventID) }) {
            if taken == settings.notesPerCycle {
                // The rest comes next cycle, from this second on.
                watermark = entry.createdOn
                report.notesLeft = true
                break
            }
            events += entryEvents.filter { !reported.contains($0.eventID) }
            taken += 1
        }
        if readUpTo != nil, !report.notesLeft {
            report.notesLeft = true
            if watermark == progress.watermark, let date = InstanceTimestamp.parse(watermark) {
                // More entries within one second than a read takes: without moving on, every
                // cycle would read the same ones again. (Past the overlap too, which the next
                // read takes off the watermark.)
                watermark = InstanceTimestamp.format(date.addingTimeInterval(1 + settings.overlap.seconds))
                logger.warning("notes sync: more journal entries within one second than a cycle reads; the rest of that second is skipped",
                               metadata: ["second": "\(InstanceTimestamp.format(date))"])
            }
        }
        report.comments += try await notes.queueComments(events)
        try await notes.recordNoteProgress(customerID: customerID, watermark: watermark, ownUser: ownUser)
    }

    static let journalElements: Set<String> = ["work_notes", "comments"]

    /// The longest comment text an event carries; longer ones are cut with a marker.
    static let maxCommentBytes = 32 * 1024

    static func commented(_ entry: JournalEntry, link: TicketLink, integration: ConnectedIntegration) -> TicketEvent {
        var text = entry.value
        if text.utf8.count > maxCommentBytes {
            // Cut on a character's boundary, not inside one.
            var end = text.utf8.index(text.utf8.startIndex, offsetBy: maxCommentBytes)
            while end.samePosition(in: text.unicodeScalars) == nil { end = text.utf8.index(before: end) }
            text = String(text.unicodeScalars[..<end]) + " …[truncated]"
        }
        let sysID = link.sysID ?? entry.elementID
        let ticket = TicketEvent.Ticket(table: link.table, sysID: sysID, number: link.number ?? "",
                                        url: link.url ?? integration.gateway.recordLink(table: link.table, sysID: sysID), state: (link.state ?? .new).rawValue)
        let createdAt = InstanceTimestamp.parse(entry.createdOn).map(AlertEvent.formatTimestamp) ?? entry.createdOn
        return TicketEvent(type: .commented, eventID: eventID(customerID: link.customerID, entry: entry.sysID, linkID: link.id),
                           customerID: link.customerID, networkID: link.networkID, alertID: link.alertID, causeEventID: nil, ticket: ticket,
                           alertStatus: nil, comment: TicketEvent.Comment(field: entry.element, author: String(entry.createdBy.prefix(255)), text: text,
                                                                          createdAt: createdAt))
    }

    /// The same entry read by two passes (or two workers) gives the same event id, which the
    /// outbox takes once.
    static func eventID(customerID: String, entry: String, linkID: Int) -> String {
        var bytes = Array(SHA256.hash(data: Data("\(customerID)\u{0}\(entry)\u{0}\(linkID)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0f) | 0x50
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        return uuid.uuidString.lowercased()
    }
}
