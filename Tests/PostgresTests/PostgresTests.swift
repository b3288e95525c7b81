import Foundation
import Logging
import Postgres
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(2)))
struct PostgresTests {
    @Test func configurationFromURL() throws {
        let configuration = try PostgresConfiguration(url: "postgres://us%40er:p%40ss@db.example:6543/app?sslmode=require&application_name=w1")
        #expect(configuration.user == "us@er")
        #expect(configuration.password == "p@ss")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.database == "app")
        #expect(configuration.sslMode == "require")
        #expect(configuration.applicationName == "w1")
        #expect(!configuration.redactedURL.contains("p@ss"))
        #expect(throws: PostgresError.self) { try PostgresConfiguration(url: "mysql://x@y/z") }
    }

    @Test func everySupportedTypeRoundTrips() async throws {
        let pool = try TestDatabase.pool()
        let table = TestDatabase.uniqueName("types")
        try await pool.execute("""
            CREATE TABLE \(table) (t text, i bigint, b boolean, ts timestamptz, j jsonb, u uuid, by bytea, d double precision, n text)
            """)
        let when = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let uuid = UUID()
        let bytes: [UInt8] = [0, 1, 2, 0xfe, 0xff, 0x5c, 0x78]
        try await pool.execute("INSERT INTO \(table) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", [
            .text("héllo 'quoted' \"double\" ; DROP TABLE x; --"), .int(-9_007_199_254_740_993), .bool(true),
            .timestamp(when), .json(#"{"a": [1, 2, {"b": null}], "c": "ü"}"#), .uuid(uuid), .bytea(bytes),
            .double(3.25), .null,
        ])
        let row = try #require(try await pool.query("SELECT * FROM \(table)").first)
        #expect(try row["t"].string() == "héllo 'quoted' \"double\" ; DROP TABLE x; --")
        #expect(try row["i"].int() == -9_007_199_254_740_993)
        #expect(try row["b"].bool() == true)
        #expect(abs(try row["ts"].date().timeIntervalSince(when)) < 0.000_002)
        struct Payload: Decodable, Equatable { let a: [Entry]; let c: String; enum Entry: Decodable, Equatable { case int(Int), object([String: String?])
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let i = try? container.decode(Int.self) { self = .int(i) } else { self = .object(try container.decode([String: String?].self)) }
            } } }
        let payload = try row["j"].json(Payload.self)
        #expect(payload.c == "ü")
        #expect(payload.a == [.int(1), .int(2), .object(["b": nil])])
        #expect(try row["u"].uuid() == uuid)
        #expect(try row["by"].bytes() == bytes)
        #expect(try row["d"].double() == 3.25)
        #expect(row["n"].isNull)
        #expect(try row["n"].optionalString() == nil)
        #expect(throws: PostgresError.self) { try row["n"].string() }
        #expect(throws: PostgresError.self) { try row["no_such_column"].string() }
        #expect(throws: PostgresError.self) { try row["t"].int() }
        try await pool.execute("DROP TABLE \(table)")
        await pool.close()
    }

