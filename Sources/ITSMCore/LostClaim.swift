import Foundation

/// The claim on a ticket was lost to another worker (it expired while this one was still
/// working); nothing this worker learned may be written.
public struct LostClaim: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the claim on the ticket expired and was taken over" }
}
