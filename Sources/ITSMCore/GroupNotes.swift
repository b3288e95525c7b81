import Foundation
import Logging

/// Names the alerts that joined a shared incident in its work notes: one note for all members
/// pending at that moment, written by one worker at a time. A group's note is written as soon
/// as an alert joins; a storm's at most every ``StormProtection/noteInterval``, so a storm costs a
/// few calls a minute. Members left pending (a failed write, the last alerts of a storm) are
/// written by the sync cycle.
public struct GroupNotes: Sendable {
    let shared: any SharedIncidents

    public init(shared: any SharedIncidents) {
        self.shared = shared
    }

    /// The most alerts one note names: a group's note has a line per alert, a storm's a list of
    /// ids (well inside a journal entry's size either way).
    static func batchSize(_ kind: TicketGroup.Kind) -> Int { kind == .storm ? 500 : 200 }

    /// How long one writer holds a group's notes turn: a write, with margin.
    static let lease: Duration = .seconds(60)

    /// Writes the pending members' notes if it is this worker's turn and the last note is at
    /// least `minInterval` old; a failure leaves members pending for the next turn. A group's
    /// writer goes on while members are pending (one that joined while another writer had the
    /// turn is picked up by that writer's next round); a storm's writes one note per turn, so a
    /// storm costs a few calls a minute. Returns how many alerts the notes named. Never throws:
    /// the joins are committed either way.
    @discardableResult
    public func write(groupID: Int, kind: TicketGroup.Kind, minInterval: Duration, resolved: ConnectedIntegration, logger: Logger) async -> Int {
        var named = 0
        while let count = await writeOnce(groupID: groupID, limit: Self.batchSize(kind), minInterval: minInterval, resolved: resolved, logger: logger) {
            named += count
            if kind == .storm { break }
        }
        return named
    }

    /// One note; nil when there was nothing to write, no turn, or the write failed.
    private func writeOnce(groupID: Int, limit: Int, minInterval: Duration, resolved: ConnectedIntegration, logger: Logger) async -> Int? {
        let notes: PendingGroupNotes
        do {
            guard let taken = try await shared.takeGroupNotes(groupID: groupID, minInterval: minInterval, limit: limit, lease: Self.lease) else {
                return nil
            }
            notes = taken
        } catch {
            logger.warning("could not take the group's work-note turn; the sync cycle writes it", metadata: ["error": "\(error)"])
            return nil
        }
        guard !notes.members.isEmpty else {
            try? await shared.finishGroupNotes(notes, written: false)
            return nil
        }
        var note = notes
        let text: String
        (text, note.members) = notes.note()
        var written = false
        do {
            _ = try await resolved.gateway.update(table: notes.table, sysID: notes.sysID, fields: [resolved.settings.notesField: text])
            written = true
        } catch {
            logger.warning("could not write the work note naming the alerts that joined; kept for the next turn",
                           metadata: ["error": "\(error)", "group.id": "\(groupID)"])
        }
        do {
            try await shared.finishGroupNotes(note, written: written)
        } catch {
            // The turn's lease ends by itself; a note written but not marked is written again.
            logger.warning("could not record the group's work note", metadata: ["error": "\(error)"])
            return nil
        }
        return written ? note.members.count : nil
    }
}
