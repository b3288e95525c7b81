/// An incident's `state` as ServiceNow stores it: the choice value, a short digit string on the
/// `incident` table. Typed so that "is this ticket closed" is asked in one place, not spelled
/// as `'7'` and `'8'` wherever a state is read.
public struct IncidentState: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.init(rawValue: value) }

    public static let new: IncidentState = "1"
    public static let inProgress: IncidentState = "2"
    public static let onHold: IncidentState = "3"
    public static let resolved: IncidentState = "6"
    public static let closed: IncidentState = "7"
    public static let canceled: IncidentState = "8"
    /// Not a ServiceNow state: the incident was deleted there.
    public static let deleted: IncidentState = "deleted"

    /// The states in which ServiceNow refuses writes to an incident; a ticket in one of them is
    /// never written or polled again, and an alert that fires again gets a new ticket.
    public static let finalStates: [IncidentState] = [.closed, .canceled]

    public var isFinal: Bool { Self.finalStates.contains(self) }

    public var label: String {
        switch self {
        case .new: return "New"
        case .inProgress: return "In Progress"
        case .onHold: return "On Hold"
        case .resolved: return "Resolved"
        case .closed: return "Closed"
        case .canceled: return "Canceled"
        case .deleted: return "Deleted"
        default: return rawValue
        }
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