    @Test func arraysOfTextRoundTripThroughUnnestWithQuotesBackslashesAndNulls() async throws {
        let pool = try TestDatabase.pool()
        let values: [String?] = ["plain", #"say "hi""#, #"C:\path\"#, nil, "NULL", "", "a,b", "{braces}", "  spaced ", "ünï\u{1F600}", #"\""#]
        let rows = try await pool.query("SELECT s, s IS NULL AS missing FROM unnest($1::text[]) WITH ORDINALITY AS u(s, n) ORDER BY n", [.array(values)])
        #expect(rows.count == values.count)
        for (row, value) in zip(rows, values) {
            #expect(try row["missing"].bool() == (value == nil))
            #expect(try row["s"].optionalString() == value)
        }
        let numbers = try await pool.query("SELECT sum(x) AS total FROM unnest($1::int[]) AS x", [.array(["1", nil, "41"])])
        #expect(try numbers.first?["total"].int() == 42)
        await pool.close()
    }

    /// libpq takes values as C strings; a NUL would cut `cust-1\0evil` to `cust-1` and run the
    /// statement for another tenant.
    @Test func aNulInATextParameterIsRefusedNotCut() async throws {
        let pool = try TestDatabase.pool()
        do {
            _ = try await pool.query("SELECT $1::text AS id", [.text("cust-1\u{0}evil")])
            Issue.record("a text with a NUL was sent")
        } catch let error as PostgresError {
            #expect(error.kind == .invalidParameter)
            #expect(!error.isRetryable)
        }
        do {
            _ = try await pool.query("SELECT $1::text[] AS ids", [.array(["ok", "a\u{0}b"])])
            Issue.record("an array element with a NUL was sent")
        } catch let error as PostgresError {
            #expect(error.kind == .invalidParameter)
        }
        // The connection is still usable.
        #expect(try await pool.query("SELECT $1::text AS id", [.text("cust-1")]).first?["id"].string() == "cust-1")
        await pool.close()
    }

    @Test func transactionsCommitOrRollBack() async throws {
        let pool = try TestDatabase.pool()
        let table = TestDatabase.uniqueName("tx")
        try await pool.execute("CREATE TABLE \(table) (id int PRIMARY KEY)")
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await pool.withTransaction { connection in
                try await connection.execute("INSERT INTO \(table) VALUES (1)")
                throw Boom()
            }
        }
        _ = try await pool.withTransaction { connection in
            try await connection.execute("INSERT INTO \(table) VALUES (2)")
        }
        // A server error inside the transaction rolls back what came before it.
        do {
            try await pool.withTransaction { connection in
                try await connection.execute("INSERT INTO \(table) VALUES (3)")
                try await connection.execute("INSERT INTO \(table) VALUES (2)")
            }
            Issue.record("duplicate key was accepted")
        } catch let error as PostgresError {
            #expect(error.sqlState == "23505")
            #expect(error.isUniqueViolation)
            #expect(!error.isRetryable)
            #expect(!error.description.contains("INSERT"))
        }
        let ids = try await pool.query("SELECT id FROM \(table) ORDER BY id").map { try $0["id"].int() }
        #expect(ids == [2])
        try await pool.execute("DROP TABLE \(table)")
        await pool.close()
    }

    @Test func statementsWithParametersArePreparedOnceAndSurviveATableChange() async throws {
        let pool = try TestDatabase.pool(maximumConnections: 1)
        let table = TestDatabase.uniqueName("prepared")
        try await pool.execute("CREATE TABLE \(table) (id int PRIMARY KEY, name text)")
        for id in 1...5 { try await pool.execute("INSERT INTO \(table) (id, name) VALUES ($1, $2)", [.int(id), .text("n\(id)")]) }
        let select = "SELECT * FROM \(table) WHERE id >= $1 ORDER BY id"
        #expect(try await pool.query(select, [.int(4)]).map { try $0["name"].string() } == ["n4", "n5"])
        // The server holds one prepared statement per distinct SQL text on this connection.
        let statements = try await pool.query("SELECT statement FROM pg_prepared_statements WHERE statement LIKE $1", [.text("%\(table)%")])
        #expect(statements.count == 2, "\(statements.map { try? $0["statement"].string() })")

        // `SELECT *` changes its result type when a column is added; the cached plan is
        // refused (0A000) and the connection prepares it again instead of failing.
        try await pool.execute("ALTER TABLE \(table) ADD COLUMN extra text DEFAULT 'x'")
        let rows = try await pool.query(select, [.int(5)])
        #expect(rows.count == 1)
        #expect(try rows.first?["extra"].string() == "x")
        try await pool.execute("DROP TABLE \(table)")
        await pool.close()
    }

