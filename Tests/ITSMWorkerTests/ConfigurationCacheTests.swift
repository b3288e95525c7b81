import Foundation
import ITSMCore
import ITSMPostgres
import Postgres
import Synchronization
import Testing

/// The message path's configuration cache against the real schema: unchanged configuration is
/// not read again when `ttl` passes, and any change is seen within `ttl`.
@Suite struct ConfigurationCacheTests {
    /// A clock the test moves.
    final class Hands: Sendable {
        private let instant = Mutex(ContinuousClock.now)
        var now: ContinuousClock.Instant { instant.withLock { $0 } }
        func advance(_ duration: Duration) { instant.withLock { $0 += duration } }
    }

    static func mapping(_ network: String, short: String) -> StoredMapping {
        StoredMapping(customerID: "cust-1", networkID: network, alertType: "cpu_usage",
                      mapping: AlertMapping(fields: ["short_description": .template(short)]))
    }

    /// Changes `network`'s mapping without moving the version (the trigger disabled inside the
    /// transaction, so no other session ever sees it off): what a cache that re-read its entries
    /// would notice, and one that trusts the version must not.
    static func changeBehindTheVersion(_ pool: PostgresPool, network: String, short: String) async throws {
        try await pool.withTransaction { connection in
            _ = try await connection.execute("ALTER TABLE alert_mappings DISABLE TRIGGER alert_mappings_configuration_version")
            _ = try await connection.execute("UPDATE alert_mappings SET fields = $1::jsonb WHERE network_id = $2",
                                             [.text(#"{"short_description":"\#(short)"}"#), .text(network)])
            _ = try await connection.execute("ALTER TABLE alert_mappings ENABLE TRIGGER alert_mappings_configuration_version")
        }
    }

    /// What the cache serves for net-1's mapping, by its short description.
    static func served(_ cache: ConfigurationCache) async throws -> String? {
        short(try await cache.mapping(customerID: "cust-1", networkID: "net-1", alertType: "cpu_usage"))
    }

    static func short(_ stored: StoredMapping?) -> String? {
        guard case .template(let text) = stored?.mapping.fields["short_description"] else { return nil }
        return text
    }

    @Test func unchangedConfigurationIsNotReadAgainAndAChangeIsSeenWithinTheTTL() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_config_cache") { pool in
            let store = ConfigurationStore(pool: pool)
            try await store.saveMapping(Self.mapping("net-1", short: "first"))
            let hands = Hands()
            let cache = ConfigurationCache(store: store, ttl: .seconds(5), now: { hands.now })
            #expect(try await Self.served(cache) == "first")

            try await Self.changeBehindTheVersion(pool, network: "net-1", short: "unseen")
            hands.advance(.seconds(6))
            // The version did not move: the entry stands, past its ttl, without a read.
            #expect(try await Self.served(cache) == "first")

            // A change elsewhere moves the version; seen once the last confirmation is ttl old.
            try await store.saveMapping(Self.mapping("net-2", short: "other"))
            hands.advance(.seconds(4))
            #expect(try await Self.served(cache) == "first")
            hands.advance(.seconds(2))
            #expect(try await Self.served(cache) == "unseen")
        }
    }

    @Test func everyKindOfWriteToEitherTableMovesTheVersion() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_config_version") { pool in
            let store = ConfigurationStore(pool: pool)
            var seen = [try await store.configurationVersion()]
            let box = try SecretBox(currentKey: Data(repeating: 7, count: 32).base64EncodedString())
            try await store.saveIntegration(customerID: "cust-1", instanceURL: "https://a.service-now.com", clientID: "c",
                                            sealedSecret: try box.seal("s", customerID: "cust-1"), settings: IntegrationSettings())
            seen.append(try await store.configurationVersion())
            try await store.saveMapping(Self.mapping("net-1", short: "x"))
            seen.append(try await store.configurationVersion())
            try await store.saveMapping(Self.mapping("net-1", short: "y"))
            seen.append(try await store.configurationVersion())
            try await store.deleteMapping(customerID: "cust-1", networkID: "net-1", alertType: "cpu_usage")
            seen.append(try await store.configurationVersion())
            _ = try await store.deleteIntegration(customerID: "cust-1")
            seen.append(try await store.configurationVersion())
            _ = try await pool.execute("TRUNCATE alert_mappings")
            seen.append(try await store.configurationVersion())
            #expect(seen.allSatisfy { $0 != nil })
            #expect(Set(seen).count == seen.count, "a write left the version where it was: \(seen)")
            // A write that rolls back leaves it.
            let before = try await store.configurationVersion()
            await #expect(throws: (any Error).self) {
                try await pool.withTransaction { connection in
                    _ = try await connection.execute("DELETE FROM alert_mappings")
                    _ = try await connection.execute("SELECT 1/0")
                }
            }
            #expect(try await store.configurationVersion() == before)
        }
    }

    /// Absent configuration is cached like present; a new integration appears within the ttl,
    /// and a deleted one disappears.
    @Test func anIntegrationAddedOrDeletedIsSeenWithinTheTTL() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_config_integration") { pool in
            let store = ConfigurationStore(pool: pool)
            let hands = Hands()
            let cache = ConfigurationCache(store: store, ttl: .seconds(5), now: { hands.now })
            #expect(try await cache.integration(customerID: "cust-1") == nil)
            let box = try SecretBox(currentKey: Data(repeating: 7, count: 32).base64EncodedString())
            try await store.saveIntegration(customerID: "cust-1", instanceURL: "https://a.service-now.com", clientID: "c",
                                            sealedSecret: try box.seal("s", customerID: "cust-1"), settings: IntegrationSettings())
            #expect(try await cache.integration(customerID: "cust-1") == nil)
            hands.advance(.seconds(5))
            #expect(try await cache.integration(customerID: "cust-1")?.clientID == "c")
            _ = try await store.deleteIntegration(customerID: "cust-1")
            hands.advance(.seconds(5))
            #expect(try await cache.integration(customerID: "cust-1") == nil)
        }
    }

    /// A worker started on a database not yet migrated to the version: nothing read is kept past
    /// the ttl, as before there was a version, and no message fails for the missing table.
    @Test func withoutAVersionToGoByEntriesLastOneTTL() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_config_unversioned") { pool in
            for statement in ["DROP TRIGGER alert_mappings_configuration_version ON alert_mappings",
                              "DROP TRIGGER integrations_configuration_version ON integrations",
                              "DROP FUNCTION bump_configuration_version()", "DROP TABLE configuration_version"] {
                _ = try await pool.execute(statement)
            }
            let store = ConfigurationStore(pool: pool)
            #expect(try await store.configurationVersion() == nil)
            try await store.saveMapping(Self.mapping("net-1", short: "first"))
            let hands = Hands()
            let cache = ConfigurationCache(store: store, ttl: .seconds(5), now: { hands.now })
            #expect(try await Self.served(cache) == "first")
            try await store.saveMapping(Self.mapping("net-1", short: "second"))
            hands.advance(.seconds(4))
            #expect(try await Self.served(cache) == "first")
            hands.advance(.seconds(2))
            #expect(try await Self.served(cache) == "second")
        }
    }

    /// With no ttl every read goes to PostgreSQL: a change is seen by the next message.
    @Test func aZeroTTLReadsEveryTime() async throws {
        try await WorkerTestDatabase.withMigrated("itsm_config_nocache") { pool in
            let store = ConfigurationStore(pool: pool)
            let cache = ConfigurationCache(store: store, ttl: .zero)
            #expect(try await cache.mapping(customerID: "cust-1", networkID: "net-1", alertType: "cpu_usage") == nil)
            try await store.saveMapping(Self.mapping("net-1", short: "now"))
            #expect(try await Self.served(cache) == "now")
        }
    }
}
