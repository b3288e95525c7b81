import Caching
import Foundation
import ITSMCore
import ITSMPostgres
import ServiceNow

/// Turns a customer's stored integration into a ServiceNow session: opens the sealed secret and
/// checks the instance URL against the policy.
public struct IntegrationResolver: Sendable {
    public let configuration: ConfigurationStore
    public let client: ServiceNowClient
    public let policy: InstanceURLPolicy
    /// What the message path reads (cached); commands and the sync read the store directly.
    public let cache: ConfigurationCache
    let secrets: SecretBox?
    private let recent = Recent()

    /// The last resolution per customer, reused while the stored fields it came from are the
    /// same: opening the secret and parsing the URL for every message was 2 % of the worker's CPU.
    private final class Recent: Sendable {
        struct Entry {
            let instanceURL: String
            let clientID: String
            let sealedSecret: SecretBox.Sealed
            let proxy: String?
            let instance: InstanceURL
            let session: ServiceNowSession
        }
        let entries = BoundedCache<String, Entry>(capacity: ConfigurationCache.capacity)
    }

    public init(configuration: ConfigurationStore, client: ServiceNowClient, policy: InstanceURLPolicy, secrets: SecretBox?,
                cacheTTL: Duration = .zero) {
        self.configuration = configuration
        self.cache = ConfigurationCache(store: configuration, ttl: cacheTTL)
        self.client = client
        self.policy = policy
        self.secrets = secrets
    }

    public struct Resolved: Sendable {
        public let integration: StoredIntegration
        public let instance: InstanceURL
        public let session: ServiceNowSession
    }

    public typealias Unusable = IntegrationUnusable

    public func resolve(_ integration: StoredIntegration) throws(Unusable) -> Resolved {
        if let entry = recent.entries.value(for: integration.customerID), entry.instanceURL == integration.instanceURL,
           entry.clientID == integration.clientID, entry.sealedSecret == integration.sealedSecret, entry.proxy == integration.settings.proxy {
            return Resolved(integration: integration, instance: entry.instance, session: entry.session)
        }
        guard let secrets else { throw Unusable(code: "secret_key_missing", message: SecretBoxError.noKey.description) }
        let secret: String
        do { secret = try secrets.open(integration.sealedSecret, customerID: integration.customerID) } catch {
            throw Unusable(code: "secret_unreadable", message: error.description)
        }
        let instance: InstanceURL
        do { instance = try policy.validate(integration.instanceURL) } catch {
            throw Unusable(code: "instance_url_refused", message: error.message ?? "instance URL refused")
        }
        let route: ServiceNowProxyChoice
        do { route = try integration.settings.proxyChoice } catch {
            throw Unusable(code: "proxy_refused", message: error.message ?? "the integration's proxy is not usable")
        }
        let session = client.session(instance: instance, credentials: ServiceNowCredentials(clientID: integration.clientID, clientSecret: secret),
                                     proxy: route)
        let entry = Recent.Entry(instanceURL: integration.instanceURL, clientID: integration.clientID, sealedSecret: integration.sealedSecret,
                                 proxy: integration.settings.proxy, instance: instance, session: session)
        recent.entries.set(entry, for: integration.customerID)
        return Resolved(integration: integration, instance: instance, session: session)
    }
}
