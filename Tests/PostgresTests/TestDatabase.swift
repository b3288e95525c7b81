import Foundation
import Logging
import Postgres
import TestSupport
import Testing

enum TestDatabase {
    static var url: String {
        ProcessInfo.processInfo.environment["ITSM_TEST_DATABASE_URL"] ?? "postgres://itsm:itsm@127.0.0.1:5432/itsm_test"
    }

    /// A pool of the test database; a unique `applicationName` finds its backends in
    /// `pg_stat_activity`.
    static func pool(maximumConnections: Int = 4, statementTimeout: Duration? = .seconds(30),
                     applicationName: String = "postgres-tests") throws -> PostgresPool {
        var configuration = try PostgresConfiguration(url: url)
        configuration.maximumConnections = maximumConnections
        configuration.statementTimeout = statementTimeout
        configuration.applicationName = applicationName
        return PostgresPool(configuration: configuration, logger: Logger(label: "postgres-tests"))
    }

    static func uniqueName(_ prefix: String) -> String {
        "t_\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    }
}
