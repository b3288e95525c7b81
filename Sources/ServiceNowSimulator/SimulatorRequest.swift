/// A request the simulator received; the `Authorization` value is never kept.
public struct SimulatorRequest: Sendable, Hashable {
    public let method: String
    public let path: String
    public let query: String
    public let status: Int
    public let hadAuthorization: Bool
    /// Whether the client sent a cookie back (it must not: sessions serialize requests).
    public let hadCookie: Bool
    public let table: String?
}
