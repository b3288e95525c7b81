
/// How the simulated instance behaves.
public struct SimulatorConfiguration: Sendable {
    public var clients: [SimulatedClient]
    /// PEM certificate chain and key: the simulator then speaks https, as real instances do.
    public var tls: (certificateChainFile: String, privateKeyFile: String)?
    /// `expires_in` of issued tokens.
    public var tokenLifetime: Duration
    /// Added before every API and token answer, to model a real instance's latency.
    public var baseLatency: Duration
    /// `assignment_group` values (names or sys_ids) that a business rule refuses.
    public var rejectedAssignmentGroups: Set<String>
    /// `table.operation` pairs an ACL denies: `incident.create`, `incident.write`,
    /// `incident.read`, `sys_dictionary.read`, …; `incident.web_service` shows the table's
    /// `ws_access` as false. A denied `read` leaves rows out (200, as read ACLs do); a denied
    /// `query` refuses the listing with 403 (a table closed to the user altogether).
    public var deniedOperations: Set<String>
    /// When set, answers carry `X-RateLimit-*` headers and requests past the limit within a
    /// window get 429 with `Retry-After`.
    public var rateLimit: (limit: Int, window: Duration)?
    /// The user name an operator change in the "UI" is recorded under.
    public var operatorUser: String

    public init(clients: [SimulatedClient] = [SimulatedClient(clientID: "demo-client", clientSecret: "demo-secret")]) {
        self.clients = clients
        self.tokenLifetime = .seconds(1799)
        self.baseLatency = .zero
        self.rejectedAssignmentGroups = []
        self.deniedOperations = []
        self.rateLimit = nil
        self.operatorUser = "dana.operator"
    }
}
