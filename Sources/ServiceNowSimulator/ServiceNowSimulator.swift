import Foundation
import NIOFoundationCompat
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A ServiceNow instance for tests, the demo and benchmarks: a real HTTP server speaking the
/// OAuth token endpoint and the Table API as ``SimulatorStore`` describes, with fault injection.
///
/// In-process: `let simulator = ServiceNowSimulator(); let url = try await simulator.start()`,
/// control it through `simulator.store`, and `await simulator.stop()`. From another process, the
/// same controls are under `/sim/…` (see the README).
public final class ServiceNowSimulator: Sendable {
    public let store: SimulatorStore
    private let logger: Logger
    private let running = Mutex<(task: Task<Void, any Error>?, group: ServiceGroup?, url: String?)>((nil, nil, nil))

    public init(configuration: SimulatorConfiguration = SimulatorConfiguration(), logger: Logger = Logger(label: "servicenow-simulator")) {
        self.store = SimulatorStore(configuration: configuration)
        self.logger = logger
    }

    /// The base URL once started.
    public var url: String? { running.withLock { $0.url } }

    /// Starts listening (port 0 picks a free port) and returns the base URL.
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> String {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let tls = await store.configuration.tls
        var server = HTTPServerBuilder.http1()
        if let tls {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChainFile).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.privateKeyFile, format: .pem)
            server = try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        }
        let app = Application(
            responder: SimulatorResponder(store: store),
            server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "servicenow-simulator"),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? port)
                continuation.finish()
            },
            logger: logger)
        // Our own group, so that stop() shuts the server down gracefully instead of cancelling it
        // (which Hummingbird reports as errors); a request hanging on purpose is cancelled after a second.
        var configuration = ServiceGroupConfiguration(services: [app], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(1)
        let group = ServiceGroup(configuration: configuration)
        let task = Task { try await group.run() }
        var iterator = stream.makeAsyncIterator()
        guard let boundPort = await iterator.next() else {
            task.cancel()
            throw CancellationError()
        }
        let shownHost = host == "0.0.0.0" ? "127.0.0.1" : host
        let url = "\(tls == nil ? "http" : "https")://\(shownHost):\(boundPort)"
        running.withLock { $0 = (task, group, url) }
        return url
    }

    /// Runs until the task is cancelled (the CLI's foreground mode).
    public func stop() async {
        let (task, group) = running.withLock { state -> (Task<Void, any Error>?, ServiceGroup?) in
            defer { state = (nil, nil, nil) }
            return (state.task, state.group)
        }
        await group?.triggerGracefulShutdown()
        _ = await task?.result
    }
}
