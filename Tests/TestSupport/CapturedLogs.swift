import Foundation
import Logging
import Synchronization

/// Keeps every log line of a test, to check that no secret or token was logged.
public final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    public func append(_ line: String) { lines.withLock { $0.append(line) } }
    public var all: [String] { lines.withLock { $0 } }

    public func logger(_ label: String, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { _ in self.handler() }
        logger.logLevel = level
        return logger
    }

    /// The handler behind ``logger(_:level:)``, for tests that wrap it in another handler.
    public func handler() -> any LogHandler { CapturingHandler(logs: self) }
}

struct CapturingHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { _, new in new }
        logs.append("\(event.level) \(event.message) \(merged)")
    }
}

