/// A fault the simulator answers with instead of the real thing.
public enum SimulatorFault: Sendable, Hashable {
    /// An error status with ServiceNow's error body; 429 carries `Retry-After`.
    case status(Int, retryAfterSeconds: Int? = nil)
    /// 200 with the HTML page of a hibernating instance.
    case hibernating
    /// 202 Accepted, unprocessed.
    case accepted
    /// Answer normally, but only after this long.
    case slow(Duration)
    /// Close the connection without an answer.
    case dropConnection
    /// Never answer (the client's timeout fires).
    case hang
    /// 302 to another URL (clients must not follow it).
    case redirect
    /// Any answer at all: a hostile or broken instance's status, headers and body.
    case answer(status: Int, headers: [String: String], body: String)
    /// A 200 whose body is this many bytes of JSON-looking filler.
    case largeBody(bytes: Int)
    /// A 200 whose body trickles forever, a few bytes at a time.
    case endlessBody
}
