/// An OAuth application the simulated instance knows.
public struct SimulatedClient: Sendable, Hashable {
    public var clientID: String
    public var clientSecret: String
    public var active: Bool
    /// The instance's client-credentials grant switch, for this client.
    public var grantEnabled: Bool
    /// The OAuth Application User the token acts as (`sys_updated_by`); `nil` for none.
    public var applicationUser: String?

    public init(clientID: String, clientSecret: String, active: Bool = true, grantEnabled: Bool = true, applicationUser: String? = "itsm.integration") {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.active = active
        self.grantEnabled = grantEnabled
        self.applicationUser = applicationUser
    }
}

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
    /// `ws_access` as false.
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

/// Which requests a fault applies to.
public enum SimulatorFaultScope: String, Sendable {
    case all, api, token
}

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
