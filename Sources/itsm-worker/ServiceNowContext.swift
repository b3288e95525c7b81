import Foundation
import ITSMCore
import ITSMPostgres
import ITSMServiceNow
import ITSMWorker
import Logging
import Postgres
import ServiceNow

/// What the one-shot commands that talk to ServiceNow need: the stores, the client and the
/// resolver, without RabbitMQ.
struct ServiceNowContext {
    let pool: PostgresPool
    let store: ConfigurationStore
    let client: ServiceNowClient
    let resolver: IntegrationResolver
    let metadata: InstanceMetadata

    static func with<T>(_ configuration: WorkerConfiguration, logger: Logger, _ body: (ServiceNowContext) async throws -> T) async throws -> T {
        var postgres = try PostgresConfiguration(url: configuration.databaseURL)
        postgres.maximumConnections = 2
        postgres.applicationName = "itsm-worker cli"
        let pool = PostgresPool(configuration: postgres, logger: logger)
        var settings = ServiceNowClient.Configuration()
        settings.requestTimeout = configuration.requestTimeout
        settings.concurrencyPerInstance = configuration.instanceConcurrency
        settings.addressPolicy = configuration.connectAddressPolicy
        settings.proxy = configuration.serviceNowProxy
        settings.additionalTrustRootsFile = configuration.serviceNowCAFile
        let client = ServiceNowClient(configuration: settings, logger: logger)
        let store = ConfigurationStore(pool: pool)
        let secrets = try configuration.secretKey.map { try SecretBox(currentKey: $0, previousKeys: configuration.previousSecretKeys) }
        let resolver = IntegrationResolver(configuration: store, client: client,
                                           policy: configuration.instanceURLPolicy,
                                           secrets: secrets)
        let context = ServiceNowContext(pool: pool, store: store, client: client, resolver: resolver, metadata: InstanceMetadata(ttl: configuration.metadataCacheTTL))
        do {
            let result = try await body(context)
            await client.shutdown()
            await pool.close()
            return result
        } catch {
            await client.shutdown()
            await pool.close()
            throw error
        }
    }

    func resolved(_ customerID: String) async throws -> IntegrationResolver.Resolved {
        guard let integration = try await store.integration(customerID: customerID) else { throw fail("no integration for customer \(customerID)") }
        do { return try resolver.resolve(integration) } catch { throw fail(error.description) }
    }
}
