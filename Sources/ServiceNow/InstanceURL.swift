/// A ServiceNow instance's base URL that passed the ``InstanceURLPolicy``, in its one canonical
/// form: `scheme://host[:port]`, lowercase, no trailing slash, the port only when it is not the
/// scheme's default. Requests are built from these parts, never from what an operator typed.
public struct InstanceURL: Sendable, Hashable, CustomStringConvertible {
    public let scheme: String
    /// Lowercase `[a-z0-9.-]`, or `::1` (insecure mode only).
    public let host: String
    public let port: Int?

    public var description: String {
        "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)\(port.map { ":\($0)" } ?? "")"
    }

    /// A key naming the instance in limits, caches and metrics.
    public var key: String { description }

    /// The port connections go to.
    public var effectivePort: Int { port ?? (scheme == "https" ? 443 : 80) }

    /// The link an operator opens for a record: `…/nav_to.do?uri=incident.do?sys_id=…`.
    public func recordLink(table: String, sysID: String) -> String {
        "\(description)/nav_to.do?uri=\(table).do?sys_id=\(sysID)"
    }
}
