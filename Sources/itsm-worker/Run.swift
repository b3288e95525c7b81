import ArgumentParser
import Foundation
import ITSMWorker
import Logging
import UnixSignals

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the worker: consume alerts and status events, publish ticket events, sync ServiceNow.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Comma-separated roles: alerts, status, sync, outbox (default: all).") var roles: String = "alerts,status,sync,outbox"

    func run() async throws {
        let (configuration, logger) = try global.load()
        let roles: Set<WorkerRole>
        do { roles = try WorkerRole.parse(self.roles) } catch { throw fail(error.description, code: configurationExitCode) }
        if configuration.secretKey == nil {
            logger.warning("ITSM_SECRET_KEY is not set: integrations cannot be read, so no ticket can be created")
        }
        // The service group shuts down gracefully on the first SIGTERM/SIGINT; a second one means
        // "now": exit without waiting for the grace period.
        let impatience = Task {
            var seen = 0
            for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                seen += 1
                guard seen >= 2 else { continue }
                logger.warning("second signal: exiting without waiting for work in flight")
                Foundation.exit(130)
            }
        }
        defer { impatience.cancel() }
        let runtime = try await WorkerRuntime.start(configuration: configuration, roles: roles, logger: logger)
        let executor = await EventLoopExecutor.active ? "event-loops" : "dispatch"
        logger.info("worker started", metadata: ["roles": "\(roles.map(\.rawValue).sorted().joined(separator: ","))", "worker_id": "\(configuration.workerID)",
                                                 "executor": "\(executor)", "event_loops": "\(EventLoopExecutor.loopCount)"])
        try await runtime.run()
        logger.info("worker stopped")
    }
}
