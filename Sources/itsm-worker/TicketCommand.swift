import ArgumentParser
import Foundation
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Postgres

struct TicketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ticket", abstract: "Look at the tickets of an alert.", subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The alert's tickets and its audit trail: every ServiceNow call and decision.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Alert id.") var alert: String
        @Option(help: "Customer id (when alert ids repeat across customers).") var customer: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (configuration, logger) = try global.load()
            let (links, entries) = try await withConfigurationStore(configuration, logger: logger) { _, pool in
                let rows = try await pool.query("""
                    SELECT customer_id, status, number, sys_id, url, state, alert_status, warnings::text AS warnings, created_at
                    FROM ticket_links WHERE alert_id = $1 AND ($2::text IS NULL OR customer_id = $2) ORDER BY id
                    """, [.text(alert), .text(customer)])
                let links = try rows.map { row -> [String: String] in
                    ["customer_id": try row["customer_id"].string(), "status": try row["status"].string(),
                     "number": try row["number"].optionalString() ?? "-", "sys_id": try row["sys_id"].optionalString() ?? "-",
                     "url": try row["url"].optionalString() ?? "-", "state": IncidentState(rawValue: try row["state"].optionalString() ?? "-").label,
                     "alert_status": try row["alert_status"].string(), "warnings": try row["warnings"].string(),
                     "created_at": AlertEvent.formatTimestamp(try row["created_at"].date())]
                }
                let entries = try await AuditTrail(pool: pool, retention: configuration.auditRetention, logger: logger).entries(customerID: customer, alertID: alert)
                return (links, entries)
            }
            if json {
                struct View: Encodable { let tickets: [[String: String]]; let audit: [AuditEntry] }
                try printJSON(View(tickets: links, audit: entries))
                return
            }
            if links.isEmpty { print("no ticket for alert \(alert)") }
            for link in links {
                print("\(link["number"]!) (\(link["status"]!), \(link["state"]!), alert \(link["alert_status"]!)) customer \(link["customer_id"]!) \(link["url"]!) warnings \(link["warnings"]!)")
            }
            for entry in entries {
                let status = entry.status.map { " → \($0)" } ?? ""
                let duration = entry.durationMs.map { " \($0) ms" } ?? ""
                let detail = [entry.method, entry.table, entry.sysID].compactMap { $0 }.joined(separator: " ")
                print("\(AlertEvent.formatTimestamp(entry.at)) \(entry.kind) \(detail)\(status)\(duration)\(entry.message.map { " \($0)" } ?? "")")
            }
        }
    }
}
