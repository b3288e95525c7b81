import ArgumentParser
import ITSMCore
import ITSMWorker

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Poll ServiceNow for changes made there and publish them (--once: one cycle, then exit).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Run one cycle over every integration and exit.") var once = false

    func run() async throws {
        guard once else { throw fail("the sync runs continuously inside `itsm-worker run`; use `sync --once` for a single cycle") }
        let (configuration, logger) = try global.load()
        let runtime = try await WorkerRuntime.start(configuration: configuration, roles: [.sync, .outbox], logger: logger)
        let reports = await runtime.sync.syncAll()
        var published = 0
        while let count = try? await runtime.outboxRelay.relayBatch(), count > 0 { published += count }
        await runtime.close()
        for report in reports {
            print("\(report.customerID): \(report.outcome), \(report.ticketsChecked) open tickets, \(report.listRequests) list requests, \(report.changes) changes, \(report.deleted) deleted\(report.error.map { ", error: \($0)" } ?? "")")
        }
        print("\(published) events published")
        if reports.contains(where: { $0.outcome == "failed" }) { throw ExitCode.failure }
    }
}
