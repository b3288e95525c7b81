import ArgumentParser
import ITSMWorker
import Logging

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
        let runtime = try await WorkerRuntime.start(configuration: configuration, roles: roles, logger: logger)
        logger.info("worker started", metadata: ["roles": "\(roles.map(\.rawValue).sorted().joined(separator: ","))", "worker_id": "\(configuration.workerID)"])
        try await runtime.run()
        logger.info("worker stopped")
    }
}
