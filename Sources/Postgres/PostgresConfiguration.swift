import Foundation

/// Where and how to connect to PostgreSQL: one server, or several hosts that libpq tries in
/// order (with `target_session_attrs` choosing, say, the one that accepts writes).
public struct PostgresConfiguration: Sendable {
    /// One host to try.
    public struct Host: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// The hosts libpq tries, in order.
    public var hosts: [Host]
    /// The first host (a single server's).
    public var host: String {
        get { hosts[0].host }
        set { hosts[0].host = newValue }
    }
    /// The first host's port.
    public var port: Int {
        get { hosts[0].port }
        set { hosts[0].port = newValue }
    }
    public var user: String
    public var password: String?
    public var database: String
    /// Passed to libpq as `sslmode` (`disable`, `prefer`, `require`, `verify-full`, …).
    public var sslMode: String?
    /// libpq's `sslrootcert`, `sslcert`, `sslkey`: the CA to verify the server with, and a client
    /// certificate and key.
    public var sslRootCertificate: String?
    public var sslCertificate: String?
    public var sslKey: String?
    /// libpq's `target_session_attrs` (`read-write`, `primary`, `any`, …) for several hosts.
    public var targetSessionAttributes: String?
    /// Whether statements are prepared once per connection and then only executed (the fast
    /// path). Behind a pooler in transaction mode (PgBouncer) a prepared statement may be asked
    /// for on another server connection; the pool turns this off by itself when it meets one.
    public var preparesStatements: Bool
    /// Whether a prepared statement runs with one plan made for any parameters
    /// (`plan_cache_mode=force_generic_plan` at connect; PostgreSQL before 12, which has no such
    /// setting, is connected to again without it) rather than PostgreSQL's default, which plans each
    /// execution anew for as long as that looks cheaper. A statement over a batch in arrays
    /// (`unnest($1::text[], …)`) always looks cheaper planned for its actual few rows, so it was
    /// planned on every call: the worker's batched claim spent more PostgreSQL CPU planning
    /// (0.8 ms a call) than running. Statements that need their values for a good plan are
    /// better unprepared or written so that any plan is good.
    public var genericPlans: Bool
    public var applicationName: String
    public var connectTimeout: Duration
    /// Server-side bound on every statement (`statement_timeout`); `nil` keeps the server's.
    public var statementTimeout: Duration?
    /// Connections the pool opens at most.
    public var maximumConnections: Int
    /// How long a caller waits for a free connection before ``PostgresError/Kind/poolExhausted``.
    public var acquireTimeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 5432, user: String, password: String? = nil, database: String) {
        self.hosts = [Host(host: host, port: port)]
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = nil
        self.preparesStatements = true
        self.genericPlans = true
        self.applicationName = "swift-postgres"
        self.connectTimeout = .seconds(10)
        self.statementTimeout = .seconds(30)
        self.maximumConnections = 4
        self.acquireTimeout = .seconds(30)
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=…&application_name=…`, with
    /// several `host:port` pairs comma-separated as libpq allows
    /// (`postgres://u:p@db1:5432,db2:5432/app?target_session_attrs=read-write`).
    public init(url: String) throws(PostgresError) {
        func invalid(_ message: String) -> PostgresError { PostgresError(.invalidConfiguration, message: message) }
        let lower = url.lowercased()
        guard let schemeEnd = url.range(of: "://"), lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") else {
            throw invalid("expected a postgres:// URL")
        }
        // URLComponents cannot read a host list; the authority is split here, the rest parsed
        // with one placeholder host.
        let afterScheme = url[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        let userinfo = authority.lastIndex(of: "@").map { authority[..<$0] }
        let hostList = authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority
        guard let components = URLComponents(string: "postgres://\(userinfo.map { "\($0)@" } ?? "")placeholder\(afterScheme[authorityEnd...])") else {
            throw invalid("expected a postgres:// URL")
        }
        var hosts: [Host] = []
        for entry in hostList.split(separator: ",", omittingEmptySubsequences: false) {
            var name = Substring(entry)
            var port = 5432
            if name.hasPrefix("["), let close = name.firstIndex(of: "]") {
                let rest = name[name.index(after: close)...]
                name = name[name.index(after: name.startIndex)..<close]
                if rest.hasPrefix(":") { guard let value = Int(rest.dropFirst()), (1...65535).contains(value) else { throw invalid("a port must be 1-65535") }; port = value }
            } else if let colon = name.lastIndex(of: ":") {
                guard let value = Int(name[name.index(after: colon)...]), (1...65535).contains(value) else { throw invalid("a port must be 1-65535") }
                port = value
                name = name[..<colon]
            }
            let decoded = String(name).removingPercentEncoding ?? String(name)
            hosts.append(Host(host: decoded.isEmpty ? "127.0.0.1" : decoded, port: port))
        }
        let user = components.percentEncodedUser?.removingPercentEncoding ?? "postgres"
        let database = String(components.percentEncodedPath.dropFirst()).removingPercentEncoding ?? ""
        self.init(host: hosts[0].host, port: hosts[0].port, user: user,
                  password: components.percentEncodedPassword?.removingPercentEncoding, database: database.isEmpty ? user : database)
        self.hosts = hosts
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode": sslMode = item.value
            case "sslrootcert": sslRootCertificate = item.value
            case "sslcert": sslCertificate = item.value
            case "sslkey": sslKey = item.value
            case "target_session_attrs": targetSessionAttributes = item.value
            case "application_name": applicationName = item.value ?? applicationName
            case "connect_timeout":
                guard let seconds = item.value.flatMap(Int.init), seconds > 0 else {
                    throw invalid("connect_timeout must be a positive number of seconds")
                }
                connectTimeout = .seconds(seconds)
            default: continue
            }
        }
    }

    /// The URL without its password, for logs.
    public var redactedURL: String {
        "postgres://\(user)@\(hosts.map { $0.host.contains(":") ? "[\($0.host)]:\($0.port)" : "\($0.host):\($0.port)" }.joined(separator: ","))/\(database)"
    }

    /// Keyword/value pairs for `PQconnectdbParams`: values are never spliced into a conninfo
    /// string, so no quoting of passwords is needed or possible to get wrong.
    var connectionParameters: [(String, String)] { connectionParameters(startupOptions: true) }

    /// `startupOptions: false` leaves out the `options` startup parameter, which PgBouncer
    /// refuses ("unsupported startup parameter") unless told to ignore it.
    func connectionParameters(startupOptions: Bool) -> [(String, String)] {
        var parameters: [(String, String)] = [
            ("host", hosts.map(\.host).joined(separator: ",")), ("port", hosts.map { String($0.port) }.joined(separator: ",")),
            ("user", user), ("dbname", database),
            ("application_name", applicationName),
            ("connect_timeout", String(max(1, Int(connectTimeout.components.seconds)))),
            ("client_encoding", "UTF8"),
        ]
        if let password { parameters.append(("password", password)) }
        if let sslMode { parameters.append(("sslmode", sslMode)) }
        if let sslRootCertificate { parameters.append(("sslrootcert", sslRootCertificate)) }
        if let sslCertificate { parameters.append(("sslcert", sslCertificate)) }
        if let sslKey { parameters.append(("sslkey", sslKey)) }
        if let targetSessionAttributes { parameters.append(("target_session_attrs", targetSessionAttributes)) }
        guard startupOptions else { return parameters }
        // Timestamps come back in UTC and ISO form, which is what the row decoder reads (it also
        // reads an offset, so a pooler's server in another time zone is still read right).
        var options = "-c TimeZone=UTC -c DateStyle=ISO"
        if genericPlans && preparesStatements { options += " -c plan_cache_mode=force_generic_plan" }
        if let statementTimeout {
            options += " -c statement_timeout=\(statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000)"
        }
        parameters.append(("options", options))
        return parameters
    }
}
