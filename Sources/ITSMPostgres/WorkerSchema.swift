import Foundation
import Postgres

/// The worker's database schema: the numbered files in `schemas/sql/`, built into the binary.
public enum WorkerSchema {
    public static func migrations() throws -> [PostgresMigration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw PostgresError(.invalidConfiguration, message: "the migrations are missing from the build")
        }
        return try PostgresMigration.load(from: directory)
    }

    public static func migrator() throws -> PostgresMigrator {
        PostgresMigrator(migrations: try migrations(), historyTable: "itsm_schema_migrations")
    }
}
