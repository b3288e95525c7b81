import Foundation
import ITSMCore
import JSONText
import Postgres

extension ConfigurationStore {
    /// Stores a Test Connection result (its JSON) on the integration and queues
    /// `integration.tested`, in one transaction.
    public func recordTest(customerID: String, result: Data) async throws {
        let event = IntegrationTestedEvent(customerID: customerID, result: try JSONDecoder().decode(JSONValue.self, from: result))
        try await pool.withTransaction { connection in
            try await connection.execute("UPDATE integrations SET last_test = $2::jsonb, last_tested_at = now() WHERE customer_id = $1",
                                         [.text(customerID), .json(String(decoding: result, as: UTF8.self))])
            try await TicketStore.enqueue(connection, eventID: event.eventID, routingKey: "integration.tested", payload: event.encoded())
        }
    }
}
