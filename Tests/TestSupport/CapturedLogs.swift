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
