import Foundation

/// Where and how to connect to PostgreSQL.
public struct PostgresConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// Passed to the server as `sslmode` (`disable`, `prefer`, `require`, `verify-full`, …).
    public var sslMode: String?
    public var applicationName: String
    public var connectTimeout: Duration
    /// Server-side bound on every statement (`statement_timeout`); `nil` keeps the server's.
    public var statementTimeout: Duration?
    /// Connections the pool opens at most.
    public var maximumConnections: Int
    /// How long a caller waits for a free connection before ``PostgresError/Kind/poolExhausted``.
    public var acquireTimeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 5432, user: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = nil
        self.applicationName = "swift-postgres"
        self.connectTimeout = .seconds(10)
        self.statementTimeout = .seconds(30)
        self.maximumConnections = 4
        self.acquireTimeout = .seconds(30)
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=…&application_name=…`.
    public init(url: String) throws(PostgresError) {
        guard let components = URLComponents(string: url),
              let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql"
        else {
            throw PostgresError(.invalidConfiguration, message: "expected a postgres:// URL")
        }
        let user = components.percentEncodedUser?.removingPercentEncoding ?? "postgres"
        let database = String(components.percentEncodedPath.dropFirst()).removingPercentEncoding ?? ""
        self.init(
            host: components.percentEncodedHost?.removingPercentEncoding.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1",
            port: components.port ?? 5432,
            user: user,
            password: components.percentEncodedPassword?.removingPercentEncoding,
            database: database.isEmpty ? user : database)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode": sslMode = item.value
            case "application_name": applicationName = item.value ?? applicationName
            case "connect_timeout":
                guard let seconds = item.value.flatMap(Int.init), seconds > 0 else {
                    throw PostgresError(.invalidConfiguration, message: "connect_timeout must be a positive number of seconds")
                }
                connectTimeout = .seconds(seconds)
            default: continue
            }
        }
    }

    /// The URL without its password, for logs.
    public var redactedURL: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// Keyword/value pairs for `PQconnectdbParams`: values are never spliced into a conninfo
    /// string, so no quoting of passwords is needed or possible to get wrong.
    var connectionParameters: [(String, String)] {
        var parameters: [(String, String)] = [
            ("host", host), ("port", String(port)), ("user", user), ("dbname", database),
            ("application_name", applicationName),
            ("connect_timeout", String(max(1, Int(connectTimeout.components.seconds)))),
            ("client_encoding", "UTF8"),
        ]
        if let password { parameters.append(("password", password)) }
        if let sslMode { parameters.append(("sslmode", sslMode)) }
        // Timestamps come back in UTC and ISO form, which is what the row decoder reads.
        var options = "-c TimeZone=UTC -c DateStyle=ISO"
        if let statementTimeout {
            options += " -c statement_timeout=\(statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000)"
        }
        parameters.append(("options", options))
        return parameters
    }
}
