import ArgumentParser
import Foundation
import ITSMWorker
import Logging

/// The demo and the ServiceNow simulator, in their own binary: the production `itsm-worker`
/// does not link the simulator.
@main
struct ITSMDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "itsm-demo",
        abstract: "The worker against a simulated ServiceNow, and the simulator on its own.",
        subcommands: [Demo.self, SimulateServiceNow.self],
        defaultSubcommand: Demo.self
    )
}

/// EX_CONFIG from sysexits.h: the configuration is unusable.
let configurationExitCode: Int32 = 78

/// Writes one line to standard error and returns the exit code to throw.
func fail(_ message: String, code: Int32 = 1) -> ExitCode {
    FileHandle.standardError.write(Data("itsm-demo: \(message)\n".utf8))
    return ExitCode(code)
}

/// The worker's configuration (environment over an optional file), with logging set up.
func loadConfiguration(file: String?) throws -> (WorkerConfiguration, Logger) {
    let configuration: WorkerConfiguration
    do {
        configuration = try WorkerConfiguration(environment: ProcessInfo.processInfo.environment, file: file)
    } catch {
        throw fail(error.description, code: configurationExitCode)
    }
    WorkerLogging.bootstrap(configuration)
    return (configuration, Logger(label: "itsm-demo"))
}
