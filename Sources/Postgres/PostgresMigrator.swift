import Foundation
import Logging

/// Applies pending migrations in order, each in its own transaction, recording them in a
/// table. Safe to run from several processes at once and to run again.
public struct PostgresMigrator: Sendable {
    public let migrations: [PostgresMigration]
    /// The table recording applied versions.
    public let historyTable: String
    /// The key of the session advisory lock that serializes concurrent runs.
    public let lockKey: Int

    public init(migrations: [PostgresMigration], historyTable: String = "schema_migrations", lockKey: Int = 0x17_5A_11) {
        self.migrations = migrations
        self.historyTable = historyTable
        self.lockKey = lockKey
    }

    /// Applies what is pending and returns the versions it applied (empty when up to date).
    @discardableResult
    public func migrate(_ pool: PostgresPool, logger: Logger) async throws -> [Int] {
        try await pool.withConnection { connection in
            // A session lock, held across the per-migration transactions: a second worker
            // starting at the same time waits here, then finds nothing pending.
            try await connection.execute("SELECT pg_advisory_lock($1)", [.int(lockKey)])
            do {
                let applied = try await apply(on: connection, logger: logger)
                try await connection.execute("SELECT pg_advisory_unlock($1)", [.int(lockKey)])
                return applied
            } catch {
                if !connection.handle.isBroken {
                    _ = try? await connection.execute("SELECT pg_advisory_unlock($1)", [.int(lockKey)])
                }
                throw error
            }
        }
    }

    private func apply(on connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.executeScript("""
            CREATE TABLE IF NOT EXISTS \(historyTable) (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let done = Set(try await connection.query("SELECT version FROM \(historyTable)").map { try $0["version"].int() })
        var applied: [Int] = []
        for migration in migrations where !done.contains(migration.version) {
            try await connection.execute("BEGIN")
            do {
                try await connection.executeScript(migration.sql)
                try await connection.execute("INSERT INTO \(historyTable) (version, name) VALUES ($1, $2)", [.int(migration.version), .text(migration.name)])
                try await connection.execute("COMMIT")
            } catch {
                if !connection.handle.isBroken { _ = try? await connection.execute("ROLLBACK") }
                throw MigrationError(version: migration.version, name: migration.name, underlying: error)
            }
            logger.info("applied migration", metadata: ["migration": "\(migration.version)_\(migration.name)"])
            applied.append(migration.version)
        }
        return applied
    }
}
