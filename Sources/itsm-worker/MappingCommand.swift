import ArgumentParser
import Foundation
import ITSMCore
import ITSMWorker

struct MappingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapping",
        abstract: "Manage alert mappings (per customer, network and alert type).",
        subcommands: [Set.self, List.self, Delete.self, Validate.self])

    struct Key: ParsableArguments {
        @Option(help: "Customer id.") var customer: String
        @Option(help: "Network id.") var network: String
        @Option(help: "Alert type, e.g. cpu_usage (compared exactly).") var alertType: String
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or replace a mapping from a fields file.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var key: Key
        @Option(help: "Target table.") var table: String = "incident"
        @Option(help: "The fields file (JSON).") var fields: String

        func run() async throws {
            let (configuration, logger) = try global.load()
            let mapping = try loadMapping(table: table, path: fields)
            try await withConfigurationStore(configuration, logger: logger) { store, _ in
                try await store.saveMapping(StoredMapping(customerID: key.customer, networkID: key.network, alertType: key.alertType, mapping: mapping))
            }
            print("mapping saved: \(key.customer) / \(key.network) / \(key.alertType) → \(table) (\(mapping.fields.count) fields)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List mappings.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this customer.") var customer: String?
        @Option(help: "Only this network.") var network: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (configuration, logger) = try global.load()
            let mappings = try await withConfigurationStore(configuration, logger: logger) { store, _ in
                try await store.mappings(customerID: customer, networkID: network)
            }
            if json {
                try printJSON(mappings.map { MappingView(customer_id: $0.customerID, network_id: $0.networkID, alert_type: $0.alertType,
                                                         table: $0.mapping.table, fields: $0.mapping.fields) })
                return
            }
            if mappings.isEmpty { print("no mappings") }
            for stored in mappings {
                print("\(stored.customerID)\t\(stored.networkID)\t\(stored.alertType)\t→ \(stored.mapping.table)\tfields: \(stored.mapping.fields.keys.sorted().joined(separator: ", "))")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a mapping.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var key: Key

        func run() async throws {
            let (configuration, logger) = try global.load()
            let deleted = try await withConfigurationStore(configuration, logger: logger) { store, _ in
                try await store.deleteMapping(customerID: key.customer, networkID: key.network, alertType: key.alertType)
            }
            guard deleted else { throw fail("no such mapping") }
            print("mapping deleted")
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a fields file (or a stored mapping) without saving anything.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Target table.") var table: String = "incident"
        @Option(help: "A fields file to check.") var fields: String?
        @Option(help: "Customer id of a stored mapping.") var customer: String?
        @Option(help: "Network id of a stored mapping.") var network: String?
        @Option(help: "Alert type of a stored mapping.") var alertType: String?

        func run() async throws {
            let (configuration, logger) = try global.load()
            let mapping: AlertMapping
            if let fields {
                mapping = try loadMapping(table: table, path: fields)
            } else if let customer, let network, let alertType {
                guard let stored = try await withConfigurationStore(configuration, logger: logger, { store, _ in
                    try await store.mapping(customerID: customer, networkID: network, alertType: alertType)
                }) else { throw fail("no such mapping") }
                do { try stored.mapping.validate() } catch { throw fail("invalid mapping: \(error)") }
                mapping = stored.mapping
            } else {
                throw fail("give --fields FILE, or --customer, --network and --alert-type of a stored mapping")
            }
            print("mapping is valid: \(mapping.fields.count) fields for \(mapping.table)")
        }
    }
}

struct MappingView: Encodable {
    let customer_id: String
    let network_id: String
    let alert_type: String
    let table: String
    let fields: [String: FieldRule]
}

func loadMapping(table: String, path: String) throws -> AlertMapping {
    guard let data = FileManager.default.contents(atPath: path) else { throw fail("--fields: cannot read \(path)") }
    do {
        return try AlertMapping.parse(table: table, fieldsJSON: data)
    } catch {
        throw fail("invalid mapping: \(error)")
    }
}
