import Foundation
import ITSMCore
import ITSMCoreTesting
import ITSMPostgres
import ITSMWorker
import Logging
import Postgres
import Testing

/// The PostgreSQL ticket store keeps the same contract as the in-memory twin the core's unit
/// tests use (`TicketRepositoryContract`), so what those tests prove holds for the store.
struct TicketStoreContractTests {
    @Test func theStoreKeepsTheTicketRepositoryContract() async throws {
        let database = "itsm_contract_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try WorkerTestDatabase.pool(database: nil, size: 1)
        try await admin.execute("CREATE DATABASE \(database)")
        let pool = try WorkerTestDatabase.pool(database: database, size: 2)
        do {
            try await WorkerSchema.migrator().migrate(pool, logger: Logger(label: "migrate"))
            let store = TicketStore(pool: pool)
            for (name, check) in TicketRepositoryContract.all {
                do {
                    try await check(store)
                } catch {
                    Issue.record("\(name): \(error)")
                }
            }
        } catch {
            Issue.record(error)
        }
        await pool.close()
        _ = try? await admin.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
        await admin.close()
    }
}
