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

    /// The work note naming the members.
    public var text: String {
        switch group.kind {
        case .storm:
            // Compact: a storm's note names hundreds of alerts.
            return "Alert storm on network \(networkID): \(members.count) more alert(s) joined this incident instead of opening their own "
                + "(\(group.size) in all so far): " + members.map(\.alertID).joined(separator: ", ")
        case .group:
            let lines = members.map { "- \($0.alertID) (\($0.alertType)) at \(AlertEvent.formatTimestamp($0.joinedAt))" }
            return (["\(members.count) alert(s) joined this incident (group '\(group.key)', \(group.size) in all so far):"] + lines).joined(separator: "\n")
        }
    }
}
