import ArgumentParser
import ITSMServiceNow
import ITSMWorker
import ServiceNow

struct ServiceNowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "servicenow", abstract: "Read a customer's instance metadata.", subcommands: [Fields.self])

    struct Fields: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a table's fields: type, mandatory, max length, reference, choices.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Customer id.") var customer: String
        @Option(help: "Table.") var table: String = "incident"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (configuration, logger) = try global.load()
            let fields = try await ServiceNowContext.with(configuration, logger: logger) { context -> [ServiceNowField] in
                let resolved = try await context.resolved(customer)
                do {
                    return try await context.metadata.fields(customerID: customer, table: table, session: resolved.session)
                } catch {
                    throw fail("cannot read \(table)'s fields: \(error)")
                }
            }
            if json { try printJSON(fields); return }
            for field in fields {
                var line = "\(field.name)\t\(field.type)\(field.mandatory ? "\tmandatory" : "")\(field.maxLength.map { "\tmax \($0)" } ?? "")"
                if let reference = field.reference { line += "\t→ \(reference)" }
                if !field.choices.isEmpty { line += "\tchoices: \(field.choices.map(\.value).joined(separator: ", "))" }
                print(line)
            }
        }
    }
}
