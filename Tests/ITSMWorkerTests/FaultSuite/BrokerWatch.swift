import AMQP
import Foundation
import Logging
import Synchronization

/// Probes the broker every 2 s for the whole run and keeps each window in which it took no
/// connection. A broker starved of CPU (as the workers' spinning relays once starved it) stops
/// answering handshakes for minutes, also well after a restart it had come back from; the
/// workers' reconnection attempts are judged against the time the broker really was
/// unavailable, not only the restarts the suite caused.
final class BrokerWatch: Sendable {
    private final class Windows: Sendable { let list = Mutex<[Duration]>([]) }
    private let windows = Windows()
    private let probing: Task<Void, Never>

    init(url: String) throws {
        let configuration = try AMQPConfiguration(url: url)
        var logger = Logger(label: "broker-watch")
        logger.logLevel = .critical
        let windows = self.windows
        probing = Task {
            var downSince: ContinuousClock.Instant?
            while !Task.isCancelled {
                let attempt = ContinuousClock.now
                if let probe = try? await AMQPConnection.connect(configuration, logger: logger) {
                    await probe.close()
                    if let since = downSince { windows.list.withLock { $0.append(ContinuousClock.now - since) } }
                    downSince = nil
                } else if downSince == nil {
                    downSince = attempt
                }
                try? await Task.sleep(for: .seconds(2))
            }
            if let since = downSince { windows.list.withLock { $0.append(ContinuousClock.now - since) } }
        }
    }

    /// Stops probing; the windows of unavailability, in order.
    func stop() async -> [Duration] {
        probing.cancel()
        await probing.value
        return windows.list.withLock { $0 }
    }
}
