import Foundation
import Logging
import ServiceNow
import ServiceNowSimulator
import Synchronization

/// Keeps every log line of a test, to check that no secret or token was logged.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { _ in CapturingHandler(logs: self) }
        logger.logLevel = .trace
        return logger
    }
}

struct CapturingHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let merged = self.metadata.merging(metadata ?? [:]) { _, new in new }
        logs.append("\(level) \(message) \(merged)")
    }
}

/// A simulator and a client pointed at it.
struct SimulatedInstance {
    let simulator: ServiceNowSimulator
    let client: ServiceNowClient
    let session: ServiceNowSession
    let instance: InstanceURL
    let logs: CapturedLogs

    static let clientID = "test-client"
    static let clientSecret = "s3cr3t-Client-Value"

    static func start(
        configure: (inout SimulatorConfiguration) -> Void = { _ in },
        client clientConfiguration: (inout ServiceNowClient.Configuration) -> Void = { _ in }
    ) async throws -> SimulatedInstance {
        var configuration = SimulatorConfiguration(clients: [
            SimulatedClient(clientID: clientID, clientSecret: clientSecret),
            SimulatedClient(clientID: "inactive-client", clientSecret: "x", active: false),
            SimulatedClient(clientID: "no-grant-client", clientSecret: "y", grantEnabled: false),
        ])
        configure(&configuration)
        let logs = CapturedLogs()
        let simulator = ServiceNowSimulator(configuration: configuration, logger: logs.logger("simulator"))
        let url = try await simulator.start()
        var settings = ServiceNowClient.Configuration()
        settings.requestTimeout = .seconds(5)
        clientConfiguration(&settings)
        let client = ServiceNowClient(configuration: settings, logger: logs.logger("servicenow"))
        let instance = try InstanceURLPolicy(allowInsecure: true).validate(url)
        let session = client.session(instance: instance, credentials: ServiceNowCredentials(clientID: clientID, clientSecret: clientSecret))
        return SimulatedInstance(simulator: simulator, client: client, session: session, instance: instance, logs: logs)
    }

    func stop() async {
        await client.shutdown()
        await simulator.stop()
    }

    func session(clientID: String, secret: String) -> ServiceNowSession {
        client.session(instance: instance, credentials: ServiceNowCredentials(clientID: clientID, clientSecret: secret))
    }

    func tokenRequests() async -> Int {
        await simulator.store.requests().filter { $0.path == "/oauth_token.do" }.count
    }

    func apiRequests() async -> [SimulatorRequest] {
        await simulator.store.requests().filter { $0.path.hasPrefix("/api/") }
    }
}
