import Foundation
import ITSMPostgres
import ITSMWorker
import Logging
import Postgres
import Testing

@Suite struct WorkerSchemaTests {
    @Test func theMigrationsAreNumberedFromOne() throws {
        let migrations = try WorkerSchema.migrations()
        #expect(migrations.first?.version == 1)
        #expect(migrations.map(\.version) == Array(1...migrations.count))
    }

    /// The real schema on a scratch database: applied by three runners at once, then again.
    @Test func theSchemaMigratesOnceConcurrentlyAndAgainAsANoOp() async throws {
        let admin = try WorkerTestDatabase.pool(database: nil)
        let scratch = "itsm_schema_\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.execute("CREATE DATABASE \(scratch)")
        let pools = try (0..<3).map { _ in try WorkerTestDatabase.pool(database: scratch) }
        let migrator = try WorkerSchema.migrator()
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for pool in pools { group.addTask { try await migrator.migrate(pool, logger: Logger(label: "t")) } }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied.sorted() == migrator.migrations.map(\.version))
        #expect(try await migrator.migrate(pools[0], logger: Logger(label: "t")).isEmpty)
        let tables = try await pools[0].query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").map { try $0["tablename"].string() }
        for table in ["integrations", "alert_mappings", "ticket_links", "processed_events", "outbox"] {
            #expect(tables.contains(table), "missing table \(table)")
        }
        for pool in pools { await pool.close() }
        try await admin.execute("DROP DATABASE \(scratch)")
        await admin.close()
    }
}
