import Foundation
import ITSMPostgres
import ITSMWorker
import Logging
import Postgres

/// Opens a small pool for a one-shot command, runs `body`, and closes it.
func withConfigurationStore<T>(_ configuration: WorkerConfiguration, logger: Logger,
                               _ body: (ConfigurationStore, PostgresPool) async throws -> T) async throws -> T {
    var postgres = try PostgresConfiguration(url: configuration.databaseURL)
    postgres.maximumConnections = 2
    postgres.applicationName = "itsm-worker cli"
    let pool = PostgresPool(configuration: postgres, logger: logger)
    do {
        let result = try await body(ConfigurationStore(pool: pool), pool)
        await pool.close()
        return result
    } catch {
        await pool.close()
        throw error
    }
}

/// JSON for `--json` output: sorted keys, no escaped slashes.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
