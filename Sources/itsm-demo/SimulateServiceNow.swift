import ArgumentParser
import Foundation
import ITSMWorker
import Logging
import ServiceNowSimulator

struct SimulateServiceNow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate-servicenow",
        abstract: "Run a simulated ServiceNow instance (OAuth, Table API, metadata, fault injection) until Ctrl-C.")

    @Option(help: "Port to listen on (0 picks a free one).") var port: Int = 8080
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "The demo OAuth client's id.") var clientID: String = "demo-client"
    @Option(help: "The demo OAuth client's secret (a throwaway value for the simulator, not a real credential).")
    var clientSecret: String = "demo-secret"
    @Option(help: "Latency added to every answer, e.g. 200ms.") var latency: String = "0ms"
    @Option(help: "An assignment group a business rule refuses (repeatable).") var rejectAssignmentGroup: [String] = []

    func run() async throws {
        guard let latency = parseDuration(latency) else { throw fail("--latency: expected a duration such as 200ms") }
        var configuration = SimulatorConfiguration(clients: [SimulatedClient(clientID: clientID, clientSecret: clientSecret)])
        configuration.baseLatency = latency
        configuration.rejectedAssignmentGroups = Set(rejectAssignmentGroup)
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let simulator = ServiceNowSimulator(configuration: configuration)
        let url = try await simulator.start(host: host, port: port)
        // Written unbuffered: scripts read these lines while the simulator keeps running.
        FileHandle.standardOutput.write(Data("""
            ServiceNow simulator listening on \(url)
            client_id=\(clientID)
            client_secret=\(clientSecret)

            """.utf8))
        await TerminationSignal.wait()
        await simulator.stop()
    }
}
