import Foundation
import ServiceNow
import ServiceNowSimulator
import TestSupport

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
        client clientConfiguration: (inout ServiceNowClient.Configuration) -> Void = { _ in },
        host: String = "127.0.0.1"
    ) async throws -> SimulatedInstance {
        var configuration = SimulatorConfiguration(clients: [
            SimulatedClient(clientID: clientID, clientSecret: clientSecret),
            SimulatedClient(clientID: "inactive-client", clientSecret: "x", active: false),
            SimulatedClient(clientID: "no-grant-client", clientSecret: "y", grantEnabled: false),
        ])
        configure(&configuration)
        let logs = CapturedLogs()
        let simulator = ServiceNowSimulator(configuration: configuration, logger: logs.logger("simulator"))
        // Listening on 127.0.0.1 either way; `host` is the name the client uses.
        let url = try await simulator.start().replacingOccurrences(of: "127.0.0.1", with: host)
        var settings = ServiceNowClient.Configuration()
        settings.requestTimeout = .seconds(5)
        // The simulator listens on loopback, which only insecure mode may reach.
        settings.addressPolicy = ConnectAddressPolicy(allowLoopback: true)
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
