import ArgumentParser
import Foundation
import ITSMCore
import ITSMPostgres
import ITSMServiceNow
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

    /// A mapping's grouping options.
    struct Grouping: ParsableArguments {
        @Option(help: "A template over the alert (e.g. '{{network_id}}:{{alert.type}}'): alerts whose key renders alike share one incident.")
        var groupKey: String?
        @Option(help: "How long after its incident opened a group takes new alerts (e.g. 15m).", transform: { text in
            guard let duration = parseDurationArgument(text) else { throw ValidationError("--group-window: '\(text)' is not a duration (e.g. 15m)") }
            return duration
        })
        var groupWindow: Duration?
        @Option(help: "When a grouped incident is resolved: last (its last alert resolved), first, or never.")
        var groupResolve: String?

        func apply(to mapping: inout AlertMapping) throws {
            guard let groupKey else {
                if groupWindow != nil || groupResolve != nil { throw fail("--group-window and --group-resolve need --group-key") }
                return
            }
            var resolve = AlertGrouping.Resolve.last
            if let groupResolve {
                guard let parsed = AlertGrouping.Resolve(rawValue: groupResolve) else { throw fail("--group-resolve: one of last, first, never") }
                resolve = parsed
            }
            mapping.grouping = AlertGrouping(key: groupKey, window: groupWindow ?? AlertGrouping.defaultWindow, resolve: resolve)
            do throws(MappingError) { try mapping.validate() } catch { throw fail("invalid mapping: \(error)") }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or replace a mapping from a fields file.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var key: Key
        @Option(help: "Target table.") var table: String = "incident"
        @Option(help: "The fields file (JSON).") var fields: String
        @OptionGroup var grouping: Grouping
        @Flag(inversion: .prefixedNo, help: "Check the mapping against the customer's instance first (skipped with a warning when it is unreachable).")
        var validate = true

        func run() async throws {
            let (configuration, logger) = try global.load()
            var mapping = try loadMapping(table: table, path: fields)
            try grouping.apply(to: &mapping)
            try await ServiceNowContext.with(configuration, logger: logger) { context in
                if validate {
                    if let integration = try await context.store.integration(customerID: key.customer), let resolved = try? context.resolver.resolve(integration) {
                        let sample = MappingValidator.sampleAlert(customerID: key.customer, networkID: key.network, alertType: key.alertType)
                        let report = await MappingValidator(metadata: context.metadata).validate(mapping, customerID: key.customer, session: resolved.session, sample: sample)
                        printReport(report, dryRun: false)
                        if !report.valid { throw fail("mapping not saved: \(report.errors.count) problem(s); fix them or use --no-validate") }
                    } else {
                        print("warning: no usable integration for \(key.customer); only the offline checks were made")
                    }
                }
                try await context.store.saveMapping(StoredMapping(customerID: key.customer, networkID: key.network, alertType: key.alertType, mapping: mapping))
            }
            print("mapping saved: \(key.customer) / \(key.network) / \(key.alertType) → \(table) (\(mapping.fields.count) fields"
                  + (mapping.grouping.map { ", grouped by '\($0.key)'" } ?? "") + ")")
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
                                                         table: $0.mapping.table, fields: $0.mapping.fields, group_key: $0.mapping.grouping?.key,
                                                         group_window_seconds: $0.mapping.grouping.map { Int($0.window.seconds) },
                                                         group_resolve: $0.mapping.grouping?.resolve.rawValue) })
                return
            }
            if mappings.isEmpty { print("no mappings") }
            for stored in mappings {
                print("\(stored.customerID)\t\(stored.networkID)\t\(stored.alertType)\t→ \(stored.mapping.table)\tfields: \(stored.mapping.fields.keys.sorted().joined(separator: ", "))"
                      + (stored.mapping.grouping.map { "\tgrouped by '\($0.key)' for \($0.window.words), resolve: \($0.resolve.rawValue)" } ?? ""))
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
        static let configuration = CommandConfiguration(
            abstract: "Check a mapping (a fields file, or a stored one) against the customer's instance and print the payload a sample alert would produce. Nothing is created.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Customer id (whose instance is checked).") var customer: String
        @Option(help: "Network id.") var network: String = "sample-network"
        @Option(help: "Alert type.") var alertType: String = "cpu_usage"
        @Option(help: "Target table (with --fields).") var table: String = "incident"
        @Option(help: "A fields file to check instead of the stored mapping.") var fields: String?
        @OptionGroup var grouping: Grouping
        @Flag(help: "Only the checks that need no instance.") var offline = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (configuration, logger) = try global.load()
            let report = try await ServiceNowContext.with(configuration, logger: logger) { context -> MappingValidator.Report in
                var mapping: AlertMapping
                if let fields {
                    mapping = try loadMapping(table: table, path: fields)
                    try grouping.apply(to: &mapping)
                } else {
                    guard let stored = try await context.store.mapping(customerID: customer, networkID: network, alertType: alertType) else {
                        throw fail("no mapping for \(customer) / \(network) / \(alertType)")
                    }
                    mapping = stored.mapping
                }
                let sample = MappingValidator.sampleAlert(customerID: customer, networkID: network, alertType: alertType)
                var report: MappingValidator.Report
                if offline {
                    report = MappingValidator.Report()
                    do throws(MappingError) { try mapping.validate() } catch { report.errors.append(.init(field: error.field, message: error.reason)) }
                    report.samplePayload = mapping.render(sample)
                } else {
                    let resolved = try await context.resolved(customer)
                    report = await MappingValidator(metadata: context.metadata).validate(mapping, customerID: customer, session: resolved.session, sample: sample)
                }
                report.behaviour = behaviour(of: mapping, sample: sample, storm: configuration.storm)
                return report
            }
            if json { try printJSON(report) } else { printReport(report, dryRun: true) }
            if !report.valid { throw ExitCode.failure }
        }
    }
}

/// The mapping's grouping and the worker's storm protection, in words.
func behaviour(of mapping: AlertMapping, sample: AlertEvent, storm: StormProtection) -> [String] {
    var lines: [String] = []
    if let grouping = mapping.grouping {
        lines.append("grouping: \(grouping.explanation)")
        lines.append("grouping: the sample alert's key is '\(grouping.renderKey(sample) ?? "")'"
                     + (grouping.renderKey(sample) == nil ? " (empty: such an alert opens its own incident)" : ""))
    } else {
        lines.append("grouping: none; each alert opens its own incident (or joins its network's storm incident)")
    }
    lines.append("storm protection: \(storm.explanation)")
    return lines
}

func printReport(_ report: MappingValidator.Report, dryRun: Bool) {
    for finding in report.errors { print("error: \(finding.field.map { "\($0): " } ?? "")\(finding.message)") }
    for finding in report.warnings { print("warning: \(finding.field.map { "\($0): " } ?? "")\(finding.message)") }
    for (field, sysID) in report.references.sorted(by: { $0.key < $1.key }) { print("reference: \(field) → \(sysID)") }
    for line in report.behaviour { print(line) }
    if dryRun {
        print("payload for a sample alert (nothing created):")
        for (field, value) in report.samplePayload.sorted(by: { $0.key < $1.key }) { print("  \(field): \(value)") }
    }
    print(report.valid ? "mapping is valid" : "mapping is NOT valid")
}

func loadMapping(table: String, path: String) throws -> AlertMapping {
    guard let data = FileManager.default.contents(atPath: path) else { throw fail("--fields: cannot read \(path)") }
    do {
        return try AlertMapping.parse(table: table, fieldsJSON: data)
    } catch {
        throw fail("invalid mapping: \(error)")
    }
}
