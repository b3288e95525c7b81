import Foundation
import ITSMPostgres
import ITSMWorker
import Logging
import Postgres
import Testing

enum WorkerTestDatabase {
    static var url: String {
        ProcessInfo.processInfo.environment["ITSM_TEST_DATABASE_URL"] ?? "postgres://itsm:itsm@127.0.0.1:5432/itsm_test"
    }

    /// A pool on the test server; `database` replaces the URL's database (nil: the URL's).
    static func pool(database: String?, size: Int = 2) throws -> PostgresPool {
        var configuration = try PostgresConfiguration(url: url)
        if let database { configuration.database = database }
        configuration.maximumConnections = size
        return PostgresPool(configuration: configuration, logger: Logger(label: "worker-tests"))
    }

    /// Runs `body` on a migrated database of its own, dropped afterwards; an error is recorded as
    /// the test's issue.
    static func withMigrated(_ prefix: String, _ body: (PostgresPool) async throws -> Void) async throws {
        let database = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try pool(database: nil, size: 1)
        try await admin.execute("CREATE DATABASE \(database)")
        let scratch = try pool(database: database, size: 2)
        do {
            try await WorkerSchema.migrator().migrate(scratch, logger: Logger(label: "migrate"))
            try await body(scratch)
        } catch {
            Issue.record(error)
        }
        await scratch.close()
        _ = try? await admin.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
        await admin.close()
    }
}
