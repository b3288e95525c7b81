import ArgumentParser
import ITSMPostgres
import ITSMWorker
import Postgres

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending database migrations (safe to run from several workers at once).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let (configuration, logger) = try global.load()
        let pool = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), logger: logger)
        do {
            let applied = try await WorkerSchema.migrator().migrate(pool, logger: logger)
            await pool.close()
            print(applied.isEmpty ? "database schema is up to date" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
        } catch {
            await pool.close()
            throw fail("migrate: \(error)")
        }
    }
}
