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
}
