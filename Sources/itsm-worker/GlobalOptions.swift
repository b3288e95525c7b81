import ArgumentParser
import Foundation
import ITSMWorker
import Logging

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "A file of KEY=value settings; the environment overrides it.")
    var config: String?

    /// Reads the configuration and sets up logging, or exits with a one-line reason.
    func load() throws -> (WorkerConfiguration, Logger) {
        let configuration: WorkerConfiguration
        do {
            configuration = try WorkerConfiguration(environment: ProcessInfo.processInfo.environment, file: config)
        } catch {
            throw fail(error.description, code: configurationExitCode)
        }
        EventLoopExecutor.install(loops: configuration.eventLoops)
        WorkerLogging.bootstrap(configuration)
        let logger = Logger(label: "itsm-worker")
        for name in configuration.unknownSettings {
            logger.warning("unknown setting ignored", metadata: ["variable": "\(name)"])
        }
        return (configuration, logger)
    }
}
