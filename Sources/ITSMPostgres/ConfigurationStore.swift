import Foundation
import ITSMCore
import JSONText
import Postgres

/// Integrations and mappings in PostgreSQL.
public struct ConfigurationStore: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    // MARK: Integrations

    public func saveIntegration(customerID: String, instanceURL: String, clientID: String, sealedSecret: SecretBox.Sealed, settings: IntegrationSettings) async throws {
        try await pool.execute("""
            INSERT INTO integrations (customer_id, instance_url, client_id, client_secret_sealed, secret_key_id, settings, secret_bound_to_customer)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
            ON CONFLICT (customer_id) DO UPDATE SET
                instance_url = EXCLUDED.instance_url, client_id = EXCLUDED.client_id,
                client_secret_sealed = EXCLUDED.client_secret_sealed, secret_key_id = EXCLUDED.secret_key_id,
                secret_bound_to_customer = EXCLUDED.secret_bound_to_customer,
                settings = EXCLUDED.settings, last_test = NULL, last_tested_at = NULL, updated_at = now()
            """, [.text(customerID), .text(instanceURL), .text(clientID), .bytea(sealedSecret.combined), .text(sealedSecret.keyID),
                  try .jsonEncoded(settings), .bool(sealedSecret.boundToCustomer)])
    }

    public func integration(customerID: String) async throws -> StoredIntegration? {
        try await pool.query("SELECT * FROM integrations WHERE customer_id = $1", [.text(customerID)]).first.map(Self.integration)
    }

    public func integrations() async throws -> [StoredIntegration] {
        try await pool.query("SELECT * FROM integrations ORDER BY customer_id").map(Self.integration)
    }

    @discardableResult
    public func deleteIntegration(customerID: String) async throws -> Bool {
        try await pool.execute("DELETE FROM integrations WHERE customer_id = $1", [.text(customerID)]) > 0
    }

    public func recordTest(customerID: String, result: JSONValue) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try await pool.execute("UPDATE integrations SET last_test = $2::jsonb, last_tested_at = now() WHERE customer_id = $1",
                               [.text(customerID), .json(String(decoding: try encoder.encode(result), as: UTF8.self))])
    }

    static func integration(_ row: PostgresRow) throws -> StoredIntegration {
        StoredIntegration(
            customerID: try row["customer_id"].string(),
            instanceURL: try row["instance_url"].string(),
            clientID: try row["client_id"].string(),
            sealedSecret: SecretBox.Sealed(combined: try row["client_secret_sealed"].bytes(), keyID: try row["secret_key_id"].string(),
                                           boundToCustomer: try row["secret_bound_to_customer"].bool()),
            settings: try row["settings"].json(IntegrationSettings.self),
            lastTest: row["last_test"].isNull ? nil : try row["last_test"].json(JSONValue.self),
            lastTestedAt: try row["last_tested_at"].optionalDate(),
            updatedAt: try row["updated_at"].date())
    }

    /// A number that changes, in the same transaction, with every change to integrations and
    /// mappings (a trigger on both tables); nil when there is none to read: a database not yet
    /// migrated to it (a worker started before `itsm-worker migrate`), or its row deleted.
    public func configurationVersion() async throws -> Int? {
        do {
            return try await pool.query("SELECT version FROM configuration_version").first.map { try $0["version"].int() }
        } catch let error as PostgresError where error.sqlState == "42P01" {
            return nil
        }
    }

    // MARK: Mappings

    public func saveMapping(_ stored: StoredMapping) async throws {
        try await pool.execute("""
            INSERT INTO alert_mappings (customer_id, network_id, alert_type, target_table, fields, group_key, group_window_seconds, group_resolve)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)
            ON CONFLICT (customer_id, network_id, alert_type) DO UPDATE SET
                target_table = EXCLUDED.target_table, fields = EXCLUDED.fields, group_key = EXCLUDED.group_key,
                group_window_seconds = EXCLUDED.group_window_seconds, group_resolve = EXCLUDED.group_resolve, updated_at = now()
            """, [.text(stored.customerID), .text(stored.networkID), .text(stored.alertType), .text(stored.mapping.table),
                  try .jsonEncoded(stored.mapping.fields), .text(stored.mapping.grouping?.key),
                  .int(stored.mapping.grouping.map { Int($0.window.seconds) }), .text(stored.mapping.grouping?.resolve.rawValue)])
    }

    public func mapping(customerID: String, networkID: String, alertType: String) async throws -> StoredMapping? {
        try await pool.query("SELECT * FROM alert_mappings WHERE customer_id = $1 AND network_id = $2 AND alert_type = $3",
                             [.text(customerID), .text(networkID), .text(alertType)]).first.map(Self.mapping)
    }

    /// The mappings of several keys in one query; a key without one is absent from the answer.
    func mappings(keys: [MappingKey]) async throws -> [MappingKey: StoredMapping] {
        // One lookup by key per wanted mapping, whatever the table's size: as a plain join, the
        // one plan made for any batch (generic plans) read the whole table into a hash while it
        // held a few thousand rows. `OFFSET 0` keeps the subquery from being flattened into one.
        let rows = try await pool.query("""
            SELECT m.* FROM unnest($1::text[], $2::text[], $3::text[]) AS k(customer_id, network_id, alert_type)
            CROSS JOIN LATERAL (
                SELECT * FROM alert_mappings m
                WHERE m.customer_id = k.customer_id AND m.network_id = k.network_id AND m.alert_type = k.alert_type
                OFFSET 0
            ) m
            """, [.array(keys.map { $0.customerID }), .array(keys.map { $0.networkID }), .array(keys.map { $0.alertType })])
        var found: [MappingKey: StoredMapping] = [:]
        for row in rows {
            let stored = try Self.mapping(row)
            found[MappingKey(customerID: stored.customerID, networkID: stored.networkID, alertType: stored.alertType)] = stored
        }
        return found
    }

    public func mappings(customerID: String? = nil, networkID: String? = nil) async throws -> [StoredMapping] {
        try await pool.query("""
            SELECT * FROM alert_mappings
            WHERE ($1::text IS NULL OR customer_id = $1) AND ($2::text IS NULL OR network_id = $2)
            ORDER BY customer_id, network_id, alert_type
            """, [.text(customerID), .text(networkID)]).map(Self.mapping)
    }

    @discardableResult
    public func deleteMapping(customerID: String, networkID: String, alertType: String) async throws -> Bool {
        try await pool.execute("DELETE FROM alert_mappings WHERE customer_id = $1 AND network_id = $2 AND alert_type = $3",
                               [.text(customerID), .text(networkID), .text(alertType)]) > 0
    }

    static func mapping(_ row: PostgresRow) throws -> StoredMapping {
        StoredMapping(customerID: try row["customer_id"].string(), networkID: try row["network_id"].string(),
                      alertType: try row["alert_type"].string(),
                      mapping: AlertMapping(table: try row["target_table"].string(), fields: try row["fields"].json([String: FieldRule].self),
                                            grouping: try grouping(row)))
    }

    private static func grouping(_ row: PostgresRow) throws -> AlertGrouping? {
        guard let key = try row["group_key"].optionalString() else { return nil }
        let window = try row["group_window_seconds"].optionalInt().map { Duration.seconds($0) } ?? AlertGrouping.defaultWindow
        let resolve = try row["group_resolve"].optionalString().flatMap(AlertGrouping.Resolve.init(rawValue:)) ?? .last
        return AlertGrouping(key: key, window: window, resolve: resolve)
    }
}

/// A mapping's key: customer, network and alert type.
struct MappingKey: Hashable, Sendable {
    let customerID: String
    let networkID: String
    let alertType: String
}
