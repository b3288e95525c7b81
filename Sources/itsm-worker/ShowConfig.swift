import ArgumentParser
import ITSMWorker
import Postgres

struct ShowConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Print the effective configuration, secrets masked.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let (configuration, _) = try global.load()
        for (name, value) in configuration.summary { print("\(name)=\(value)") }
    }
}
