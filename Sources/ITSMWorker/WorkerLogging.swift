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
        // Byte by byte, ASCII case folded: this runs for every metadata key of every line, and
        // Foundation's substring search (what `contains` on strings resolves to) was a
        // noticeable share of the worker's CPU.
        var key = key
        return key.withUTF8 { bytes in
            sensitiveWords.contains { word in
                guard word.count <= bytes.count else { return false }
                return (0...(bytes.count - word.count)).contains { start in
                    word.indices.allSatisfy { offset in
                        let byte = bytes[start + offset]
                        return (byte >= 65 && byte <= 90 ? byte | 0x20 : byte) == word[offset]
                    }
                }
            }
        }
    }

    private static let sensitiveWords: [[UInt8]] = ["secret", "token", "password", "authorization", "credential", "cookie"].map { Array($0.utf8) }

    static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.reduce(into: [:]) { result, entry in
            result[entry.key] = isSensitive(entry.key) ? "[redacted]" : entry.value
        }
    }
}
