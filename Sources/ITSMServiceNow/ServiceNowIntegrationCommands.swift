import Foundation
import ITSMCore
import ITSMPostgres
import Logging
import ServiceNow

/// The integration commands against the customer's instance: Test Connection (its result kept
/// in the configuration store, `integration.tested` queued with it) and the field listing.
public struct ServiceNowIntegrationCommands: IntegrationCommands {
    let tester: ConnectionTester
    let resolver: IntegrationResolver
    let metadata: InstanceMetadata
    /// Woken when a result queued `integration.tested`, so it goes out now.
    let outbox: OutboxSignal

    public init(tester: ConnectionTester, resolver: IntegrationResolver, metadata: InstanceMetadata, outbox: OutboxSignal) {
        self.tester = tester
        self.resolver = resolver
        self.metadata = metadata
        self.outbox = outbox
    }

    public func test(customerID: String, logger: Logger) async throws -> Data {
        guard let integration = try await resolver.configuration.integration(customerID: customerID) else {
            let result = ConnectionTestResult(customerID: customerID, instanceURL: "", status: "failed", testedAt: AlertEvent.formatTimestamp(Date()),
                                              checks: [ConnectionCheck(name: "integration", status: .failed, durationMs: 0,
                                                                       cause: "no integration is stored for this customer", remedy: "Create it with integration set.")])
            return result.encoded()
        }
        let result = await tester.test(integration)
        try await resolver.configuration.recordTest(customerID: result.customerID, result: result.encoded())
        outbox.notify()
        logger.info("Test Connection finished", metadata: ["status": "\(result.status)"])
        return result.encoded()
    }

    public func fields(customerID: String, table: String) async throws -> Data {
        struct Reply: Encodable {
            let schema = "itsm.fields.v1"
            let customer_id: String
            let table: String
            let fields: [ServiceNowField]?
            let error: String?
        }
        var reply = Reply(customer_id: customerID, table: table, fields: nil, error: nil)
        if let integration = try await resolver.configuration.integration(customerID: customerID) {
            do {
                let resolved = try resolver.resolve(integration)
                reply = Reply(customer_id: customerID, table: table, fields: try await metadata.fields(customerID: customerID, table: table, session: resolved.session), error: nil)
            } catch let error as IntegrationResolver.Unusable {
                reply = Reply(customer_id: customerID, table: table, fields: nil, error: error.description)
            } catch let error as ServiceNowError where !error.isRetryable {
                reply = Reply(customer_id: customerID, table: table, fields: nil, error: error.description)
            }
        } else {
            reply = Reply(customer_id: customerID, table: table, fields: nil, error: "no integration is stored for this customer")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(reply)
    }
}
