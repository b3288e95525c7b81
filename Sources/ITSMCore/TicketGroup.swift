import Foundation

/// Several alerts sharing one incident: a mapping's group, or a network's storm incident.
public struct TicketGroup: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Alerts whose mapping's group key rendered alike.
        case group
        /// Alerts past the network's limit of new incidents per minute.
        case storm
    }

    public var id: Int
    public var kind: Kind
    public var key: String
    public var resolve: AlertGrouping.Resolve
    /// How many alerts share the incident, the opener included.
    public var size: Int

    public init(id: Int, kind: Kind, key: String, resolve: AlertGrouping.Resolve, size: Int) {
        self.id = id
        self.kind = kind
        self.key = key
        self.resolve = resolve
        self.size = size
    }
}

/// Members of a group not yet named in its incident's work notes, taken by one writer.
public struct PendingGroupNotes: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var linkID: Int
        public var alertID: String
        public var alertType: String
        public var joinedAt: Date

        public init(linkID: Int, alertID: String, alertType: String, joinedAt: Date) {
            self.linkID = linkID
            self.alertID = alertID
            self.alertType = alertType
            self.joinedAt = joinedAt
        }
    }

    public var group: TicketGroup
    public var networkID: String
    public var table: String
    public var sysID: String
    public var members: [Member]

    public init(group: TicketGroup, networkID: String, table: String, sysID: String, members: [Member]) {
        self.group = group
        self.networkID = networkID
        self.table = table
        self.sysID = sysID
        self.members = members
    }

    /// The most a note's text takes: well inside a journal entry, whatever ids the alerts carry.
    public static let maxNoteBytes = 30_000

    /// Alert ids and types are the publisher's: long ones are cut in a note.
    static func short(_ text: String) -> String { text.count > 64 ? text.prefix(63) + "…" : text }

    /// The work note naming the first members that fit in ``maxNoteBytes``, and those members (at
    /// least one); the others wait for the next note.
    public func note() -> (text: String, members: [Member]) {
        let header: (Int) -> String
        let separator: String
        let entry: (Member) -> String
        switch group.kind {
        case .storm:
            // Compact: a storm's note names hundreds of alerts.
            separator = ", "
            entry = { Self.short($0.alertID) }
            header = { "Alert storm on network \(Self.short(networkID)): \($0) more alert(s) joined this incident instead of opening their own "
                + "(\(group.size) in all so far): " }
        case .group:
            separator = "\n"
            entry = { "- \(Self.short($0.alertID)) (\(Self.short($0.alertType))) at \(AlertEvent.formatTimestamp($0.joinedAt))" }
            header = { "\($0) alert(s) joined this incident (group '\(Self.short(group.key))', \(group.size) in all so far):\n" }
        }
        // (The header's count is at most a few digits longer than the estimate's.)
        var bytes = header(members.count).utf8.count
        var entries: [String] = []
        for member in members {
            let text = entry(member)
            guard entries.isEmpty || bytes + separator.utf8.count + text.utf8.count <= Self.maxNoteBytes else { break }
            bytes += (entries.isEmpty ? 0 : separator.utf8.count) + text.utf8.count
            entries.append(text)
        }
        return (header(entries.count) + entries.joined(separator: separator), Array(members.prefix(entries.count)))
    }
}
