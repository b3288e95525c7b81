import Foundation
import Logging

/// Sets up swift-log once per process from the configuration: readable lines in a terminal,
/// one JSON object per line in production (`ITSM_LOG_FORMAT=json`).
public enum WorkerLogging {
    public static func bootstrap(_ configuration: WorkerConfiguration) {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let json = configuration.logFormat == .json
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return RedactingLogHandler(wrapped: handler)
        }
    }

    /// Metadata keys whose values are never written, whatever a caller puts there.
    static func isSensitive(_ key: String) -> Bool {
        let lower = key.lowercased()
        return ["secret", "token", "password", "authorization", "credential", "cookie"].contains { lower.contains($0) }
    }

    static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.reduce(into: [:]) { result, entry in
            result[entry.key] = isSensitive(entry.key) ? "[redacted]" : entry.value
        }
    }
}
