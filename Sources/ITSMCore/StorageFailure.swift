/// What message handling needs to know of a failed store call, whichever store made it: whether
/// the store is away (the message waits without using up an attempt) and whether a write
/// collided with one already made (someone else did the work).
public protocol StorageFailure: Error {
    /// The store cannot be reached or is not accepting work (restart, failover, outage).
    var storeUnavailable: Bool { get }
    /// A unique key the write needed is taken.
    var isConflict: Bool { get }
}
