import Foundation
import Postgres

extension ConfigurationStore {
    /// Reseals every stored secret with the current key and bound to its customer (secrets sealed
    /// before binding too); returns how many changed.
    public func resealSecrets(with box: SecretBox) async throws -> Int {
        var changed = 0
        for integration in try await integrations()
        where integration.sealedSecret.keyID != box.currentKeyID || !integration.sealedSecret.boundToCustomer {
            let customer = integration.customerID
            let sealed = try box.seal(try box.open(integration.sealedSecret, customerID: customer), customerID: customer)
            try await pool.execute("""
                UPDATE integrations SET client_secret_sealed = $2, secret_key_id = $3, secret_bound_to_customer = $4, updated_at = now()
                WHERE customer_id = $1
                """, [.text(customer), .bytea(sealed.combined), .text(sealed.keyID), .bool(sealed.boundToCustomer)])
            changed += 1
        }
        return changed
    }
}
