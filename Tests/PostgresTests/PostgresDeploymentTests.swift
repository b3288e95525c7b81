import Foundation
import Logging
import Postgres
import Testing

/// What real deployments put between the worker and its data: TLS with a private CA, several
/// hosts, PgBouncer in transaction pooling mode.
@Suite(.timeLimit(.minutes(2)))
struct PostgresDeploymentTests {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The test database's URL with other hosts and query parameters.
    static func url(hosts: String, query: String = "") throws -> String {
        let base = try PostgresConfiguration(url: TestDatabase.url)
        return "postgres://\(base.user):\(base.password ?? "")@\(hosts)/\(base.database)\(query.isEmpty ? "" : "?" + query)"
    }

    static func connect(_ url: String) async throws -> String {
        let pool = PostgresPool(configuration: try PostgresConfiguration(url: url), logger: Logger(label: "deployment-tests"))
        defer { Task { await pool.close() } }
        return try await pool.query("SELECT current_database() AS db").first?["db"].string() ?? ""
    }

    @Test func severalHostsAreTriedInOrder() async throws {
        let base = try PostgresConfiguration(url: TestDatabase.url)
        // The first host has nothing listening.
        let url = try Self.url(hosts: "127.0.0.1:1,\(base.host):\(base.port)", query: "target_session_attrs=read-write&connect_timeout=2")
        let configuration = try PostgresConfiguration(url: url)
        #expect(configuration.hosts.map(\.port) == [1, base.port])
        #expect(configuration.redactedURL.contains("127.0.0.1:1,"))
        #expect(try await Self.connect(url) == base.database)
    }

    @Test(.enabled(if: environment["ITSM_TEST_PG_TLS_DIR"] != nil, "needs the local server's TLS (scripts/test sets ITSM_TEST_PG_TLS_DIR)"))
    func verifyFullAcceptsTheRightCAAndNameOnly() async throws {
        let directory = try #require(Self.environment["ITSM_TEST_PG_TLS_DIR"])
        let base = try PostgresConfiguration(url: TestDatabase.url)
        let good = try Self.url(hosts: "localhost:\(base.port)", query: "sslmode=verify-full&sslrootcert=\(directory)/ca.pem")
        #expect(try await Self.connect(good) == base.database)
        let pool = PostgresPool(configuration: try PostgresConfiguration(url: good), logger: Logger(label: "deployment-tests"))
        #expect(try await pool.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").first?["ssl"].bool() == true)
        await pool.close()

        let otherCA = try Self.url(hosts: "localhost:\(base.port)", query: "sslmode=verify-full&sslrootcert=\(directory)/other-ca.pem")
        await #expect { _ = try await Self.connect(otherCA) } throws: { "\($0)".contains("certificate verify failed") }
        // The certificate names localhost, not 127.0.0.1.
        let wrongName = try Self.url(hosts: "127.0.0.1:\(base.port)", query: "sslmode=verify-full&sslrootcert=\(directory)/ca.pem")
        await #expect { _ = try await Self.connect(wrongName) } throws: { "\($0)".contains("does not match host name") }
    }

    /// PgBouncer refuses the `options` startup parameter, and in transaction mode runs each
    /// transaction on whichever server connection is free: the pool notices the first and then
    /// prepares nothing by name.
    @Test(.enabled(if: environment["ITSM_TEST_PGBOUNCER_PORT"] != nil, "needs PgBouncer (scripts/test starts it)"))
    func statementsRunThroughPgBouncerInTransactionMode() async throws {
        let port = try #require(Self.environment["ITSM_TEST_PGBOUNCER_PORT"])
        var configuration = try PostgresConfiguration(url: try Self.url(hosts: "127.0.0.1:\(port)"))
        configuration.maximumConnections = 4
        let pool = PostgresPool(configuration: configuration, logger: Logger(label: "pgbouncer-tests"))
        defer { Task { await pool.close() } }
        let table = TestDatabase.uniqueName("bouncer")
        try await pool.execute("CREATE TABLE \(table) (id int PRIMARY KEY, note text)")
        // Many parameterized statements from several connections at once, in and out of
        // transactions: with named statements these fail on another server connection.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<200 {
                group.addTask {
                    if n % 2 == 0 {
                        try await pool.execute("INSERT INTO \(table) (id, note) VALUES ($1, $2)", [.int(n), .text("n\(n)")])
                    } else {
                        try await pool.withTransaction { connection in
                            try await connection.execute("INSERT INTO \(table) (id, note) VALUES ($1, $2)", [.int(n), .text("n\(n)")])
                            _ = try await connection.query("SELECT note FROM \(table) WHERE id = $1", [.int(n)])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.query("SELECT count(*) AS n FROM \(table)").first?["n"].int() == 200)
        try await pool.execute("DROP TABLE \(table)")
    }
}
