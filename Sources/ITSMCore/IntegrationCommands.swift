import Foundation
import Logging

/// What the `integration.test` and `integration.fields` commands do, whoever delivers them:
/// each returns the reply's JSON.
public protocol IntegrationCommands: Sendable {
    /// Runs Test Connection, stores the result on the integration and queues
    /// `integration.tested`.
    func test(customerID: String, logger: Logger) async throws -> Data
    /// A table's fields with type, mandatory flag, max length, reference and choices.
    func fields(customerID: String, table: String) async throws -> Data
}
