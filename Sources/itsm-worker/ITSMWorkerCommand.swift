import ArgumentParser
import Foundation
import ITSMWorker

@main
enum Main {
    static func main() async {
        // The executor is installed by `GlobalOptions.load()`, once the number of loops is known.
        await ITSMWorkerCommand.main()
    }
}

struct ITSMWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "itsm-worker",
        abstract: "Keeps Ceburu alerts and ServiceNow incidents in step.",
        subcommands: [Run.self, Sync.self, Migrate.self, IntegrationCommand.self, MappingCommand.self, ServiceNowCommand.self, ShowConfig.self, TicketCommand.self, Probe.self]
    )
}

/// EX_CONFIG from sysexits.h: the configuration is unusable.
let configurationExitCode: Int32 = 78

/// Writes one line to standard error and returns the exit code to throw.
func fail(_ message: String, code: Int32 = 1) -> ExitCode {
    FileHandle.standardError.write(Data("itsm-worker: \(message)\n".utf8))
    return ExitCode(code)
}

/// A duration argument (`200ms`, `30s`, `5m`).
func parseDurationArgument(_ text: String) -> Duration? { parseDuration(text) }
