/// A failure talking to PostgreSQL.
///
/// `description` names the kind, the SQLSTATE and the server's primary message; it never
/// contains query text, parameters or credentials. `debugDescription` adds the server's detail.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The URL or settings are unusable.
        case invalidConfiguration
        /// The server could not be reached or refused the connection.
        case connectionFailed
        /// The connection broke during the call (server restart, `pg_terminate_backend`); the
        /// connection was discarded. Whether the statement took effect is unknown unless it
        /// ran in a transaction, which then rolled back.
        case connectionLost
        /// The server answered the statement with an error (see ``PostgresError/sqlState``).
        case server
        /// No pooled connection became free within the acquire timeout.
        case poolExhausted
        /// A value could not be decoded as the requested type.
        case decoding
        /// A parameter cannot be sent (a NUL in text); nothing was sent to the server.
        case invalidParameter
        /// The pool was shut down.
        case closed
    }

    public let kind: Kind
    /// The five-character SQLSTATE code for server errors (`23505` unique violation, …).
    public let sqlState: String?
    public let message: String
    public let detail: String?

    public init(_ kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
    }

    /// Whether the same work may succeed if tried again (on a fresh connection).
    public var isRetryable: Bool {
        switch kind {
        case .connectionFailed, .connectionLost, .poolExhausted: return true
        case .invalidConfiguration, .decoding, .closed, .invalidParameter: return false
        case .server:
            guard let sqlState else { return false }
            // 40001 serialization, 40P01 deadlock, 55P03 lock not available, 57014 statement
            // timeout, 57P0x shutdown / cannot connect now, class 08 connection, 53300 too many
            // connections.
            // 26000 / 42P05: a prepared statement on another server connection (a pooler).
            return ["40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300", "26000", "42P05"].contains(sqlState)
                || sqlState.hasPrefix("08")
        }
    }

    public var description: String {
        switch kind {
        case .server: return "PostgreSQL error \(sqlState ?? "?????"): \(message)"
        default: return "PostgreSQL \(kind): \(message)"
        }
    }

    public var debugDescription: String {
        description + (detail.map { " (\($0))" } ?? "")
    }

    /// Whether the server is out of reach rather than refusing this statement: it could not be
    /// connected to, the connection broke, the pool found no connection, or the server is
    /// shutting down, starting up or out of connections.
    public var databaseUnavailable: Bool {
        switch kind {
        case .connectionFailed, .connectionLost, .poolExhausted: return true
        case .server:
            guard let sqlState else { return false }
            return ["57P01", "57P02", "57P03", "53300"].contains(sqlState) || sqlState.hasPrefix("08")
        default: return false
        }
    }

    /// 23505: a unique constraint would be violated.
    public var isUniqueViolation: Bool { sqlState == "23505" }
}
