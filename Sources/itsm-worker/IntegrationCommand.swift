import ArgumentParser
import Foundation
import ITSMCore
import ITSMPostgres
import ITSMServiceNow
import ITSMWorker
import ServiceNow

struct IntegrationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integration",
        abstract: "Manage customers' ServiceNow integrations (one per customer).",
        subcommands: [Set.self, Test.self, List.self, Show.self, Delete.self, RotateKeys.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace a customer's integration. The client secret is read from a file, standard input (-) or an environment variable, never from the command line.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Customer id.") var customer: String
        @Option(help: "The instance's base URL, e.g. https://acme.service-now.com") var instanceURL: String
        @Option(help: "OAuth client_id.") var clientID: String
        @Option(help: "File holding the client secret, or - for standard input.") var clientSecretFile: String?
        @Option(help: "Name of an environment variable holding the client secret.") var clientSecretEnv: String?
        @Option(help: "Incident state set on acknowledge (default 2, In Progress).") var acknowledgedState: String?
        @Option(help: "Incident state set on resolve (default 6, Resolved).") var resolvedState: String?
        @Option(help: "close_code sent when resolving (default 'Solution provided').") var closeCode: String?
        @Option(help: "close_notes template over the event: {{actor}}, {{note}}, {{alert.id}}.") var closeNotes: String?
        @Option(help: "Where notes go: work_notes (internal, default) or comments (customer-visible).") var notesField: String?
        @Option(help: "This integration's route to its instance: none (direct), or http://host:port (a proxy without credentials). Default: HTTPS_PROXY / NO_PROXY.") var proxy: String?
        @Option(help: "Report work notes and comments people write in ServiceNow back to Ceburu (ticket.commented): true (default) or false.")
        var syncNotes: String?

        func run() async throws {
            let (configuration, logger) = try global.load()
            let secret = try readSecret(file: clientSecretFile, environmentVariable: clientSecretEnv)
            let policy = configuration.instanceURLPolicy
            let instance: InstanceURL
            do { instance = try policy.validate(instanceURL) } catch { throw fail("--instance-url: \(error.message ?? "refused")") }
            guard let key = configuration.secretKey else { throw fail(SecretBoxError.noKey.description, code: configurationExitCode) }
            let box = try SecretBox(currentKey: key, previousKeys: configuration.previousSecretKeys)
            var settings = IntegrationSettings()
            if let acknowledgedState { settings.acknowledgedState = IncidentState(rawValue: acknowledgedState) }
            if let resolvedState { settings.resolvedState = IncidentState(rawValue: resolvedState) }
            if let closeCode { settings.closeCode = closeCode }
            if let closeNotes { settings.closeNotes = closeNotes }
            if let notesField {
                guard notesField == "work_notes" || notesField == "comments" else { throw fail("--notes-field: expected work_notes or comments") }
                settings.notesField = notesField
            }
            if let proxy {
                if proxy != "none" {
                    let parsed: ServiceNowProxy
                    do { parsed = try ServiceNowProxy(url: proxy) } catch { throw fail("--proxy: \(error.message ?? "not a proxy URL")") }
                    guard parsed.username == nil && parsed.password == nil else {
                        throw fail("--proxy: no credentials here (they would be stored in plain text); use HTTPS_PROXY for an authenticated proxy")
                    }
                }
                settings.proxy = proxy
            }
            if let syncNotes {
                guard let value = Bool(syncNotes) else { throw fail("--sync-notes: expected true or false") }
                settings.syncNotes = value
            }
            let sealed = try box.seal(secret, customerID: customer)
            try await withConfigurationStore(configuration, logger: logger) { store, _ in
                try await store.saveIntegration(customerID: customer, instanceURL: instance.description, clientID: clientID,
                                                sealedSecret: sealed, settings: settings)
            }
            print("integration for \(customer) saved: \(instance.description), client_id \(clientID), secret sealed with key \(sealed.keyID)")
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Test Connection: URL policy, reachability, token, table access, metadata. Exits non-zero when a check fails.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Customer id.") var customer: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (configuration, logger) = try global.load()
            let result = try await ServiceNowContext.with(configuration, logger: logger) { context -> ConnectionTestResult in
                guard let integration = try await context.store.integration(customerID: customer) else { throw fail("no integration for customer \(customer)") }
                let result = await ConnectionTester(resolver: context.resolver).test(integration)
                try await context.store.recordTest(customerID: result.customerID, result: result.encoded())
                return result
            }
            print(json ? String(decoding: result.encoded(pretty: true), as: UTF8.self) : result.text)
            if !result.passed { throw ExitCode.failure }
        }
    }

    struct RotateKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-keys",
            abstract: "Reseal every client secret with ITSM_SECRET_KEY; the old key must be listed in ITSM_SECRET_KEY_PREVIOUS.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let (configuration, logger) = try global.load()
            guard let key = configuration.secretKey else { throw fail(SecretBoxError.noKey.description, code: configurationExitCode) }
            let box = try SecretBox(currentKey: key, previousKeys: configuration.previousSecretKeys)
            let changed = try await withConfigurationStore(configuration, logger: logger) { store, _ in try await store.resealSecrets(with: box) }
            print("\(changed) secret(s) resealed with key \(box.currentKeyID)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List integrations.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (configuration, logger) = try global.load()
            let integrations = try await withConfigurationStore(configuration, logger: logger) { store, _ in try await store.integrations() }
            if json {
                try printJSON(integrations.map(IntegrationView.init))
            } else {
                if integrations.isEmpty { print("no integrations") }
                for integration in integrations {
                    print("\(integration.customerID)\t\(integration.instanceURL)\tclient_id=\(integration.clientID)\tlast test: \(IntegrationView(integration).lastTestSummary)")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one integration (the secret masked).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Customer id.") var customer: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (configuration, logger) = try global.load()
            guard let integration = try await withConfigurationStore(configuration, logger: logger, { store, _ in
                try await store.integration(customerID: customer)
            }) else { throw fail("no integration for customer \(customer)") }
            let view = IntegrationView(integration)
            if json { try printJSON(view); return }
            print("""
                customer:       \(view.customer_id)
                instance_url:   \(view.instance_url)
                client_id:      \(view.client_id)
                client_secret:  \(view.client_secret) (sealed with key \(view.secret_key_id))
                settings:       acknowledge → state \(view.settings.acknowledgedState), resolve → state \(view.settings.resolvedState) with close_code '\(view.settings.closeCode)', notes in \(view.settings.notesField)
                proxy:          \(view.settings.proxy ?? "HTTPS_PROXY / NO_PROXY")
                notes sync:     \(view.settings.syncNotes ? "on (ticket.commented)" : "off")
                last test:      \(view.lastTestSummary)
                updated_at:     \(AlertEvent.formatTimestamp(integration.updatedAt))
                """)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a customer's integration (its mappings stay).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Customer id.") var customer: String

        func run() async throws {
            let (configuration, logger) = try global.load()
            let deleted = try await withConfigurationStore(configuration, logger: logger) { store, _ in try await store.deleteIntegration(customerID: customer) }
            guard deleted else { throw fail("no integration for customer \(customer)") }
            print("integration for \(customer) deleted")
        }
    }
}
