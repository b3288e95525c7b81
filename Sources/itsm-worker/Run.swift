import ArgumentParser
import Dispatch
import Foundation
import Synchronization
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
        // The service group shuts down gracefully on the first SIGTERM/SIGINT; a second one means
        // "now": exit without waiting for the grace period.
        let impatience = SecondSignalExit(logger: logger)
        let runtime = try await WorkerRuntime.start(configuration: configuration, roles: roles, logger: logger)
        logger.info("worker started", metadata: ["roles": "\(roles.map(\.rawValue).sorted().joined(separator: ","))", "worker_id": "\(configuration.workerID)"])
        try await runtime.run()
        withExtendedLifetime(impatience) {}
        logger.info("worker stopped")
    }
}

/// Exits the process on the second SIGTERM or SIGINT.
final class SecondSignalExit: @unchecked Sendable {
    // @unchecked: the sources are created in init and never changed; the counter is atomic.
    private var sources: [any DispatchSourceSignal] = []
    private let count = SignalCount()

    init(logger: Logger) {
        for signalNumber in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [count] in
                if count.value.add(1, ordering: .relaxed).newValue >= 2 {
                    logger.warning("second signal: exiting without waiting for work in flight")
                    exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}

final class SignalCount: Sendable {
    let value = Atomic<Int>(0)
}