    @Test func fiftyConcurrentTasksShareAPoolOfFour() async throws {
        let pool = try TestDatabase.pool(maximumConnections: 4)
        let table = TestDatabase.uniqueName("concurrent")
        try await pool.execute("CREATE TABLE \(table) (n int, backend int)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<50 {
                group.addTask {
                    try await pool.withTransaction { connection in
                        try await connection.execute("INSERT INTO \(table) VALUES ($1, pg_backend_pid())", [.int(n)])
                        try await connection.execute("SELECT pg_sleep(0.02)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let rows = try await pool.query("SELECT count(*) AS c, count(DISTINCT backend) AS backends FROM \(table)")
        #expect(try rows[0]["c"].int() == 50)
        #expect(try rows[0]["backends"].int() <= 4)
        #expect(pool.openConnections <= 4)
        try await pool.execute("DROP TABLE \(table)")
        await pool.close()
    }

    @Test func warmingUpOpensTheConnectionsThatLaterLoadUses() async throws {
        let name = TestDatabase.uniqueName("warm")
        let pool = try TestDatabase.pool(maximumConnections: 5, applicationName: name)
        let observer = try TestDatabase.pool(maximumConnections: 1)
        func backends() async throws -> Set<Int> {
            let rows = try await observer.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [.text(name)])
            return Set(try rows.map { try $0["pid"].int() })
        }

        #expect(await pool.warmUp(to: 3) == 3)
        #expect(try await backends().count == 3)
        // Never past the pool's maximum.
        #expect(await pool.warmUp(to: 50) == 5)
        let warmed = try await backends()
        #expect(warmed.count == 5)

        // Five tasks at once find five open connections and open none.
        let used = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<5 {
                group.addTask {
                    try await pool.withTransaction { connection in
                        let pid = try await connection.query("SELECT pg_backend_pid() AS pid")[0]["pid"].int()
                        try await connection.execute("SELECT pg_sleep(0.1)")
                        return pid
                    }
                }
            }
            return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
        }
        #expect(used.count == 5)
        #expect(used == warmed)
        #expect(pool.openConnections == 5)
        await pool.close()
        await observer.close()
    }

    @Test func warmingUpAgainstAnUnreachableServerLeavesThePoolUsable() async throws {
        var configuration = try PostgresConfiguration(url: "postgres://itsm:itsm@127.0.0.1:1/itsm")
        configuration.connectTimeout = .seconds(2)
        configuration.maximumConnections = 3
        let pool = PostgresPool(configuration: configuration, logger: Logger(label: "t"))
        #expect(await pool.warmUp(to: 3) == 0)
        #expect(pool.openConnections == 0)
        // The failed attempt gave its slot back: later calls still try, and fail clearly.
        do {
            try await pool.query("SELECT 1")
            Issue.record("connected to port 1")
        } catch let error as PostgresError {
            #expect(error.kind == .connectionFailed)
        }
        #expect(pool.openConnections == 0)
        await pool.close()
    }

    @Test func aBackendTerminatedDuringAStatementIsReportedAsRetryableAndReplaced() async throws {
        let pool = try TestDatabase.pool(maximumConnections: 1)
        let admin = try TestDatabase.pool(maximumConnections: 1)
        let pid = try await pool.query("SELECT pg_backend_pid() AS pid")[0]["pid"].int()
        let sleeping = Task { try await pool.query("SELECT pg_sleep(10)") }
        try await waitUntilActive(pid: pid, admin: admin)
        try await admin.execute("SELECT pg_terminate_backend($1)", [.int(pid)])
        do {
            _ = try await sleeping.value
            Issue.record("a statement on a terminated backend succeeded")
        } catch let error as PostgresError {
            #expect(error.isRetryable, "\(error)")
        }
        // The broken connection was discarded: the next call gets a new backend.
        let newPID = try await pool.query("SELECT pg_backend_pid() AS pid")[0]["pid"].int()
        #expect(newPID != pid)
        await pool.close()
        await admin.close()
    }

    /// A statement is sent and answered without a thread blocking on it: a parameter and an
    /// answer larger than the socket's buffers go out and come back over many waits.
    @Test func largeParametersAndAnswersCrossManySocketWaits() async throws {
        let pool = try TestDatabase.pool(maximumConnections: 2)
        let big = String(repeating: "0123456789abcdef", count: 1 << 19)  // 8 MiB
        let rows = try await pool.query("SELECT $1::text AS echoed, length($1::text) AS n", [.text(big)])
        #expect(try rows[0]["n"].int() == big.utf8.count)
        #expect(try rows[0]["echoed"].string() == big)
        // The connection is usable afterwards: nothing of the answer was left unread.
        #expect(try await pool.query("SELECT 41 + 1 AS answer")[0]["answer"].int() == 42)
        await pool.close()
    }

    /// Closing the pool refuses new leases; a statement already sent still gets its answer.
    @Test func aStatementInFlightWhenThePoolClosesGetsItsAnswer() async throws {
        let pool = try TestDatabase.pool(maximumConnections: 1)
        let admin = try TestDatabase.pool(maximumConnections: 1)
        let pid = try await pool.query("SELECT pg_backend_pid() AS pid")[0]["pid"].int()
        // Long enough to be seen active on a loaded machine; the close comes while it runs.
        let sleeping = Task { try await pool.query("SELECT pg_sleep(3), 7 AS seven") }
        try await waitUntilActive(pid: pid, admin: admin)
        await pool.close()
        #expect(try await sleeping.value[0]["seven"].int() == 7)
        await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        await admin.close()
    }

    @Test func idleConnectionsTheServerClosedAreReplacedBeforeTheyAreLeased() async throws {
        let name = TestDatabase.uniqueName("idle")
        let pool = try TestDatabase.pool(maximumConnections: 3, applicationName: name)
        let admin = try TestDatabase.pool(maximumConnections: 1)
        #expect(await pool.warmUp(to: 3) == 3)
        // What a server restart does to every idle connection, without restarting the server
        // under the other suites. (In the select list, so it runs only for the rows the WHERE
        // kept: in the WHERE, the planner may call it for every backend first.)
        let terminated = try await admin.query("""
            SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1
            """, [.text(name)]).map { try $0["pid"].int() }
        #expect(terminated.count == 3)
        await eventually(5, poll: .milliseconds(10)) {
            (try? await admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1", [.text(name)])[0]["n"].int()) == 0
        }
        // Each lease finds its connection closed and opens a new one: no statement fails.
        var pids: Set<Int> = []
        for _ in 0..<3 {
            try await pool.withConnection { connection in
                _ = pids.insert(try await connection.query("SELECT pg_backend_pid() AS pid")[0]["pid"].int())
            }
        }
        #expect(pids.isDisjoint(with: terminated))
        #expect(pool.openConnections <= 3)
        await pool.close()
        await admin.close()
    }

    private func waitUntilActive(pid: Int, admin: PostgresPool) async throws {
        let active = await eventually(5, poll: .milliseconds(10)) {
            (try? await admin.query("SELECT state FROM pg_stat_activity WHERE pid = $1", [.int(pid)]).first?["state"].optionalString()) == "active"
        }
        if !active { Issue.record("backend \(pid) never became active") }
    }

    @Test func preparedStatementsRunWithOneGenericPlan() async throws {
        let pool = try TestDatabase.pool(maximumConnections: 1)
        let counts = try await pool.withTransaction { connection in
            // PostgreSQL's default plans the first five executions for their values.
            for n in 0..<3 { _ = try await connection.query("SELECT $1::int + 41 AS answer", [.int(n)]) }
            return try await connection.query("""
                SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%$1::int + 41%'
                """)
        }
        let row = try #require(counts.first)
        #expect(try row["custom_plans"].int() == 0)
        #expect(try row["generic_plans"].int() == 3)
        // Asked for at connect ("client"), not with a SET ("session"), which behind a pooler
        // ignoring `options` would stay on a server connection other clients share.
        let source = try await pool.query("SELECT source FROM pg_settings WHERE name = 'plan_cache_mode'")
        #expect(try source.first?["source"].string() == "client")
        await pool.close()
    }

    @Test func statementTimeoutCancelsLongQueries() async throws {
        let pool = try TestDatabase.pool(statementTimeout: .milliseconds(200))
        do {
            try await pool.query("SELECT pg_sleep(2)")
            Issue.record("pg_sleep(2) outlived a 200 ms statement_timeout")
        } catch let error as PostgresError {
            #expect(error.sqlState == "57014")
            #expect(error.isRetryable)
        }
        #expect(try await pool.query("SELECT 1 AS one")[0]["one"].int() == 1)
        await pool.close()
    }

    @Test func poolWaitIsBounded() async throws {
        var configuration = try PostgresConfiguration(url: TestDatabase.url)
        configuration.maximumConnections = 1
        configuration.acquireTimeout = .milliseconds(200)
        let pool = PostgresPool(configuration: configuration, logger: Logger(label: "t"))
        try await pool.withConnection { _ in
            do {
                try await pool.query("SELECT 1")
                Issue.record("a second lease on a pool of one did not wait")
            } catch let error as PostgresError {
                #expect(error.kind == .poolExhausted)
            }
        }
        await pool.close()
    }

    @Test func unreachableServerIsAClearError() async throws {
        var configuration = try PostgresConfiguration(url: "postgres://itsm:secret-pw@127.0.0.1:1/itsm")
        configuration.connectTimeout = .seconds(2)
        let pool = PostgresPool(configuration: configuration, logger: Logger(label: "t"))
        do {
            try await pool.query("SELECT 1")
            Issue.record("connected to port 1")
        } catch let error as PostgresError {
            #expect(error.kind == .connectionFailed)
            #expect(error.isRetryable)
            #expect(!error.description.contains("secret-pw"))
        }
        await pool.close()
    }

    @Test func migrationsApplyOnceEvenWhenRunConcurrently() async throws {
        let history = TestDatabase.uniqueName("history")
        let table = TestDatabase.uniqueName("migrated")
        let migrations = [
            PostgresMigration(version: 1, name: "create", sql: "CREATE TABLE \(table) (id int PRIMARY KEY);"),
            PostgresMigration(version: 2, name: "column", sql: "ALTER TABLE \(table) ADD COLUMN note text; INSERT INTO \(table) VALUES (1, 'x');"),
        ]
        let migrator = PostgresMigrator(migrations: migrations, historyTable: history)
        let pools = try (0..<3).map { _ in try TestDatabase.pool(maximumConnections: 1) }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for pool in pools { group.addTask { try await migrator.migrate(pool, logger: Logger(label: "t")) } }
            var all: [[Int]] = []
            for try await versions in group { all.append(versions) }
            return all
        }
        // Exactly one runner applied both; the others found nothing to do.
        #expect(applied.flatMap { $0 }.sorted() == [1, 2])
        #expect(try await migrator.migrate(pools[0], logger: Logger(label: "t")) == [])
        #expect(try await pools[0].query("SELECT count(*) AS c FROM \(table)")[0]["c"].int() == 1)

        // A failing migration leaves nothing behind and is reported with its number.
        let broken = PostgresMigrator(migrations: migrations + [
            PostgresMigration(version: 3, name: "broken", sql: "ALTER TABLE \(table) ADD COLUMN extra int; SELECT no_such_function();"),
        ], historyTable: history)
        do {
            try await broken.migrate(pools[0], logger: Logger(label: "t"))
            Issue.record("a broken migration applied")
        } catch let error as MigrationError {
            #expect(error.version == 3)
        }
        let columns = try await pools[0].query("SELECT column_name FROM information_schema.columns WHERE table_name = $1", [.text(table)])
        #expect(!columns.contains { (try? $0["column_name"].string()) == "extra" })
        try await pools[0].execute("DROP TABLE \(table)")
        try await pools[0].execute("DROP TABLE \(history)")
        for pool in pools { await pool.close() }
    }
}
