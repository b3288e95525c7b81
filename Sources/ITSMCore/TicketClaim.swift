import Foundation

/// The outcome of asking to create an alert's ticket.
public enum TicketClaim: Sendable, Equatable {
    /// This worker may create the ticket. With `mustLookUp`, an earlier attempt may already
    /// have created it: search by correlation_id before creating.
    case claimed(TicketLink, mustLookUp: Bool)
    /// The alert already has an open ticket.
    case open(TicketLink)
    /// Another attempt holds the claim; try again later.
    case busy
    /// The event had its effect already (a redelivery).
    case duplicate
    /// The alert joined its group's (or its network's storm) incident: its link, open on that
    /// incident, and `ticket.linked` are committed; what is left is naming it in a work note.
    case joined(TicketLink, TicketGroup)
}
